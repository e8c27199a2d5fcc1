import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import { databaseKinds } from "../support/databases.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { act, auditOf, preview, useHarness, type ActionCall, type Harness } from "./harness.js";

/**
 * The seats and billing actions through the Stripe adapter (real stripe SDK → local Stripe fake):
 * success, a Stripe failure that leaves nothing changed and a `pending` + `failed` pair in the audit
 * log, and retries (by the agent, and by the adapter after a lost response) that reach Stripe with
 * the same Idempotency-Key and take effect once.
 */
interface StripeCase {
  action: string;
  body: ActionCall;
  role: PanelRole;
  destructive?: boolean;
  /** The write this action makes at Stripe. */
  write: { method: string; path: RegExp };
  /** The Stripe-side state this action changes. */
  stripeState: (fake: StripeFake) => unknown;
  /** Checks the action's own effect, given the state before it. */
  expectEffect: (h: Harness, before: unknown) => Promise<void>;
}

const sub = (fake: StripeFake, id: string) => {
  const s = fake.subscriptions.get(id);
  if (!s) throw new Error(`no ${id} in the fake`);
  const item = s.items.data[0];
  return { status: s.status, trialEnd: s.trial_end, cancelAtPeriodEnd: s.cancel_at_period_end, price: item?.price.id, quantity: item?.quantity };
};
const customer = (fake: StripeFake, id: string) => ({ balance: fake.customers.get(id)?.balance ?? Number.NaN, credits: fake.balanceTransactions.filter((t) => t.customer === id).length });
const accountRow = (h: Harness, id: string) => h.deps.database.db.selectFrom("accounts").select(["plan", "seats_licensed", "version", "status"]).where("id", "=", id).executeTakeFirstOrThrow();
const expansions = async (h: Harness, id: string) => (await h.deps.database.db.selectFrom("seat_expansions").select(["seats"]).where("account_id", "=", id).execute()).map((r) => r.seats);

const cases: StripeCase[] = [
  {
    action: "billing.trial_extend",
    body: { target: { type: "account", id: "acc_demo_002" }, input: { days: 4 } },
    role: "support_full",
    write: { method: "POST", path: /^\/v1\/subscriptions\/sub_demo_002$/ },
    stripeState: (f) => sub(f, "sub_demo_002"),
    expectEffect: async (h, before) => {
      expect(sub(h.stripe!, "sub_demo_002").trialEnd).toBe((before as { trialEnd: number }).trialEnd + 4 * 86_400);
    },
  },
  {
    action: "billing.credit_apply",
    body: { target: { type: "account", id: "acc_demo_001" }, input: { amountCents: 1_500 } },
    role: "support_full",
    write: { method: "POST", path: /^\/v1\/customers\/cus_demo_001\/balance_transactions$/ },
    stripeState: (f) => customer(f, "cus_demo_001"),
    expectEffect: async (h, before) => {
      const b = before as { balance: number; credits: number };
      expect(customer(h.stripe!, "cus_demo_001")).toEqual({ balance: b.balance - 1_500, credits: b.credits + 1 });
    },
  },
  {
    action: "billing.plan_change",
    body: { target: { type: "account", id: "acc_demo_012" }, input: { plan: "enterprise" } },
    role: "operations",
    destructive: true,
    write: { method: "POST", path: /^\/v1\/subscriptions\/sub_demo_012$/ },
    stripeState: (f) => sub(f, "sub_demo_012"),
    expectEffect: async (h) => {
      expect(sub(h.stripe!, "sub_demo_012")).toMatchObject({ price: "price_enterprise_month", quantity: 20 });
      expect((await accountRow(h, "acc_demo_012")).plan).toBe("enterprise");
    },
  },
  {
    action: "billing.subscription_cancel",
    body: { target: { type: "account", id: "acc_demo_018" }, input: { mode: "at_period_end" } },
    role: "operations",
    destructive: true,
    write: { method: "POST", path: /^\/v1\/subscriptions\/sub_demo_018$/ },
    stripeState: (f) => sub(f, "sub_demo_018"),
    expectEffect: async (h) => {
      expect(sub(h.stripe!, "sub_demo_018")).toMatchObject({ status: "active", cancelAtPeriodEnd: true });
    },
  },
  {
    action: "seats.change",
    body: { target: { type: "account", id: "acc_demo_011" }, input: { seats: 14 } },
    role: "operations",
    write: { method: "POST", path: /^\/v1\/subscription_items\/si_demo_011$/ },
    stripeState: (f) => sub(f, "sub_demo_011"),
    expectEffect: async (h) => {
      expect(sub(h.stripe!, "sub_demo_011").quantity).toBe(14);
      expect((await accountRow(h, "acc_demo_011")).seats_licensed).toBe(14);
    },
  },
  {
    action: "seats.expand_temporarily",
    body: { target: { type: "account", id: "acc_demo_013" }, input: { seats: 3, days: 7 } },
    role: "support_full",
    write: { method: "POST", path: /^\/v1\/subscription_items\/si_demo_013$/ },
    stripeState: (f) => sub(f, "sub_demo_013"),
    expectEffect: async (h, before) => {
      expect(sub(h.stripe!, "sub_demo_013").quantity).toBe((before as { quantity: number }).quantity + 3);
      expect(await expansions(h, "acc_demo_013")).toEqual([3]);
      expect((await accountRow(h, "acc_demo_013")).seats_licensed).toBe(10);
    },
  },
];

