import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BillingSummary } from "../../../shared/schemas/context.js";
import { createStripeBilling } from "../../src/providers/index.js";
import type { BillingPort } from "../../src/providers/ports.js";
import { providerFailure } from "./providerFailure.js";
import { createStripeClient, STRIPE_API_VERSION } from "../../src/providers/stripe/stripeClient.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { testConfig } from "../support/databases.js";
import { seedStripe } from "./stripeSeed.js";

const DAY = 86_400_000;
const fake = new StripeFake();
let billing: BillingPort;
let now = Date.now();
/** Stripe timestamps are whole seconds. */
const isoAt = (offsetDays: number) => new Date(Math.floor((now + offsetDays * DAY) / 1000) * 1000).toISOString();
const account = (customerId: string | null) => ({ id: `acc_${customerId ?? "none"}`, billingCustomerId: customerId });

function portFor(env: Record<string, string> = {}): BillingPort {
  return createStripeBilling({ config: testConfig({ ...fake.env(), PROVIDER_TIMEOUT_MS: "2000", PROVIDER_MAX_RETRIES: "2", ...env }), policy: { baseDelayMs: 10 } });
}

const failure = providerFailure;

beforeAll(async () => {
  await fake.start();
  billing = portFor();
});
afterAll(() => fake.close());
beforeEach(async () => {
  await fake.idle();
  fake.clearFaults();
  fake.latencyMs = 0;
  fake.requests.length = 0;
  now = Date.now();
  seedStripe(fake, now);
});

