import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createStripeBilling } from "../../src/providers/index.js";
import { ProviderError } from "../../src/providers/providerError.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { stripeRules } from "../fakes/stripeRules.js";
import { testConfig } from "../support/databases.js";
import { seedStripe } from "./stripeSeed.js";

/**
 * Stripe refuses a POST whose idempotency key another request is still using (409
 * idempotency_key_in_use) without running it or saving anything; once the first finishes, the key
 * replays its answer. The fake models it from stripe-rules.json, and the adapter treats the refusal as
 * "not known yet" (the first request may still apply), never as a failure.
 */
const fake = new StripeFake();
const creditPath = "/v1/customers/cus_active/balance_transactions";
const credits = () => fake.balanceTransactions.filter((t) => t.customer === "cus_active");

/** A POST with this key that the fake holds (applied, answer delayed) while the test does something else. */
function inFlight(key: string, body: string, holdMs: number): Promise<Response> {
  fake.delayAfterApply(holdMs, 1, { method: "POST", path: creditPath });
  return fetch(`${fake.url}${creditPath}`, {
    method: "POST",
    headers: { authorization: `Bearer ${fake.secretKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": key },
    body,
  });
}

/** Resolves once the fake has seen `n` requests to the credit endpoint (the held one has arrived). */
async function arrived(n: number): Promise<void> {
  while (fake.arrivals.filter((a) => a.path === creditPath).length < n) await new Promise((r) => setTimeout(r, 5));
}

beforeAll(() => fake.start());
afterAll(() => fake.close());
beforeEach(async () => {
  await fake.idle();
  fake.clearFaults();
  fake.requests.length = 0;
  fake.arrivals.length = 0;
  fake.reset();
  seedStripe(fake, Date.now());
});

describe("Stripe idempotency_key_in_use (fake and adapter)", () => {
  it("the fake refuses a second POST with a key still in use, 409 in Stripe's shape, saving nothing; after the first finishes the key replays it", async () => {
    const body = "amount=-300&currency=usd";
    const first = inFlight("held-key", body, 400);
    await arrived(1);
    const second = await fetch(`${fake.url}${creditPath}`, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.secretKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": "held-key" },
      body,
    });
    const rule = stripeRules().idempotency.keyInUse;
    expect(second.status).toBe(rule.status);
    expect(await second.json()).toEqual({ error: { type: "invalid_request_error", code: "idempotency_key_in_use", message: expect.stringContaining("another in-progress request using this Idempotent Key") } });
    expect((await first).status).toBe(200);
    const third = await fetch(`${fake.url}${creditPath}`, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.secretKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": "held-key" },
      body,
    });
    expect([third.status, third.headers.get("idempotent-replayed")]).toEqual([200, "true"]);
    expect(credits()).toHaveLength(1);
    // Another key is not held by it.
    const other = inFlight("held-key-a", body, 200);
    await arrived(4);
    const free = await fetch(`${fake.url}${creditPath}`, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.secretKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": "held-key-b" },
      body,
    });
    expect(free.status).toBe(200);
    await other;
  });

  it("the adapter meeting a key in use retries with the same key, and when the first is still running reports the outcome unknown (not rejected); later the same key gets the first request's answer", async () => {
    const billing = createStripeBilling({ config: testConfig({ ...fake.env(), PROVIDER_TIMEOUT_MS: "2000", PROVIDER_MAX_RETRIES: "2" }), policy: { baseDelayMs: 5, maxDelayMs: 20 } });
    const ctx = { idempotencyKey: "steward:staff:billing.credit_apply:key-in-use" };
    // The body the adapter sends, so the held request is the same request (as Stripe still running the first attempt would be).
    const body = new URLSearchParams({ amount: "-500", currency: "usd", description: "Support credit", "metadata[steward_key]": ctx.idempotencyKey }).toString();
    const held = inFlight(ctx.idempotencyKey, body, 600);
    await arrived(1);
    const err = await billing.applyCredit({ id: "acc_active", billingCustomerId: "cus_active" }, 500, "Support credit", ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    const failure = err as ProviderError;
    expect([failure.keyInUse, failure.effectUnknown, failure.retryable, failure.status]).toEqual([true, true, true, 409]);
    expect(failure.code).not.toBe("rejected");
    // Each retry carried the same key and was refused without running.
    const refused = fake.requestsTo("POST", creditPath).filter((r) => r.status === 409);
    expect(refused.length).toBe(3);
    expect(new Set(refused.map((r) => r.headers["idempotency-key"]))).toEqual(new Set([ctx.idempotencyKey]));
    expect((await held).status).toBe(200);
    const settled = await billing.applyCredit({ id: "acc_active", billingCustomerId: "cus_active" }, 500, "Support credit", ctx);
    expect(settled.balanceCents).toBe(-500);
    expect(credits()).toHaveLength(1);
    expect(fake.requestsTo("POST", creditPath).at(-1)?.replayed).toBe(true);
  });

  it("a key freed while the adapter retries: the retry gets the first request's answer and nothing applies twice", async () => {
    const billing = createStripeBilling({ config: testConfig({ ...fake.env(), PROVIDER_TIMEOUT_MS: "2000", PROVIDER_MAX_RETRIES: "3" }), policy: { baseDelayMs: 150, maxDelayMs: 400 } });
    const ctx = { idempotencyKey: "steward:staff:billing.credit_apply:key-freed" };
    const body = new URLSearchParams({ amount: "-700", currency: "usd", description: "Support credit", "metadata[steward_key]": ctx.idempotencyKey }).toString();
    const held = inFlight(ctx.idempotencyKey, body, 100);
    await arrived(1);
    // Backoff is random (full jitter); four attempts over up to ~1 s outlast a 100 ms hold in practice, and a loss is still not a failure.
    const result = await billing.applyCredit({ id: "acc_active", billingCustomerId: "cus_active" }, 700, "Support credit", ctx).catch((e: unknown) => e);
    await held;
    if (result instanceof ProviderError) expect(result.keyInUse).toBe(true);
    else expect(result).toEqual({ balanceCents: -700 });
    expect(credits()).toHaveLength(1);
  });
});
