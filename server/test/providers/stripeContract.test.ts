import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createStripeBilling } from "../../src/providers/index.js";
import type { BillingPort } from "../../src/providers/ports.js";
import { STRIPE_API_VERSION } from "../../src/providers/stripe/stripeClient.js";
import { parseStripeForm, StripeFake } from "../fakes/stripeFake.js";
import { checkStripeRequest, endpointFor, STRIPE_RULES_PATH, stripeRules } from "../fakes/stripeRules.js";
import type { RecordedRequest } from "../fakes/httpFake.js";
import { testConfig } from "../support/databases.js";
import { seedStripe } from "./stripeSeed.js";

/**
 * Holds the Stripe adapter (and the fake that stands in for Stripe) to the rule table for the
 * endpoints Steward calls at its pinned API version (server/test/contracts/stripe-rules.json):
 * every request the adapter sends passes every rule of its endpoint, each rule is exercised, and
 * the fake refuses each kind of violation with Stripe's error shape.
 */
const fake = new StripeFake();
let billing: BillingPort;
const DAY = 86_400_000;
const account = (customerId: string) => ({ id: `acc_${customerId}`, billingCustomerId: customerId });
const ctx = (key: string) => ({ idempotencyKey: key });
let adapterRequests: RecordedRequest[] = [];

const formOf = (r: RecordedRequest) => (r.method === "POST" ? ((r.body ?? {}) as Record<string, unknown>) : parseStripeForm(r.query.toString()));
const keyOf = (r: RecordedRequest) => (typeof r.headers["idempotency-key"] === "string" ? r.headers["idempotency-key"] : undefined);

/** A raw call to the fake, with Stripe's form encoding. */
async function send(method: string, path: string, params: string, headers: Record<string, string> = {}): Promise<{ status: number; error?: { type: string; code?: string; param?: string; message: string } }> {
  const query = method === "POST" ? "" : `?${params}`;
  const res = await fetch(`${fake.url}${path}${query}`, {
    method,
    headers: { authorization: `Bearer ${fake.secretKey}`, "content-type": "application/x-www-form-urlencoded", "stripe-version": STRIPE_API_VERSION, ...headers },
    ...(method === "POST" ? { body: params } : {}),
  });
  const body = (await res.json()) as { error?: { type: string; code?: string; param?: string; message: string } };
  return { status: res.status, ...(body.error ? { error: body.error } : {}) };
}

beforeAll(async () => {
  await fake.start();
  seedStripe(fake);
  billing = createStripeBilling({ config: testConfig({ ...fake.env(), PROVIDER_TIMEOUT_MS: "5000", PROVIDER_MAX_RETRIES: "0" }) });
  // Everything the adapter can do, reads and writes, including a key longer than Stripe allows.
  for (const c of ["cus_active", "cus_past_due", "cus_trial", "cus_yearly", "cus_gone", "cus_addons", "cus_cancel_at"]) await billing.getBilling(account(c));
  await billing.changeSeats(account("cus_active"), 7, ctx("op-seats"));
  await billing.changePlan(account("cus_active"), "business", ctx("op-plan"));
  await billing.extendTrial(account("cus_trial"), new Date(Date.now() + 20 * DAY), ctx("op-trial"));
  await billing.applyCredit(account("cus_past_due"), 1_000, "Sorry for the outage", ctx(`steward:${"x".repeat(300)}`));
  // The reconciler's re-read of a credit (by the key in its metadata).
  await billing.findCredit!(account("cus_past_due"), ctx(`steward:${"x".repeat(300)}`));
  await billing.cancelSubscription(account("cus_active"), "at_period_end", ctx("op-cancel-end"));
  await billing.resumeSubscription(account("cus_active"), ctx("op-resume"));
  await billing.resumeSubscription(account("cus_cancel_at"), ctx("op-resume-at"));
  await billing.cancelSubscription(account("cus_addons"), "now", ctx("op-cancel-now"));
  await fake.idle();
  adapterRequests = [...fake.requests];
});
afterAll(() => fake.close());

