import type { Express } from "express";
import request from "supertest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RequesterContext } from "../../../shared/schemas/context.js";
import { createApp } from "../../src/app.js";
import { Auth0Fake } from "../fakes/auth0Fake.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, lookupTestDeps, sessionFor, SETUP_TIMEOUT_MS, type TestDeps } from "./fixtures.js";

/** Longest the context waits for one part in these tests; the fakes are told to be slower than this. */
const PART_TIMEOUT_MS = 2_000;

describe.each(databaseKinds)("requester context through the Auth0 and Stripe fakes on %s", (kind) => {
  const auth0 = new Auth0Fake();
  const stripe = new StripeFake();
  let deps: TestDeps;
  let app: Express;
  let token: string;
  let email: string;

  const context = (headers: Record<string, string> = {}) =>
    request(app).get("/api/context").query({ email, externalId: "usr_demo_001_3" }).set("Authorization", `Bearer ${token}`).set(headers);

  beforeAll(async () => {
    await Promise.all([auth0.start(), stripe.start()]);
    deps = await lookupTestDeps(
      kind,
      { ...auth0.env(), ...stripe.env(), CONTEXT_PART_TIMEOUT_MS: String(PART_TIMEOUT_MS), PROVIDER_TIMEOUT_MS: "5000", PROVIDER_MAX_RETRIES: "1" },
      { providerPolicy: { baseDelayMs: 5, maxDelayMs: 20 } },
    );
    app = createApp(deps);
    token = await sessionFor(app, deps, AGENT.support.zendeskUserId);
    const user = await deps.database.db.selectFrom("users").selectAll().where("id", "=", "usr_demo_001_3").executeTakeFirstOrThrow();
    email = user.email;
    auth0.addUser({ user_id: user.idp_id ?? "", email, name: user.name, blockedFor: [{ identifier: email, ip: "198.51.100.7" }], sessions: 2 });
    const price = stripe.addPrice({ plan: "business", interval: "month", unitAmount: 4_900 });
    stripe.addCustomer({ id: "cus_demo_001", email: "billing@acme.example" });
    stripe.addSubscription({ id: "sub_demo_001", customer: "cus_demo_001", price: price.id, quantity: 25, status: "active" });
  }, SETUP_TIMEOUT_MS);
  afterEach(() => {
    auth0.clearFaults();
    stripe.clearFaults();
    auth0.latencyMs = 0;
    stripe.latencyMs = 0;
  });
  afterAll(async () => {
    await deps.database.close();
    await Promise.all([auth0.close(), stripe.close()]);
  });

  it("reads identity from Auth0 and billing from Stripe, and says so", async () => {
    const res = await context();
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const body = res.body as RequesterContext;
    expect(body.identity.status, JSON.stringify(body.identity)).toBe("ok");
    expect(body.sources).toMatchObject({ identity: "auth0", billing: "stripe", account: "steward" });
    expect(body.identity).toMatchObject({ status: "ok", source: "auth0", data: { locked: true, activeSessions: 2 } });
    expect(body.billing).toMatchObject({ status: "ok", source: "stripe", data: { customerId: "cus_demo_001", plan: "business", seats: 25, status: "active" } });
    expect(auth0.requestsTo("GET", /^\/api\/v2\/users\//).length).toBeGreaterThan(0);
    expect(stripe.requestsTo("GET", "/v1/customers/cus_demo_001").length).toBeGreaterThan(0);
  });

  it("still answers 200 when Auth0 fails: identity carries the error, the rest is there", async () => {
    auth0.failNext(50, 503);
    const res = await context({ "X-Request-Id": "req-ctx-auth0-down", "X-Ticket-Id": "1001" });
    expect(res.status).toBe(200);
    const body = res.body as RequesterContext;
    expect(body.identity).toMatchObject({ status: "error", source: "auth0", error: { code: "unavailable", provider: "auth0" } });
    for (const part of ["account", "billing", "activity", "audit"] as const) expect(body[part].status, part).toBe("ok");
    const entry = await deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", "req-ctx-auth0-down").executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ action: "context.view", outcome: "succeeded", error: "identity: unavailable", ticket_id: "1001" });
  });

  it("gives up on a slow Stripe after the part timeout and returns the rest", async () => {
    stripe.delayNext(PART_TIMEOUT_MS * 3, 10);
    const started = Date.now();
    const res = await context();
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    const body = res.body as RequesterContext;
    expect(body.billing).toMatchObject({ status: "error", source: "stripe", error: { code: "timeout", provider: "stripe" } });
    expect(body.identity.status).toBe("ok");
    expect(body.account.status).toBe("ok");
    expect(elapsed).toBeGreaterThanOrEqual(PART_TIMEOUT_MS);
    expect(elapsed).toBeLessThan(PART_TIMEOUT_MS * 3);
  });

  it("asks Auth0 and Stripe at the same time, not one after the other", async () => {
    await context(); // warm the Auth0 token so only data calls remain
    auth0.latencyMs = 250;
    stripe.latencyMs = 250;
    const since = Date.now();
    const res = await context();
    expect(res.status).toBe(200);
    const firstAuth0 = Math.min(...auth0.requests.filter((r) => r.at >= since && r.path.startsWith("/api/v2/")).map((r) => r.at));
    const firstStripe = Math.min(...stripe.requests.filter((r) => r.at >= since).map((r) => r.at));
    // Sequential calls would start Stripe only after Auth0 answered (≥ 250 ms later).
    expect(Math.abs(firstStripe - firstAuth0)).toBeLessThan(200);
  });
});