describe.each(databaseKinds)("seats and billing actions through Stripe (%s)", (kind) => {
  const fake = new StripeFake();
  const h = useHarness(kind, { stripe: fake });

  /** With a fresh confirmation for destructive actions (the preview reads Stripe too, so it is taken before faults are armed). */
  async function withConfirmation(c: StripeCase): Promise<ActionCall> {
    if (!c.destructive) return c.body;
    const shown = await preview(h, c.role, c.action, c.body);
    expect(shown.status, JSON.stringify(shown.body)).toBe(200);
    return { ...c.body, confirmationToken: shown.body.confirmationToken as string };
  }

  describe.each(cases)("$action", (c) => {
    const accountId = c.body.target.id;
    const key = `stripe-retry-${c.action}`;

    // One test, not two: the retry is only meaningful after the failure it retries, and tests may run in any order.
    // A refusal known to have changed nothing: Stripe's rate limiter answers before its idempotency layer
    // runs. (A 5xx on a write is indeterminate and answered 202 outcome_unknown: server/test/reconcile/providerTruth.test.ts.)
    it("on a Stripe refusal changes nothing, answers 503 and closes its pending entry as failed; retried with the same key, takes effect once", async () => {
      const stripeBefore = c.stripeState(fake);
      const localBefore = { account: await accountRow(h, accountId), expansions: await expansions(h, accountId) };
      const body = await withConfirmation(c);
      fake.failNext(3, 429, c.write); // the first try and both retries
      const res = await act(h, c.role, c.action, body, { idempotencyKey: key });
      fake.clearFaults();
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: "provider_rate_limited", provider: "stripe" });
      expect(fake.requestsTo(c.write.method, c.write.path)).toHaveLength(3);
      expect(c.stripeState(fake)).toEqual(stripeBefore);
      expect({ account: await accountRow(h, accountId), expansions: await expansions(h, accountId) }).toEqual(localBefore);
      const entries = await auditOf(h.deps, c.action, accountId);
      expect(entries.map((e) => e.outcome)).toEqual(["pending", "failed"]);
      expect(entries[1]?.operationId).toBe(entries[0]?.operationId);
      expect(entries[1]?.error).toContain("provider_rate_limited");
      expect(entries[0]?.before).toMatchObject({ version: localBefore.account.version });

      // The agent retries with the same Idempotency-Key: it reaches Stripe with the same key and takes effect once.
      const retry = await act(h, c.role, c.action, await withConfirmation(c), { idempotencyKey: key });
      expect(retry.status, JSON.stringify(retry.body)).toBe(200);
      await c.expectEffect(h, stripeBefore);
      const writes = fake.requestsTo(c.write.method, c.write.path);
      expect(writes).toHaveLength(4);
      const keys = new Set(writes.map((w) => w.headers["idempotency-key"]));
      expect(keys.size).toBe(1);
      expect([...keys][0]).toContain(key);
      const retried = await auditOf(h.deps, c.action, accountId);
      expect(retried.map((e) => e.outcome)).toEqual(["pending", "failed", "pending", "succeeded"]);
      expect(retried[3]?.operationId).toBe(retried[2]?.operationId);
      expect(retried[3]?.after).toMatchObject({ version: (retried[2]?.before as { version: number }).version + 1 });

      const stripeAfter = c.stripeState(fake);
      const replay = await act(h, c.role, c.action, { ...c.body, expectedVersion: (retry.body.before as { version: number }).version }, { idempotencyKey: key });
      expect(replay.status).toBe(200);
      expect(replay.body).toMatchObject({ replayed: true, auditEntryId: retry.body.auditEntryId });
      expect(fake.requestsTo(c.write.method, c.write.path)).toHaveLength(4);
      expect(c.stripeState(fake)).toEqual(stripeAfter);
    });
  });

  it("cancel now: the preview states the unused-time credit, Stripe gets prorate and invoice_now (no key on DELETE) and credits it", async () => {
    const target = { type: "account" as const, id: "acc_demo_009" };
    const subId = [...fake.subscriptions.values()].find((s) => s.customer === "cus_demo_009" && s.status !== "canceled")?.id ?? "";
    const balanceBefore = fake.customers.get("cus_demo_009")?.balance ?? Number.NaN;
    const shown = await preview(h, "operations", "billing.subscription_cancel", { target, input: { mode: "now" } });
    expect(shown.status, JSON.stringify(shown.body)).toBe(200);
    const stated = /about \$([\d,.]+)\) is credited to the customer's balance, not refunded to the card, on a final invoice issued now/.exec(shown.body.effects.warnings.join(" "));
    expect(stated).not.toBeNull();
    const res = await act(h, "operations", "billing.subscription_cancel", { target, input: { mode: "now" }, confirmationToken: shown.body.confirmationToken as string }, { idempotencyKey: "stripe-cancel-now" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const del = fake.requestsTo("DELETE", `/v1/subscriptions/${subId}`);
    expect(del.map((r) => [Object.fromEntries(r.query), r.headers["idempotency-key"]])).toEqual([[{ prorate: "true", invoice_now: "true" }, undefined]]);
    expect(fake.subscriptions.get(subId)?.status).toBe("canceled");
    // Stripe prorates by the second, the preview by the day: they agree to within a day's worth.
    const credited = balanceBefore - (fake.customers.get("cus_demo_009")?.balance ?? Number.NaN);
    const statedCents = Math.round(Number(stated?.[1]?.replace(/,/g, "")) * 100);
    expect(credited).toBeGreaterThan(0);
    expect(Math.abs(credited - statedCents)).toBeLessThanOrEqual(Math.ceil(statedCents / 20));
  });

  it("a trial extension past Stripe's two-year limit is refused with 409 saying how many days are left; nothing reaches Stripe", async () => {
    const target = { type: "account" as const, id: "acc_demo_020" };
    const sub = [...fake.subscriptions.values()].find((s) => s.customer === "cus_demo_020" && s.status === "trialing");
    if (!sub) throw new Error("no trialing subscription for cus_demo_020");
    // Extended before, now 700 days out (time as Steward's clock has it).
    const trialEnd = Math.floor(h.deps.clock.now().getTime() / 1000) + 700 * 86_400;
    fake.subscriptions.set(sub.id, { ...sub, trial_end: trialEnd, items: { ...sub.items, data: sub.items.data.map((i) => ({ ...i, current_period_end: trialEnd })) } });
    const write = { method: "POST", path: new RegExp(`^/v1/subscriptions/${sub.id}$`) };
    const res = await act(h, "operations", "billing.trial_extend", { target, input: { days: 40 } });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body).toMatchObject({ code: "trial_too_long", maxDays: 30 });
    expect(fake.requestsTo(write.method, write.path)).toHaveLength(0);
    expect(fake.subscriptions.get(sub.id)?.trial_end).toBe(trialEnd);
    // Within the limit it goes through.
    const within = await act(h, "operations", "billing.trial_extend", { target, input: { days: 30 } });
    expect(within.status, JSON.stringify(within.body)).toBe(200);
    expect(fake.subscriptions.get(sub.id)?.trial_end).toBe(trialEnd + 30 * 86_400);
  });

  it("a credit whose description is blank is refused with 400 naming it; nothing reaches Stripe (which refuses an empty description)", async () => {
    const write = { method: "POST", path: /^\/v1\/customers\/cus_demo_004\/balance_transactions$/ };
    const before = customer(fake, "cus_demo_004");
    const res = await act(h, "support_full", "billing.credit_apply", { target: { type: "account", id: "acc_demo_004" }, input: { amountCents: 300, description: "   " } });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.input.description"]);
    expect(fake.requestsTo(write.method, write.path)).toHaveLength(0);
    expect(customer(fake, "cus_demo_004")).toEqual(before);
    expect(await auditOf(h.deps, "billing.credit_apply", "acc_demo_004")).toEqual([]);
  });

  it("a lost Stripe response is retried by the adapter with the same key: Stripe replays it, one credit", async () => {
    const before = customer(fake, "cus_demo_003");
    const write = { method: "POST", path: /^\/v1\/customers\/cus_demo_003\/balance_transactions$/ };
    fake.dropNext(1, write);
    const res = await act(h, "support_full", "billing.credit_apply", { target: { type: "account", id: "acc_demo_003" }, input: { amountCents: 700 } });
    fake.clearFaults();
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const writes = fake.requestsTo(write.method, write.path);
    expect(writes).toHaveLength(2);
    expect(writes[0]?.fault).toBe("dropped");
    expect(writes[1]).toMatchObject({ replayed: true });
    expect(writes[1]?.headers["idempotency-key"]).toBe(writes[0]?.headers["idempotency-key"]);
    expect(customer(fake, "cus_demo_003")).toEqual({ balance: before.balance - 700, credits: before.credits + 1 });
    expect(res.body.result).toEqual({ balanceCents: before.balance - 700 });
  });
});