describe("Stripe adapter against Stripe's rules at the pinned API version", () => {
  it("reads the rule table from inside the repository, for the pinned version", () => {
    expect(STRIPE_RULES_PATH).toMatch(/\/server\/test\/contracts\/stripe-rules\.json$/);
    expect(stripeRules().apiVersion).toBe(STRIPE_API_VERSION);
    expect(adapterRequests.every((r) => r.headers["stripe-version"] === STRIPE_API_VERSION)).toBe(true);
  });

  it("uses exactly the endpoints the rule table describes", () => {
    const used = new Set(adapterRequests.map((r) => endpointFor(r.method, r.path)?.name ?? `${r.method} ${r.path} (no rule)`));
    expect([...used].sort()).toEqual(Object.keys(stripeRules().endpoints).sort());
  });

  it.each(Object.keys(stripeRules().endpoints))("every request to %s passes its rules (parameters, types, required, basil shapes, key length)", (name) => {
    const hits = adapterRequests.filter((r) => endpointFor(r.method, r.path)?.name === name);
    expect(hits.length).toBeGreaterThan(0);
    const refusals = hits.map((r) => checkStripeRequest({ method: r.method, path: r.path, form: formOf(r), ...(keyOf(r) !== undefined ? { idempotencyKey: keyOf(r) } : {}) }, Math.floor(r.at / 1000))).filter((x) => x !== null);
    expect(refusals).toEqual([]);
    // And the fake, holding them to the same rules, answered none of them with a validation error.
    expect(hits.filter((r) => r.status === 400 && /unknown parameter|Missing required|Invalid|Idempotent key/.test(JSON.stringify(r.responseBody)))).toEqual([]);
  });

  it("sends Steward's key on every write (POST) and none on GET or DELETE, where Stripe ignores keys", () => {
    const writes = adapterRequests.filter((r) => r.method === "POST" && r.path !== "/v1/invoices/create_preview");
    expect(writes.length).toBeGreaterThanOrEqual(7);
    for (const w of writes) expect(String(keyOf(w))).toMatch(/^(op-|steward:)/);
    expect(adapterRequests.filter((r) => (r.method === "GET" || r.method === "DELETE") && keyOf(r) !== undefined)).toEqual([]);
    expect(adapterRequests.every((r) => (keyOf(r)?.length ?? 0) <= 255)).toBe(true);
  });

  it("previews invoices only for a named subscription, and states the cancel-now choice", () => {
    const previews = adapterRequests.filter((r) => r.path === "/v1/invoices/create_preview");
    expect(previews.every((r) => typeof formOf(r).subscription === "string")).toBe(true);
    const cancel = adapterRequests.find((r) => r.method === "DELETE");
    expect(cancel && formOf(cancel)).toEqual({ prorate: "true", invoice_now: "true" });
  });
});

