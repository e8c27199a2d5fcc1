import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StripeFake } from "../fakes/stripeFake.js";

/**
 * The fakes' latency models a provider across the internet: each answer goes out `latencyMs` after its
 * request arrived. The fake does its work on arrival, inside that time, as a remote service's servers
 * would; on its one thread, work done after the wait would queue the answers of a fan-out behind each
 * other and add to every caller's latency (bench:context prints how late they go out).
 */
const fake = new StripeFake();
const LATENCY = 150;

beforeAll(async () => {
  await fake.start();
  fake.addCustomer({ id: "cus_latency", email: "lat@acme.example" });
});
afterAll(() => fake.close());

const get = (path: string) => fetch(`${fake.env().STRIPE_BASE_URL}${path}`, { headers: { authorization: `Bearer ${fake.env().STRIPE_SECRET_KEY}` } });

describe("fake provider latency", () => {
  it("a fan-out of nine calls: every answer goes out the set latency after its own arrival", async () => {
    fake.latencyMs = LATENCY;
    fake.requests.length = 0;
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 9 }, () => get("/v1/customers/cus_latency")));
    const elapsed = Date.now() - started;
    fake.latencyMs = 0;
    expect(answers.map((a) => a.status)).toEqual(Array(9).fill(200));
    expect(fake.requests).toHaveLength(9);
    for (const r of fake.requests) {
      expect(r.sentAt).toBeDefined();
      expect((r.sentAt ?? 0) - r.at).toBeGreaterThanOrEqual(LATENCY);
      // Not held twice (timers fire late on a loaded machine, hence the margin).
      expect((r.sentAt ?? 0) - r.at).toBeLessThan(2 * LATENCY);
    }
    // No upper bound here: the client's own sockets and scheduling are not the fake's latency.
    expect(elapsed).toBeGreaterThanOrEqual(LATENCY);
  });

  it("without latency the answer is not held", async () => {
    fake.latencyMs = 0;
    fake.requests.length = 0;
    expect((await get("/v1/customers/cus_latency")).status).toBe(200);
    const [r] = fake.requests;
    expect((r?.sentAt ?? Infinity) - (r?.at ?? 0)).toBeLessThan(LATENCY);
  });
});
