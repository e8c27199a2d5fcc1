import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createStripeBilling } from "../../src/providers/index.js";
import { ProviderCaller } from "../../src/providers/providerCall.js";
import { StripeBilling } from "../../src/providers/stripe/stripeBilling.js";
import { createStripeClient } from "../../src/providers/stripe/stripeClient.js";
import { classifyStripeError } from "../../src/providers/stripe/stripeErrors.js";
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

/**
 * A POST with this key that the fake applies and then holds (its answer not sent) until `release`:
 * the client lets go, and the fake finishes the request and frees the key.
 */
function inFlight(key: string, body: string): { release: () => Promise<void> } {
  fake.delayAfterApply(60_000, 1, { method: "POST", path: creditPath });
  const letGo = new AbortController();
  const sent = fetch(`${fake.url}${creditPath}`, {
    method: "POST",
    headers: { authorization: `Bearer ${fake.secretKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": key },
    body,
    signal: letGo.signal,
  }).catch(() => null);
  return {
    release: async () => {
      letGo.abort();
      await sent;
      await fake.idle();
    },
  };
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
    const first = inFlight("held-key", body);
    await arrived(1);
    const second = await fetch(`${fake.url}${creditPath}`, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.secretKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": "held-key" },
      body,
    });
    const rule = stripeRules().idempotency.keyInUse;
    expect(second.status).toBe(rule.status);
    expect(await second.json()).toEqual({ error: { type: "invalid_request_error", code: "idempotency_key_in_use", message: expect.stringContaining("another in-progress request using this Idempotent Key") } });
    await first.release();
    const third = await fetch(`${fake.url}${creditPath}`, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.secretKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": "held-key" },
      body,
    });
    expect([third.status, third.headers.get("idempotent-replayed")]).toEqual([200, "true"]);
    expect(credits()).toHaveLength(1);
    // Another key is not held by it.
    const other = inFlight("held-key-a", body);
    await arrived(4);
    const free = await fetch(`${fake.url}${creditPath}`, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.secretKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": "held-key-b" },
      body,
    });
    expect(free.status).toBe(200);
    await other.release();
  });

  it("the adapter meeting a key in use retries with the same key, and when the first is still running reports the outcome unknown (not rejected); later the same key gets the first request's answer", async () => {
    const billing = createStripeBilling({ config: testConfig({ ...fake.env(), PROVIDER_TIMEOUT_MS: "2000", PROVIDER_MAX_RETRIES: "2" }), policy: { baseDelayMs: 5, maxDelayMs: 20 } });
    const ctx = { idempotencyKey: "steward:staff:billing.credit_apply:key-in-use" };
    // The body the adapter sends, so the held request is the same request (as Stripe still running the first attempt would be).
    const body = new URLSearchParams({ amount: "-500", currency: "usd", description: "Support credit", "metadata[steward_key]": ctx.idempotencyKey }).toString();
    const held = inFlight(ctx.idempotencyKey, body);
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
    await held.release();
    const settled = await billing.applyCredit({ id: "acc_active", billingCustomerId: "cus_active" }, 500, "Support credit", ctx);
    expect(settled.balanceCents).toBe(-500);
    expect(credits()).toHaveLength(1);
    expect(fake.requestsTo("POST", creditPath).at(-1)?.replayed).toBe(true);
  });

  it("a key freed while the adapter waits to retry: the retry gets the first request's answer and nothing applies twice", async () => {
    const config = testConfig({ ...fake.env(), PROVIDER_TIMEOUT_MS: "2000" });
    const ctx = { idempotencyKey: "steward:staff:billing.credit_apply:key-freed" };
    const body = new URLSearchParams({ amount: "-700", currency: "usd", description: "Support credit", "metadata[steward_key]": ctx.idempotencyKey }).toString();
    const held = inFlight(ctx.idempotencyKey, body);
    await arrived(1);
    // The first request finishes while the caller backs off after the 409.
    const waits: number[] = [];
    const caller = new ProviderCaller("stripe", { timeoutMs: 2_000, maxRetries: 2, baseDelayMs: 10, maxDelayMs: 20 }, classifyStripeError, {
      sleep: async (ms) => {
        waits.push(ms);
        await held.release();
      },
    });
    const billing = new StripeBilling(createStripeClient({ secretKey: config.STRIPE_SECRET_KEY as string, baseUrl: config.STRIPE_BASE_URL, timeoutMs: 2_000 }), caller);
    const result = await billing.applyCredit({ id: "acc_active", billingCustomerId: "cus_active" }, 700, "Support credit", ctx);
    expect(result).toEqual({ balanceCents: -700 });
    expect(waits).toHaveLength(1);
    // Recorded as they finish: the adapter's refused attempt, the held first request, the adapter's retry answered from the key.
    expect(fake.requestsTo("POST", creditPath).map((r) => [r.status, r.replayed ?? false])).toEqual([
      [409, false],
      [200, false],
      [200, true],
    ]);
    expect(credits()).toHaveLength(1);
  });
});