describe("the Stripe fake refuses what Stripe refuses", () => {
  // Some of these change sub_past_due (a stored key, a cancel); each starts from the seeded account.
  beforeEach(() => seedStripe(fake));

  it("an unknown parameter, top-level or nested: 400 parameter_unknown naming it", async () => {
    expect(await send("POST", "/v1/subscription_items/si_past_due", "quantity=3&prorate=true")).toMatchObject({ status: 400, error: { type: "invalid_request_error", code: "parameter_unknown", param: "prorate", message: "Received unknown parameter: prorate" } });
    expect(await send("POST", "/v1/subscriptions/sub_past_due", "items[0][id]=si_past_due&items[0][seats]=3")).toMatchObject({ status: 400, error: { code: "parameter_unknown", param: "items[0][seats]" } });
    expect(await send("GET", "/v1/subscriptions", "customer=cus_trial&state=all")).toMatchObject({ status: 400, error: { code: "parameter_unknown", param: "state" } });
    expect(await send("DELETE", "/v1/subscriptions/sub_past_due", "refund=true")).toMatchObject({ status: 400, error: { code: "parameter_unknown", param: "refund" } });
    expect(fake.subscriptions.get("sub_past_due")?.status).toBe("past_due");
  });

  it("a missing required parameter: 400 parameter_missing", async () => {
    expect(await send("POST", "/v1/customers/cus_trial/balance_transactions", "amount=-100")).toMatchObject({ status: 400, error: { code: "parameter_missing", param: "currency" } });
  });

  it("basil: a preview naming only the customer is refused; the removed upcoming-invoice endpoint is gone", async () => {
    const refused = await send("POST", "/v1/invoices/create_preview", "customer=cus_past_due");
    expect(refused).toMatchObject({ status: 400, error: { code: "parameter_missing" } });
    expect(refused.error?.message).toContain("subscription");
    expect(await send("POST", "/v1/invoices/create_preview", "customer=cus_past_due&subscription=sub_past_due")).toMatchObject({ status: 200 });
    expect(await send("GET", "/v1/invoices/upcoming", "customer=cus_past_due")).toMatchObject({ status: 404, error: { message: "Unrecognized request URL (GET: /v1/invoices/upcoming)." } });
  });

  it("wrong types and values: integers, booleans, enums, ranges, future timestamps, list sizes", async () => {
    expect(await send("POST", "/v1/subscription_items/si_past_due", "quantity=three")).toMatchObject({ status: 400, error: { code: "parameter_invalid_integer", param: "quantity" } });
    expect(await send("POST", "/v1/subscription_items/si_past_due", "quantity=-1")).toMatchObject({ status: 400, error: { param: "quantity" } });
    expect(await send("POST", "/v1/subscriptions/sub_past_due", "cancel_at_period_end=yes")).toMatchObject({ status: 400, error: { message: "Invalid boolean: yes", param: "cancel_at_period_end" } });
    expect(await send("POST", "/v1/subscription_items/si_past_due", "proration_behavior=sometimes")).toMatchObject({ status: 400, error: { param: "proration_behavior" } });
    expect(await send("GET", "/v1/invoices", "customer=cus_past_due&limit=101")).toMatchObject({ status: 400, error: { param: "limit" } });
    expect(await send("POST", "/v1/subscriptions/sub_trial", `trial_end=${Math.floor(Date.now() / 1000) - 60}`)).toMatchObject({ status: 400, error: { param: "trial_end" } });
    // At most two years of trial, counted from now.
    const nowUnix = Math.floor(Date.now() / 1000);
    expect(await send("POST", "/v1/subscriptions/sub_trial", `trial_end=${nowUnix + 731 * 86_400}`)).toMatchObject({ status: 400, error: { param: "trial_end", message: "The maximum number of trial period days is 730 (2 years)." } });
    expect(await send("POST", "/v1/subscriptions/sub_trial", `trial_end=${nowUnix + 729 * 86_400}`)).toMatchObject({ status: 200 });
    const keys = Array.from({ length: 11 }, (_, i) => `lookup_keys[${i}]=k${i}`).join("&");
    expect(await send("GET", "/v1/prices", keys)).toMatchObject({ status: 400, error: { param: "lookup_keys" } });
    expect(await send("POST", "/v1/customers/cus_trial/balance_transactions", `amount=-1&currency=usd&description=${"d".repeat(351)}`)).toMatchObject({ status: 400, error: { param: "description" } });
    // "" means "unset" to Stripe, and a new balance transaction's description cannot be unset; a subscription's can.
    expect(await send("POST", "/v1/customers/cus_trial/balance_transactions", "amount=-1&currency=usd&description=")).toMatchObject({ status: 400, error: { code: "parameter_invalid_empty", param: "description" } });
    expect(await send("POST", "/v1/subscriptions/sub_past_due", "description=")).toMatchObject({ status: 200 });
  });

  it("idempotency: keys over 255 characters refused; a key reused with other parameters refused; a refused request stores nothing", async () => {
    expect(await send("POST", "/v1/subscription_items/si_past_due", "quantity=4", { "idempotency-key": "k".repeat(256) })).toMatchObject({ status: 400, error: { type: "idempotency_error" } });
    expect(await send("POST", "/v1/subscription_items/si_past_due", "quantity=4", { "idempotency-key": "k".repeat(255) })).toMatchObject({ status: 200 });
    expect(await send("POST", "/v1/subscription_items/si_past_due", "quantity=5", { "idempotency-key": "k".repeat(255) })).toMatchObject({ status: 400, error: { type: "idempotency_error" } });
    expect(fake.subscriptions.get("sub_past_due")?.items.data.at(-1)?.quantity).toBe(4);
    // Refused by validation first, so the key is still free for a valid request.
    expect(await send("POST", "/v1/subscription_items/si_past_due", "quantity=x", { "idempotency-key": "fresh-key" })).toMatchObject({ status: 400 });
    expect(await send("POST", "/v1/subscription_items/si_past_due", "quantity=6", { "idempotency-key": "fresh-key" })).toMatchObject({ status: 200 });
  });

  it("a key on DELETE has no effect: nothing is replayed from it", async () => {
    expect(await send("DELETE", "/v1/subscriptions/sub_past_due", "prorate=false", { "idempotency-key": "del-key" })).toMatchObject({ status: 200 });
    // A replay would answer 200 again; Stripe runs the request and refuses to cancel twice.
    expect(await send("DELETE", "/v1/subscriptions/sub_past_due", "prorate=false", { "idempotency-key": "del-key" })).toMatchObject({ status: 400 });
  });
});
