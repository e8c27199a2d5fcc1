import type { Express } from "express";
import { sql } from "kysely";
import request from "supertest";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { RequesterContext } from "../../../shared/schemas/context.js";
import { createApp } from "../../src/app.js";
import { createLogger, type Logger } from "../../src/logger.js";
import { createBillingPort } from "../../src/providers/index.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { databaseKinds } from "../support/databases.js";
import { addAccount, addUser, AGENT, lookupTestDeps, sessionFor, SETUP_TIMEOUT_MS, type TestDeps } from "./fixtures.js";

/** Each provider call waits this long at the fake: two rounds in series would put the preview this far after the list. */
const LATENCY_MS = 300;

/**
 * Stripe's invoice preview needs the subscription's id. These tests check that the id one Steward
 * instance read is kept in the database, so another instance (or the same one restarted: a fresh
 * billing adapter over the same database) asks the preview beside the subscription list, in one round.
 */
describe.each(databaseKinds)("subscription hints kept in the database, on %s", (kind) => {
  const stripe = new StripeFake();
  let deps: TestDeps;
  let price: string;
  let n = 0;

  /** A Steward instance over the shared database with a billing adapter of its own (nothing in its memory). */
  async function instance(logger: Logger = deps.logger): Promise<{ app: Express; token: string }> {
    const billing = createBillingPort({ config: deps.config, db: deps.database.db, clock: deps.clock, logger, policy: { baseDelayMs: 5, maxDelayMs: 20 } });
    const app = createApp({ ...deps, billing });
    return { app, token: await sessionFor(app, deps, AGENT.support.zendeskUserId) };
  }

  /** A requester whose account has a Stripe customer with one active subscription, unknown to every instance so far. */
  async function customer(seats = 4) {
    n += 1;
    const ids = { account: `acc_hint_${n}`, user: `usr_hint_${n}`, customer: `cus_hint_${n}`, subscription: `sub_hint_${n}`, email: `hint-${n}@example.test` };
    await addAccount(deps.database.db, { id: ids.account, name: `Hint ${n}`, billing_customer_id: ids.customer });
    await addUser(deps.database.db, { id: ids.user, account_id: ids.account, email: ids.email, name: `Hint User ${n}` });
    stripe.addCustomer({ id: ids.customer, email: ids.email });
    stripe.addSubscription({ id: ids.subscription, customer: ids.customer, price, quantity: seats, status: "active" });
    return ids;
  }

  const context = ({ app, token }: { app: Express; token: string }, who: { email: string; user: string }) =>
    request(app).get("/api/context").query({ email: who.email, externalId: who.user }).set("Authorization", `Bearer ${token}`);

  const hintOf = async (customerId: string) =>
    (await deps.database.db.selectFrom("billing_subscription_hints").select("subscription_id").where("customer_id", "=", customerId).executeTakeFirst())?.subscription_id ?? null;

  /** The write is off the response's path: it lands shortly after the answer. */
  const hintBecomes = (customerId: string, subscriptionId: string) => vi.waitFor(async () => expect(await hintOf(customerId)).toBe(subscriptionId), { timeout: 5_000, interval: 20 });

  const callsSince = (since: number) =>
    stripe.requests
      .filter((r) => r.at >= since)
      .map((r) => `${r.method} ${r.path}`)
      .sort();
  const previewsSince = (since: number) =>
    stripe
      .requestsTo("POST", "/v1/invoices/create_preview")
      .filter((r) => r.at >= since)
      .sort((a, b) => a.at - b.at);

  beforeAll(async () => {
    await stripe.start();
    // Identity stays built-in: only Stripe is remote here.
    deps = await lookupTestDeps(kind, { ...stripe.env(), PROVIDER_TIMEOUT_MS: "5000", PROVIDER_MAX_RETRIES: "1" });
    price = stripe.addPrice({ plan: "team", interval: "month", unitAmount: 2_900 }).id;
  }, SETUP_TIMEOUT_MS);
  afterEach(async () => {
    await stripe.idle();
    stripe.clearFaults();
    stripe.latencyMs = 0;
  });
  afterAll(async () => {
    await deps.database.close();
    await stripe.close();
  });

  it("a second instance serves a customer it has never read in one round of Stripe calls: the preview goes beside the list", async () => {
    const who = await customer(4);
    const first = await instance();
    expect((await context(first, who)).status).toBe(200);
    await hintBecomes(who.customer, who.subscription);

    const second = await instance();
    stripe.latencyMs = LATENCY_MS;
    const since = Date.now();
    const res = await context(second, who);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const body = res.body as RequesterContext;
    expect(body.billing).toMatchObject({ status: "ok", source: "stripe", data: { subscriptionId: who.subscription, seats: 4, nextInvoice: { amountCents: 4 * 2_900 } } });
    // Exactly the four reads, the preview once and for the right subscription.
    expect(callsSince(since)).toEqual([`GET /v1/customers/${who.customer}`, "GET /v1/invoices", "GET /v1/subscriptions", "POST /v1/invoices/create_preview"]);
    const [list] = stripe.requestsTo("GET", "/v1/subscriptions").filter((r) => r.at >= since);
    const [preview] = previewsSince(since);
    expect(preview?.body).toEqual({ customer: who.customer, subscription: who.subscription });
    // In series the preview would come one latency (300 ms) after the list.
    expect((preview?.at ?? Infinity) - (list?.at ?? 0)).toBeLessThan(LATENCY_MS / 2);
  });

  it("an adapter asked without the lookup's hint (an action's read-back) reads it from the database itself, still in one round", async () => {
    const who = await customer(6);
    expect((await context(await instance(), who)).status).toBe(200);
    await hintBecomes(who.customer, who.subscription);

    const fresh = createBillingPort({ config: deps.config, db: deps.database.db, clock: deps.clock, logger: deps.logger });
    stripe.latencyMs = LATENCY_MS;
    const since = Date.now();
    expect(await fresh.getBilling({ id: who.account, billingCustomerId: who.customer })).toMatchObject({ subscriptionId: who.subscription, nextInvoice: { amountCents: 6 * 2_900 } });
    const [list] = stripe.requestsTo("GET", "/v1/subscriptions").filter((r) => r.at >= since);
    const previews = previewsSince(since);
    expect(previews.map((p) => p.body)).toEqual([{ customer: who.customer, subscription: who.subscription }]);
    expect((previews[0]?.at ?? Infinity) - (list?.at ?? 0)).toBeLessThan(LATENCY_MS / 2);
  });

  it("a stale hint (the subscription was replaced) still gives the new subscription's invoice, and is corrected for the next instance", async () => {
    const who = await customer(4);
    expect((await context(await instance(), who)).status).toBe(200);
    await hintBecomes(who.customer, who.subscription);

    // Replaced at Stripe, where Steward does not see it: the old one ended, a new one with more seats.
    const old = stripe.subscriptions.get(who.subscription);
    if (!old) throw new Error("the subscription is seeded");
    stripe.subscriptions.set(who.subscription, { ...old, status: "canceled", ended_at: Math.floor(Date.now() / 1000) });
    const replacement = `${who.subscription}_new`;
    stripe.addSubscription({ id: replacement, customer: who.customer, price, quantity: 9, status: "active" });

    const since = Date.now();
    const res = await context(await instance(), who);
    expect(res.status).toBe(200);
    expect((res.body as RequesterContext).billing).toMatchObject({ status: "ok", data: { subscriptionId: replacement, seats: 9, status: "active", nextInvoice: { amountCents: 9 * 2_900 } } });
    // The hinted preview was asked beside the list and dropped; the current subscription's was asked after it.
    expect(previewsSince(since).map((p) => (p.body as { subscription: string }).subscription)).toEqual([who.subscription, replacement]);
    await hintBecomes(who.customer, replacement);

    await stripe.idle();
    stripe.latencyMs = LATENCY_MS;
    const later = Date.now();
    const next = await context(await instance(), who);
    expect((next.body as RequesterContext).billing).toMatchObject({ status: "ok", data: { subscriptionId: replacement } });
    expect(previewsSince(later).map((p) => (p.body as { subscription: string }).subscription)).toEqual([replacement]);
  });

  it("a hint that cannot be written does not fail the context: the answer is whole, the failure logged", async () => {
    const who = await customer(3);
    const lines: { level: number; msg: string; customerId?: string; err?: { message?: string } }[] = [];
    const logger = createLogger("warn", { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
    // The database refuses every write to the table (a real failing statement, on both databases).
    await sql`create function refuse_hint() returns trigger language plpgsql as $$ begin raise exception 'hints are read-only here'; end $$`.execute(deps.database.db);
    await sql`create trigger refuse_hint before insert or update or delete on billing_subscription_hints for each row execute function refuse_hint()`.execute(deps.database.db);
    try {
      const res = await context(await instance(logger), who);
      expect(res.status).toBe(200);
      expect((res.body as RequesterContext).billing).toMatchObject({ status: "ok", data: { subscriptionId: who.subscription, seats: 3, nextInvoice: { amountCents: 3 * 2_900 } } });
      await vi.waitFor(() => expect(lines.map((l) => [l.msg, l.customerId, l.err?.message])).toContainEqual([expect.stringMatching(/subscription hint could not be kept/), who.customer, expect.stringMatching(/hints are read-only here/)]), { timeout: 5_000, interval: 20 });
      expect(await hintOf(who.customer)).toBeNull();
    } finally {
      await sql`drop trigger refuse_hint on billing_subscription_hints`.execute(deps.database.db);
      await sql`drop function refuse_hint()`.execute(deps.database.db);
    }
  });
});