describe("Stripe billing adapter reads (stripe SDK against the local Stripe fake)", () => {
  it("summarizes an active customer: plan from the price lookup key, seats, MRR, next invoice, invoices", async () => {
    const summary = BillingSummary.parse(await billing.getBilling(account("cus_active")));
    expect(summary).toEqual({
      customerId: "cus_active",
      subscriptionId: "sub_active",
      plan: "team",
      interval: "month",
      status: "active",
      trialEnd: null,
      seats: 5,
      currency: "usd",
      mrrCents: 14_500,
      cancelAtPeriodEnd: false,
      cancelAt: null,
      cancelRequestedAt: null,
      currentPeriodEnd: isoAt(12),
      addOnCents: 0,
      nextInvoice: { amountCents: 14_500, date: isoAt(12) },
      balanceCents: 0,
      recentInvoices: [3, 2, 1].map((k) => ({
        id: `in_active_${k}`,
        number: `ACME-000${k}`,
        status: "paid",
        amountDueCents: 14_500,
        amountRemainingCents: 0,
        attemptCount: 1,
        nextPaymentAttempt: null,
        createdAt: isoAt(-30 * (4 - k)),
      })),
      dunning: null,
    });
    // The pinned API version goes on every request, and nothing is written.
    expect(fake.requests.every((r) => r.headers["stripe-version"] === STRIPE_API_VERSION)).toBe(true);
    expect(STRIPE_API_VERSION).toBe("2026-10-28.endive");
    expect(fake.requests.map((r) => `${r.method} ${r.path}`).sort()).toEqual(["GET /v1/customers/cus_active", "GET /v1/invoices", "GET /v1/subscriptions", "POST /v1/invoices/create_preview"]);
    // Since 2025-03-31.basil Stripe previews a named subscription only; the customer's "next invoice" is gone.
    expect(fake.requestsTo("POST", "/v1/invoices/create_preview")[0]?.body).toEqual({ customer: "cus_active", subscription: "sub_active" });
  });

  it("a customer read before gets its preview in the same round of calls as the subscription list, and only when that subscription is still the current one", async () => {
    const port = portFor();
    await port.getBilling(account("cus_active"));
    fake.latencyMs = 300;
    fake.requests.length = 0;
    expect(await port.getBilling(account("cus_active"))).toMatchObject({ subscriptionId: "sub_active", nextInvoice: { amountCents: 14_500 } });
    const [list] = fake.requestsTo("GET", "/v1/subscriptions");
    const [preview] = fake.requestsTo("POST", "/v1/invoices/create_preview");
    // Asked beside the list, not 300 ms after its answer.
    expect((preview?.at ?? Infinity) - (list?.at ?? 0)).toBeLessThan(150);

    // The subscription was replaced since: the preview asked for the old one is dropped, the new one's is used.
    fake.latencyMs = 0;
    fake.addSubscription({ id: "sub_replacement", customer: "cus_active", price: "price_team_month", quantity: 7, status: "active", periodEnd: new Date(now + 20 * DAY) });
    await fake.idle();
    fake.subscriptions.set("sub_active", { ...(fake.subscriptions.get("sub_active") as NonNullable<ReturnType<typeof fake.subscriptions.get>>), status: "canceled", ended_at: Math.floor(now / 1000) });
    fake.requests.length = 0;
    const replaced = await port.getBilling(account("cus_active"));
    expect(replaced).toMatchObject({ subscriptionId: "sub_replacement", seats: 7 });
    expect(fake.requestsTo("POST", "/v1/invoices/create_preview").map((r) => (r.body as { subscription: string }).subscription).sort()).toEqual(["sub_active", "sub_replacement"]);
    expect(replaced?.nextInvoice?.amountCents).toBe(7 * 2_900);
  });

  it("a multi-item subscription: seats and plan from the plan's item wherever it is listed, MRR and next invoice from every item", async () => {
    const summary = await billing.getBilling(account("cus_addons"));
    // 8 team seats at 29.00, SSO at 50.00, 3 storage packs at 10.00.
    expect(summary).toMatchObject({ plan: "team", seats: 8, interval: "month", mrrCents: 8 * 2_900 + 5_000 + 3 * 1_000, addOnCents: 8_000, nextInvoice: { amountCents: 31_200, date: isoAt(15) } });
    expect(fake.subscriptions.get("sub_addons")?.items.data[0]?.price.id).toBe("price_sso_month");
  });

  it("a subscription set to end on a date (cancel_at) is shown as ending then, with no next invoice", async () => {
    expect(await billing.getBilling(account("cus_cancel_at"))).toMatchObject({ status: "active", cancelAtPeriodEnd: true, cancelAt: isoAt(5), currentPeriodEnd: isoAt(20), nextInvoice: null });
  });

  it("past_due with failed attempts shows dunning: attempts, next retry, amount due", async () => {
    const summary = await billing.getBilling(account("cus_past_due"));
    expect(summary).toMatchObject({
      status: "past_due",
      plan: "business",
      seats: 15,
      mrrCents: 73_500,
      dunning: { failedAttempts: 3, nextRetryAt: isoAt(2), amountDueCents: 73_500 },
    });
    expect(summary?.recentInvoices.map((i) => [i.id, i.status, i.attemptCount, i.amountRemainingCents])).toEqual([
      ["in_past_due_open", "open", 3, 73_500],
      ["in_past_due_paid", "paid", 1, 0],
    ]);
  });

  it("a trial earns nothing yet and its first invoice comes when the trial ends", async () => {
    expect(await billing.getBilling(account("cus_trial"))).toMatchObject({ status: "trialing", trialEnd: isoAt(7), mrrCents: 0, nextInvoice: { amountCents: 29_000, date: isoAt(7) } });
  });

  it("a yearly subscription set to cancel: monthly MRR, no next invoice, credit balance", async () => {
    expect(await billing.getBilling(account("cus_yearly"))).toMatchObject({ interval: "year", mrrCents: 40_833, cancelAtPeriodEnd: true, nextInvoice: null, balanceCents: -2_500 });
  });

  it("a customer whose only subscription ended", async () => {
    expect(await billing.getBilling(account("cus_gone"))).toMatchObject({ subscriptionId: "sub_gone", status: "canceled", mrrCents: 0, nextInvoice: null });
  });

  it("not found: an unknown customer is ProviderError not_found; no customer id is null without a call", async () => {
    const err = await failure(billing.getBilling(account("cus_missing")));
    expect(err).toMatchObject({ provider: "stripe", code: "not_found", status: 404 });
    expect(err.toProblem()).toMatchObject({ status: 404, code: "provider_not_found" });
    fake.requests.length = 0;
    expect(await billing.getBilling(account(null))).toBeNull();
    expect(fake.requests).toHaveLength(0);
  });

  it("a customer not read before: three reads at once and the preview as soon as the subscription is known, two provider round trips", async () => {
    fake.latencyMs = 300;
    await portFor().getBilling(account("cus_active"));
    const first = fake.requests.filter((r) => r.method === "GET").map((r) => r.at);
    expect(first).toHaveLength(3);
    // Sequential calls would arrive at least one latency (300 ms) apart.
    expect(Math.max(...first) - Math.min(...first)).toBeLessThan(250);
    const preview = fake.requestsTo("POST", "/v1/invoices/create_preview")[0]?.at ?? 0;
    expect(preview - Math.min(...first)).toBeGreaterThanOrEqual(290);
    expect(preview - Math.min(...first)).toBeLessThan(600);
  });

  it("429 then success: waits the Retry-After the fake sent, then answers", async () => {
    fake.failNext(1, 429, { retryAfter: 1, path: "/v1/customers/cus_active" });
    const started = Date.now();
    expect((await billing.getBilling(account("cus_active")))?.customerId).toBe("cus_active");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    const calls = fake.requestsTo("GET", "/v1/customers/cus_active");
    expect(calls.map((r) => r.status)).toEqual([429, 200]);
    expect((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
  });

  it("500 on every attempt: tries 1 + PROVIDER_MAX_RETRIES times, then ProviderError unavailable", async () => {
    fake.failNext(3, 500, { path: "/v1/customers/cus_active" });
    const err = await failure(billing.getBilling(account("cus_active")));
    expect(err).toMatchObject({ provider: "stripe", code: "unavailable", status: 500, retryable: true, operation: "customers.retrieve" });
    expect(err.toProblem().status).toBe(502);
    expect(fake.requestsTo("GET", "/v1/customers/cus_active").map((r) => r.status)).toEqual([500, 500, 500]);
  });

  it("a slow answer becomes ProviderError timeout after PROVIDER_TIMEOUT_MS", async () => {
    fake.delayNext(5_000, 1, { path: "/v1/invoices/create_preview" });
    const started = Date.now();
    const err = await failure(billing.getBilling(account("cus_active")));
    expect(err).toMatchObject({ provider: "stripe", code: "timeout", operation: "invoices.createPreview" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_990);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("a wrong API key is misconfigured and not retried", async () => {
    const err = await failure(portFor({ STRIPE_SECRET_KEY: "sk_test_wrong" }).getBilling(account("cus_active")));
    expect(err).toMatchObject({ provider: "stripe", code: "misconfigured", status: 401, retryable: false });
    // The reads go out together and the first 401 answers the call: let the others land, and any retry (10 ms
    // base backoff, 2 retries) come and go, before counting.
    await fake.idle();
    await new Promise((r) => setTimeout(r, 200));
    await fake.idle();
    expect(fake.requestsTo("GET", "/v1/customers/cus_active").map((r) => r.status)).toEqual([401]);
  });
});

describe("Stripe billing writes", () => {
  const ctx = (key: string) => ({ idempotencyKey: key });

  it("applyCredit: the response is lost, the retry carries the same key, Stripe credits once", async () => {
    fake.dropNext(1, { method: "POST", path: "/v1/customers/cus_active/balance_transactions" });
    expect(await billing.applyCredit(account("cus_active"), 1_000, "Sorry for the outage", ctx("op-credit-1"))).toEqual({ balanceCents: -1_000 });
    const writes = fake.requestsTo("POST", "/v1/customers/cus_active/balance_transactions");
    expect(writes.map((w) => [w.fault ?? "ok", w.replayed ?? false, w.headers["idempotency-key"]])).toEqual([
      ["dropped", false, "op-credit-1"],
      ["ok", true, "op-credit-1"],
    ]);
    // The key also goes into metadata: the reconciler finds the credit by it when the key cannot settle it.
    expect(writes[0]?.body).toEqual({ amount: "-1000", currency: "usd", description: "Sorry for the outage", metadata: { steward_key: "op-credit-1" } });
    expect(await billing.findCredit!(account("cus_active"), ctx("op-credit-1"))).toEqual({ found: true, balanceCents: -1_000 });
    expect(await billing.findCredit!(account("cus_active"), ctx("op-credit-never"))).toEqual({ found: false });
    expect(fake.balanceTransactions).toHaveLength(1);
    expect(fake.customers.get("cus_active")?.balance).toBe(-1_000);

    // The same support action retried later: same key, no second credit. A new action credits again.
    expect(await billing.applyCredit(account("cus_active"), 1_000, "Sorry for the outage", ctx("op-credit-1"))).toEqual({ balanceCents: -1_000 });
    expect(fake.balanceTransactions).toHaveLength(1);
    expect(await billing.applyCredit(account("cus_active"), 500, "Goodwill", ctx("op-credit-2"))).toEqual({ balanceCents: -1_500 });
    expect(fake.balanceTransactions).toHaveLength(2);
  });

  it("a write that failed with 500 is retried with the same idempotency key and changes Stripe once", async () => {
    fake.failNext(1, 500, { method: "POST", path: "/v1/subscription_items/si_active" });
    const summary = await billing.changeSeats(account("cus_active"), 12, ctx("op-seats-1"));
    expect(summary.seats).toBe(12);
    const writes = fake.requestsTo("POST", "/v1/subscription_items/si_active");
    expect(writes.map((w) => [w.status, w.headers["idempotency-key"]])).toEqual([
      [500, "op-seats-1"],
      [200, "op-seats-1"],
    ]);
    expect(writes[1]?.body).toEqual({ quantity: "12", proration_behavior: "create_prorations" });
    expect(fake.subscriptions.get("sub_active")?.items.data[0]?.quantity).toBe(12);
  });

  it("reusing a key for different parameters is refused, as Stripe does", async () => {
    await billing.changeSeats(account("cus_active"), 6, ctx("op-seats-2"));
    const err = await failure(billing.changeSeats(account("cus_active"), 7, ctx("op-seats-2")));
    expect(err).toMatchObject({ code: "rejected", status: 400 });
    expect(fake.subscriptions.get("sub_active")?.items.data[0]?.quantity).toBe(6);
  });

  it("extendTrial moves trial_end (and the period) of a trialing subscription", async () => {
    const trialEnd = new Date(Math.floor((now + 21 * DAY) / 1000) * 1000);
    const summary = await billing.extendTrial(account("cus_trial"), trialEnd, ctx("op-trial-1"));
    expect(summary).toMatchObject({ status: "trialing", trialEnd: trialEnd.toISOString(), nextInvoice: { date: trialEnd.toISOString() } });
    const write = fake.requestsTo("POST", "/v1/subscriptions/sub_trial")[0];
    expect(write?.body).toEqual({ trial_end: String(trialEnd.getTime() / 1000), proration_behavior: "none" });
    expect(write?.headers["idempotency-key"]).toBe("op-trial-1");
    expect(fake.subscriptions.get("sub_trial")?.trial_end).toBe(trialEnd.getTime() / 1000);
  });

  it("extendTrial on a subscription that is not trialing is rejected without writing", async () => {
    const err = await failure(billing.extendTrial(account("cus_active"), new Date(now + 10 * DAY), ctx("op-trial-2")));
    expect(err).toMatchObject({ code: "rejected" });
    expect(fake.requests.filter((r) => r.method !== "GET")).toHaveLength(0);
  });

  it("changePlan swaps the item's price for the plan's price with the same interval", async () => {
    const summary = await billing.changePlan(account("cus_active"), "business", ctx("op-plan-1"));
    expect(summary).toMatchObject({ plan: "business", interval: "month", seats: 5, mrrCents: 24_500 });
    expect(fake.requestsTo("GET", "/v1/prices")[0]?.query.get("lookup_keys[0]")).toBe("business_month");
    expect(fake.requestsTo("POST", "/v1/subscriptions/sub_active")[0]?.body).toEqual({
      items: { 0: { id: "si_active", price: "price_business_month" } },
      proration_behavior: "create_prorations",
    });
    const unknown = await failure(billing.changePlan(account("cus_active"), "platinum", ctx("op-plan-2")));
    expect(unknown).toMatchObject({ code: "rejected", operation: "prices.list" });
  });

  it("cancel at period end, resume, then cancel now", async () => {
    const cancelling = await billing.cancelSubscription(account("cus_active"), "at_period_end", ctx("op-cancel-1"));
    expect(cancelling).toMatchObject({ status: "active", cancelAtPeriodEnd: true, nextInvoice: null });
    expect(fake.requestsTo("POST", "/v1/subscriptions/sub_active")[0]?.body).toEqual({ cancel_at_period_end: "true" });

    const resumed = await billing.resumeSubscription(account("cus_active"), ctx("op-resume-1"));
    expect(resumed).toMatchObject({ cancelAtPeriodEnd: false, nextInvoice: { amountCents: 14_500 } });
    expect(fake.requestsTo("POST", "/v1/subscriptions/sub_active")[1]?.body).toEqual({ cancel_at_period_end: "false" });

    const ended = await billing.cancelSubscription(account("cus_active"), "now", ctx("op-cancel-2"));
    // 5 seats at 29.00 with 12 of about 30 days left: the unused time is credited on a final invoice.
    expect(ended).toMatchObject({ status: "canceled", mrrCents: 0, nextInvoice: null });
    const del = fake.requestsTo("DELETE", "/v1/subscriptions/sub_active");
    expect(del).toHaveLength(1);
    // An explicit choice, sent as Stripe reads DELETE parameters (query string), and no key: DELETE ignores it.
    expect(Object.fromEntries(del[0]?.query ?? [])).toEqual({ prorate: "true", invoice_now: "true" });
    expect(del[0]?.headers["idempotency-key"]).toBeUndefined();
    expect(fake.subscriptions.get("sub_active")?.status).toBe("canceled");
    const credit = Math.round((14_500 * 12) / 30);
    expect(ended.balanceCents).toBeGreaterThanOrEqual(-credit - 10);
    expect(ended.balanceCents).toBeLessThanOrEqual(-credit + 10);
    expect(fake.pendingItems).toEqual([]);

    const again = await failure(billing.cancelSubscription(account("cus_active"), "now", ctx("op-cancel-3")));
    expect(again).toMatchObject({ code: "rejected" });
    expect(await failure(billing.resumeSubscription(account("cus_trial"), ctx("op-resume-2")))).toMatchObject({ code: "rejected" });
  });

  it("canceled_at as Stripe documents it: the time of the latest request that set the subscription to end, cleared by a resume, kept once canceled", async () => {
    const secs = (iso: string | null | undefined) => (iso ? Date.parse(iso) / 1000 : null);
    // Seeded: one set to end and one canceled carry it, a renewing one does not.
    expect((await billing.getBilling(account("cus_active")))?.cancelRequestedAt).toBeNull();
    expect((await billing.getBilling(account("cus_yearly")))?.cancelRequestedAt).toEqual(expect.any(String));
    expect((await billing.getBilling(account("cus_gone")))?.cancelRequestedAt).toEqual(expect.any(String));

    const first = await billing.cancelSubscription(account("cus_active"), "at_period_end", ctx("op-requested-1"));
    const firstAt = fake.subscriptions.get("sub_active")?.canceled_at;
    expect(firstAt).toEqual(expect.any(Number));
    expect(secs(first.cancelRequestedAt)).toBe(firstAt);
    // The customer renews in the portal: the cancellation and its time are gone.
    fake.advanceClock(60_000);
    expect((await billing.resumeSubscription(account("cus_active"), ctx("op-requested-2"))).cancelRequestedAt).toBeNull();
    expect(fake.subscriptions.get("sub_active")?.canceled_at).toBeNull();
    // ...and cancels again: the same subscription, a later request.
    const again = await billing.cancelSubscription(account("cus_active"), "at_period_end", ctx("op-requested-3"));
    expect(secs(again.cancelRequestedAt)).toBeGreaterThanOrEqual((firstAt as number) + 60);
    // A cancel_at date is a request to end it too (set here as the merchant's dashboard would), and clearing it clears the time.
    fake.advanceClock(60_000);
    const dashboard = createStripeClient({ secretKey: fake.secretKey, baseUrl: fake.url, timeoutMs: 5_000 });
    const dated = await dashboard.subscriptions.update("sub_addons", { cancel_at: Math.floor(now / 1000) + 5 * 86_400 });
    expect(dated.canceled_at).toBeGreaterThanOrEqual((firstAt as number) + 120);
    expect((await billing.getBilling(account("cus_addons")))?.cancelRequestedAt).toBe(new Date((dated.canceled_at as number) * 1000).toISOString());
    const undated = await billing.resumeSubscription(account("cus_addons"), ctx("op-requested-4"));
    expect(undated.cancelRequestedAt).toBeNull();
    expect(fake.subscriptions.get("sub_addons")?.canceled_at).toBeNull();
    // Cancelled now: stamped with that request, and kept on the canceled subscription.
    fake.advanceClock(60_000);
    const ended = await billing.cancelSubscription(account("cus_active"), "now", ctx("op-requested-5"));
    expect(ended.status).toBe("canceled");
    expect(secs(ended.cancelRequestedAt)).toBeGreaterThanOrEqual((firstAt as number) + 180);
    expect(fake.subscriptions.get("sub_active")?.canceled_at).toBe(secs(ended.cancelRequestedAt));
  });

  it("writes for an account without a Stripe customer are not_found", async () => {
    expect(await failure(billing.changeSeats(account(null), 3, ctx("op-none")))).toMatchObject({ code: "not_found" });
    expect(await failure(billing.applyCredit(account(null), 100, "x", ctx("op-none-2")))).toMatchObject({ code: "not_found" });
  });

  it("resume clears a cancel_at date with cancel_at=\"\" (cancel_at_period_end=false would leave it set)", async () => {
    const resumed = await billing.resumeSubscription(account("cus_cancel_at"), ctx("op-resume-at"));
    expect(fake.requestsTo("POST", "/v1/subscriptions/sub_cancel_at")[0]?.body).toEqual({ cancel_at: "" });
    expect(resumed).toMatchObject({ cancelAtPeriodEnd: false, cancelAt: null, nextInvoice: { amountCents: 4 * 4_900 } });
  });

  it("seat and plan changes go to the plan's item, not to an add-on listed first", async () => {
    await billing.changeSeats(account("cus_addons"), 9, ctx("op-seats-addons"));
    expect(fake.requestsTo("POST", "/v1/subscription_items/si_addons")).toHaveLength(1);
    const summary = await billing.changePlan(account("cus_addons"), "business", ctx("op-plan-addons"));
    expect(fake.requestsTo("POST", "/v1/subscriptions/sub_addons")[0]?.body).toMatchObject({ items: { 0: { id: "si_addons", price: "price_business_month" } } });
    expect(summary).toMatchObject({ plan: "business", seats: 9, addOnCents: 8_000, mrrCents: 9 * 4_900 + 8_000 });
  });

  it("cancel now whose answer was lost: the retry (no key on DELETE) is refused as already canceled, the adapter reads back and reports success", async () => {
    fake.dropNext(1, { method: "DELETE", path: "/v1/subscriptions/sub_active" });
    const ended = await billing.cancelSubscription(account("cus_active"), "now", ctx("op-cancel-lost"));
    expect(ended).toMatchObject({ status: "canceled" });
    expect(fake.requestsTo("DELETE", "/v1/subscriptions/sub_active").map((r) => [r.fault ?? "ok", r.status])).toEqual([
      ["dropped", 0],
      ["ok", 400],
    ]);
    // One final invoice: the credit was given once.
    expect([...fake.invoices.values()].filter((i) => i.customer === "cus_active" && i.created >= Math.floor(now / 1000) - 1)).toHaveLength(1);
  });

  it("keys longer than Stripe's 255 characters are shortened the same way every time, and stay distinct", async () => {
    const long = (tail: string) => `steward:${"s".repeat(36)}:billing.credit_apply:${"k".repeat(200)}${tail}`;
    await billing.applyCredit(account("cus_active"), 100, "x", ctx(long(":cancel")));
    await billing.applyCredit(account("cus_active"), 100, "x", ctx(long(":cancel")));
    await billing.applyCredit(account("cus_active"), 100, "x", ctx(long(":resume")));
    const keys = fake.requestsTo("POST", "/v1/customers/cus_active/balance_transactions").map((r) => String(r.headers["idempotency-key"]));
    expect(keys.every((k) => k.length <= 255)).toBe(true);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(fake.balanceTransactions).toHaveLength(2);
  });
});

describe("STRIPE_BASE_URL with a path (a proxy in front of Stripe)", () => {
  it("keeps the path in front of every request", async () => {
    const proxied = new StripeFake({ mountPath: "/egress/stripe" });
    await proxied.start();
    try {
      seedStripe(proxied);
      expect(proxied.env().STRIPE_BASE_URL).toBe(`${proxied.url}/egress/stripe`);
      const port = createStripeBilling({ config: testConfig({ ...proxied.env(), PROVIDER_TIMEOUT_MS: "2000" }) });
      expect(await port.getBilling(account("cus_active"))).toMatchObject({ subscriptionId: "sub_active", nextInvoice: { amountCents: 14_500 } });
      await port.applyCredit(account("cus_active"), 250, "Proxy check", { idempotencyKey: "op-proxy" });
      expect(proxied.requests.map((r) => r.path).sort()).toEqual([
        "/egress/stripe/v1/customers/cus_active",
        "/egress/stripe/v1/customers/cus_active",
        "/egress/stripe/v1/customers/cus_active/balance_transactions",
        "/egress/stripe/v1/invoices",
        "/egress/stripe/v1/invoices/create_preview",
        "/egress/stripe/v1/subscriptions",
      ]);
      expect(proxied.requests.every((r) => r.status < 400)).toBe(true);
    } finally {
      await proxied.close();
    }
  });
});
