import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import type { AppDeps } from "../../src/deps.js";
import { formatMoney } from "../../src/commands/billingEffects.js";
import { unusedTimeCents } from "../../src/providers/planCatalog.js";
import { databaseKinds } from "../support/databases.js";
import { act, auditCount, auditOf, preview, runAction, useHarness, versionOf, type ActionCall } from "./harness.js";
import { raisedBy, ticketFor } from "../support/tickets.js";

/**
 * billing.trial_extend, billing.credit_apply, billing.plan_change, billing.subscription_cancel over
 * the built-in billing adapter, through the HTTP API, on both databases. (billingStripe.test.ts runs
 * them through the Stripe adapter and its fake.)
 */
const DAY_MS = 86_400_000;
/** Statuses whose current period has been paid for. */
const EARNING_STATUSES: readonly string[] = ["active", "past_due"];

async function subscriptionOf(deps: AppDeps, accountId: string) {
  return deps.database.db
    .selectFrom("billing_subscriptions as s")
    .innerJoin("billing_customers as c", "c.id", "s.customer_id")
    .select(["s.id", "s.plan", "s.status", "s.quantity", "s.trial_end", "s.unit_amount_cents", "s.cancel_at_period_end", "s.canceled_at", "s.current_period_end", "s.interval", "c.balance_cents"])
    .where("c.account_id", "=", accountId)
    .executeTakeFirstOrThrow();
}

/** The billing state an action would change, to prove "nothing changed". */
async function billingState(deps: AppDeps, accountId: string) {
  const [sub, account, txns] = await Promise.all([
    subscriptionOf(deps, accountId),
    deps.database.db.selectFrom("accounts").select(["plan", "seats_licensed", "status", "version"]).where("id", "=", accountId).executeTakeFirstOrThrow(),
    deps.database.db.selectFrom("billing_balance_transactions as t").innerJoin("billing_customers as c", "c.id", "t.customer_id").select((eb) => eb.fn.countAll<number>().as("n")).where("c.account_id", "=", accountId).executeTakeFirstOrThrow(),
  ]);
  return { sub, account, balanceTransactions: Number(txns.n) };
}

interface MatrixCase {
  action: string;
  body: ActionCall;
  allowed: PanelRole;
  lower: PanelRole;
  badInput: Record<string, unknown>;
  destructive?: boolean;
}

// One account per action so the cases do not disturb each other.
const matrix: MatrixCase[] = [
  { action: "billing.trial_extend", body: { target: { type: "account", id: "acc_demo_013" }, input: { days: 5 } }, allowed: "support_full", lower: "support_read_only", badInput: { days: 0 } },
  { action: "billing.credit_apply", body: { target: { type: "account", id: "acc_demo_011" }, input: { amountCents: 1_000 } }, allowed: "support_full", lower: "support_read_only", badInput: { amountCents: -5 } },
  { action: "billing.plan_change", body: { target: { type: "account", id: "acc_demo_012" }, input: { plan: "enterprise" } }, allowed: "operations", lower: "support_full", badInput: { plan: "platinum" }, destructive: true },
  { action: "billing.subscription_cancel", body: { target: { type: "account", id: "acc_demo_018" }, input: { mode: "at_period_end" } }, allowed: "operations", lower: "support_full", badInput: { mode: "yesterday" }, destructive: true },
];

describe.each(databaseKinds)("billing actions on the built-in adapter (%s)", (kind) => {
  const h = useHarness(kind);

  describe.each(matrix)("$action", (c) => {
    const accountId = c.body.target.id;

    it("refuses a lower panel role with 403 naming the action and role, audited as denied", async () => {
      const before = await billingState(h.deps, accountId);
      const res = await act(h, c.lower, c.action, c.body);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: "action_not_allowed", action: c.action, requiredRole: c.allowed, panelRole: c.lower });
      const denied = (await auditOf(h.deps, c.action)).filter((e) => e.outcome === "denied");
      expect(denied.at(-1)).toMatchObject({ actor: { panelRole: c.lower }, ticketId: await ticketFor(h.deps, c.body.target), reason: "Customer asked on the ticket" });
      expect(await billingState(h.deps, accountId)).toEqual(before);
    });

    it("answers bad input with 400 naming the field, and changes nothing", async () => {
      const before = await billingState(h.deps, accountId);
      const audits = await auditCount(h.deps);
      const res = await act(h, c.allowed, c.action, { ...c.body, input: c.badInput });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toMatch(/^body\.input\./);
      const noReason = await act(h, c.allowed, c.action, { ...c.body, reason: " " });
      expect(noReason.status).toBe(400);
      expect(noReason.body.errors.map((e: { field: string }) => e.field)).toContain("body.reason");
      expect(await billingState(h.deps, accountId)).toEqual(before);
      expect(await auditCount(h.deps)).toBe(audits);
    });

    it("answers a stale version with 409 and changes nothing", async () => {
      const before = await billingState(h.deps, accountId);
      const version = await versionOf(h.deps, c.body.target);
      const res = await act(h, c.allowed, c.action, { ...c.body, expectedVersion: version - 1 || version + 1 });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ code: "stale_version", currentVersion: version });
      expect(await billingState(h.deps, accountId)).toEqual(before);
    });

    it("performs once when retried with the same Idempotency-Key", async () => {
      const key = `retry-${c.action}-${kind}`;
      const first = await runAction(h, c.allowed, c.action, c.destructive, c.body, { idempotencyKey: key });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const afterFirst = await billingState(h.deps, accountId);
      // The retry carries the version the agent originally saw, as a client resending its request does.
      const retry = await act(h, c.allowed, c.action, { ...c.body, expectedVersion: (first.body.before as { version: number }).version }, { idempotencyKey: key });
      expect(retry.status).toBe(200);
      expect(retry.body).toMatchObject({ replayed: true, auditEntryId: first.body.auditEntryId, operationId: first.body.operationId });
      expect(await billingState(h.deps, accountId)).toEqual(afterFirst);
      expect((await auditOf(h.deps, c.action, accountId)).filter((e) => e.outcome === "succeeded")).toHaveLength(1);
    });
  });

  describe("billing.trial_extend", () => {
    const target = { type: "account" as const, id: "acc_demo_002" };

    it("moves the trial end by the days asked, recording before and after", async () => {
      const before = await subscriptionOf(h.deps, target.id);
      const res = await act(h, "support_full", "billing.trial_extend", { target, input: { days: 7 }, ticketId: await raisedBy(h.deps, target, "1002"), reason: "Needs another week to evaluate" });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const after = await subscriptionOf(h.deps, target.id);
      expect(new Date(after.trial_end as Date).getTime() - new Date(before.trial_end as Date).getTime()).toBe(7 * DAY_MS);
      expect(after.status).toBe("trialing");
      // This request's own entry: the cap test may have extended the same trial before.
      const entry = (await auditOf(h.deps, "billing.trial_extend", target.id)).find((e) => e.id === res.body.auditEntryId);
      expect(entry).toMatchObject({ outcome: "succeeded", ticketId: "1002", reason: "Needs another week to evaluate", actor: { panelRole: "support_full" } });
      expect(entry?.before).toMatchObject({ status: "trialing", billing: { status: "trialing", trialEnd: new Date(before.trial_end as Date).toISOString() } });
      expect(entry?.after).toMatchObject({ billing: { trialEnd: new Date(after.trial_end as Date).toISOString() } });
      expect(res.body.result).toEqual({ trialEnd: new Date(after.trial_end as Date).toISOString() });
    });

    it("caps support_full at 14 days (403 naming the cap, audited); operations may give 30", async () => {
      const before = await subscriptionOf(h.deps, target.id);
      const res = await act(h, "support_full", "billing.trial_extend", { target, input: { days: 30 } });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: "over_cap", action: "billing.trial_extend", value: 30, cap: { field: "days", limit: 14, unit: "days" } });
      expect(res.body.detail).toContain("14 days");
      const denied = (await auditOf(h.deps, "billing.trial_extend")).filter((e) => e.outcome === "denied").at(-1);
      expect(denied?.error).toContain("over_cap");
      expect(await subscriptionOf(h.deps, target.id)).toEqual(before);

      const ops = await act(h, "operations", "billing.trial_extend", { target, input: { days: 30 } });
      expect(ops.status).toBe(200);
      expect(new Date((await subscriptionOf(h.deps, target.id)).trial_end as Date).getTime()).toBe(new Date(before.trial_end as Date).getTime() + 30 * DAY_MS);
    });

    it("refuses a subscription that is not trialing (409) and audits the failure", async () => {
      const res = await act(h, "support_full", "billing.trial_extend", { target: { type: "account", id: "acc_demo_001" }, input: { days: 3 } });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ code: "invalid_transition", subscriptionStatus: "active" });
      expect((await auditOf(h.deps, "billing.trial_extend", "acc_demo_001")).map((e) => e.outcome)).toEqual(["failed"]);
    });
  });

  // Each test its own account (no other test here touches them), so the seeded balance is what it starts from.
  describe("billing.credit_apply", () => {
    it("credits the balance once, with the balance before and after in the audit entry", async () => {
      // Seeded with a zero balance and no balance transactions.
      const target = { type: "account" as const, id: "acc_demo_007" };
      const res = await act(h, "support_full", "billing.credit_apply", { target, input: { amountCents: 2_500, description: "Outage on 3 Nov" }, ticketId: await raisedBy(h.deps, target, "1001") });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.result).toEqual({ balanceCents: -2_500 });
      expect((await subscriptionOf(h.deps, target.id)).balance_cents).toBe(-2_500);
      const txns = await h.deps.database.db.selectFrom("billing_balance_transactions").selectAll().where("customer_id", "=", "cus_demo_007").execute();
      expect(txns).toMatchObject([{ amount_cents: -2_500, description: "Outage on 3 Nov" }]);
      const [entry] = (await auditOf(h.deps, "billing.credit_apply", target.id)).filter((e) => e.outcome === "succeeded");
      expect(entry?.before).toMatchObject({ balanceCents: 0, currency: "usd" });
      expect(entry?.after).toMatchObject({ balanceCents: -2_500, creditedCents: 2_500 });
    });

    it("states amounts in the customer's currency's own minor unit: 5,000 for a yen customer is ¥5,000, not ¥50", async () => {
      const target = { type: "account" as const, id: "acc_demo_014" };
      await h.deps.database.db.updateTable("billing_customers").set({ currency: "jpy" }).where("account_id", "=", target.id).execute();
      const shown = await preview(h, "support_full", "billing.credit_apply", { target, input: { amountCents: 5_000 } });
      expect(shown.status, JSON.stringify(shown.body)).toBe(200);
      expect(shown.body.effects.summary).toContain("Credit ¥5,000 to");
      const res = await act(h, "support_full", "billing.credit_apply", { target, input: { amountCents: 5_000 } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const activity = await h.deps.database.db.selectFrom("activity_events").select("detail").where("account_id", "=", target.id).where("type", "=", "credit_applied").execute();
      expect(activity.map((a) => a.detail)).toEqual([expect.stringMatching(/^¥5,000 credit by support/)]);
    });

    it("caps support_full at 5,000 cents; more needs operations", async () => {
      // Seeded with a balance of -2,500 cents.
      const target = { type: "account" as const, id: "acc_demo_003" };
      const res = await act(h, "support_full", "billing.credit_apply", { target, input: { amountCents: 5_001 } });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: "over_cap", cap: { field: "amountCents", limit: 5_000, unit: "cents" } });
      expect((await subscriptionOf(h.deps, target.id)).balance_cents).toBe(-2_500);
      const ops = await act(h, "operations", "billing.credit_apply", { target, input: { amountCents: 20_000 } });
      expect(ops.status).toBe(200);
      expect((await subscriptionOf(h.deps, target.id)).balance_cents).toBe(-22_500);
    });
  });

  describe("billing.plan_change", () => {
    const target = { type: "account" as const, id: "acc_demo_001" };

    it("previews the MRR change and next invoice, needs the confirmation, then switches the plan", async () => {
      const shown = await preview(h, "operations", "billing.plan_change", { target, input: { plan: "team" } });
      expect(shown.status, JSON.stringify(shown.body)).toBe(200);
      // 25 seats monthly: business 49.00 → team 29.00 per seat.
      expect(shown.body.effects).toMatchObject({ activeSubscription: true, mrrLostCents: 25 * 4_900 - 25 * 2_900, currency: "usd" });
      expect(shown.body.effects.nextInvoice.amountCents).toBe(Math.max(0, 25 * 2_900 + (await subscriptionOf(h.deps, target.id)).balance_cents));
      expect(shown.body.effects.summary).toContain("business → team");

      const unconfirmed = await act(h, "operations", "billing.plan_change", { target, input: { plan: "team" } });
      expect(unconfirmed.status).toBe(428);
      expect((await subscriptionOf(h.deps, target.id)).plan).toBe("business");

      const res = await act(h, "operations", "billing.plan_change", { target, input: { plan: "team" }, confirmationToken: shown.body.confirmationToken });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const sub = await subscriptionOf(h.deps, target.id);
      expect(sub).toMatchObject({ plan: "team", unit_amount_cents: 2_900, quantity: 25 });
      const account = await h.deps.database.db.selectFrom("accounts").select("plan").where("id", "=", target.id).executeTakeFirstOrThrow();
      expect(account.plan).toBe("team");
      const [entry] = (await auditOf(h.deps, "billing.plan_change", target.id)).filter((e) => e.outcome === "succeeded");
      expect(entry?.before).toMatchObject({ plan: "business", billing: { plan: "business", mrrCents: 25 * 4_900 }, effects: { mrrLostCents: 50_000 } });
      expect(entry?.after).toMatchObject({ plan: "team", billing: { plan: "team", mrrCents: 25 * 2_900 } });
    });

    it("refuses a confirmation whose preview no longer matches (409) and the same plan (409)", async () => {
      // Its own account, seeded on team (monthly, active), so the test above switching acc_demo_001 does not matter.
      const target = { type: "account" as const, id: "acc_demo_025" };
      expect((await subscriptionOf(h.deps, target.id)).plan).toBe("team");
      const shown = await preview(h, "operations", "billing.plan_change", { target, input: { plan: "starter" } });
      expect(shown.status).toBe(200);
      // Billing changes under the preview without touching the account's version: the next invoice differs now.
      await h.deps.database.db.updateTable("billing_customers").set({ balance_cents: -999 }).where("id", "=", "cus_demo_025").execute();
      const res = await act(h, "operations", "billing.plan_change", { target, input: { plan: "starter" }, confirmationToken: shown.body.confirmationToken });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("confirmation_stale");
      expect((await subscriptionOf(h.deps, target.id)).plan).toBe("team");

      const same = await preview(h, "operations", "billing.plan_change", { target, input: { plan: "team" } });
      expect(same.status).toBe(409);
      expect(same.body.code).toBe("invalid_transition");
    });
  });

  describe("billing.subscription_cancel", () => {
    it("at period end: previews the MRR lost, then sets cancel_at_period_end", async () => {
      const target = { type: "account" as const, id: "acc_demo_008" };
      const shown = await preview(h, "operations", "billing.subscription_cancel", { target, input: {} });
      expect(shown.status, JSON.stringify(shown.body)).toBe(200);
      expect(shown.body.effects).toMatchObject({ activeSubscription: true, mrrLostCents: 60 * 8_900, nextInvoice: null });
      expect(shown.body.effects.warnings.join(" ")).toMatch(/will not be issued/);
      const res = await act(h, "operations", "billing.subscription_cancel", { target, input: {}, confirmationToken: shown.body.confirmationToken });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await subscriptionOf(h.deps, target.id)).toMatchObject({ status: "active", cancel_at_period_end: true });
      const [entry] = (await auditOf(h.deps, "billing.subscription_cancel", target.id)).filter((e) => e.outcome === "succeeded");
      expect(entry?.before).toMatchObject({ billing: { cancelAtPeriodEnd: false, mrrCents: 60 * 8_900 } });
      expect(entry?.after).toMatchObject({ billing: { cancelAtPeriodEnd: true, nextInvoice: null } });

      const again = await preview(h, "operations", "billing.subscription_cancel", { target, input: {} });
      expect(again.status).toBe(409);
      expect(again.body.code).toBe("invalid_transition");
    });

    it("now: ends the subscription at once, crediting the unused paid time as the preview says", async () => {
      const target = { type: "account" as const, id: "acc_demo_009" };
      const live = await subscriptionOf(h.deps, target.id);
      const customerBefore = await h.deps.database.db.selectFrom("billing_customers").select(["id", "balance_cents"]).where("account_id", "=", target.id).executeTakeFirstOrThrow();
      const credit = EARNING_STATUSES.includes(live.status) ? unusedTimeCents(live.unit_amount_cents * live.quantity, live.current_period_end, live.interval, h.deps.clock.now()) : 0;
      const shown = await preview(h, "operations", "billing.subscription_cancel", { target, input: { mode: "now" } });
      expect(shown.status, JSON.stringify(shown.body)).toBe(200);
      const terms = shown.body.effects.warnings.join(" ");
      if (credit > 0) expect(terms).toContain(`The unused time until ${live.current_period_end.toISOString().slice(0, 10)} (about ${formatMoney(credit, "usd")}) is credited to the customer's balance, not refunded to the card`);
      else expect(terms).toContain("no unused time is credited");
      const phrases = shown.body.effects.warningPhrases as { code: string; params: Record<string, unknown> }[];
      expect(phrases.find((p) => p.code.startsWith("cancel_now_") && p.code !== "cancel_now_final")).toEqual(
        credit > 0 ? { code: "cancel_now_credit", params: { untilDate: live.current_period_end.toISOString(), creditCents: credit } } : { code: "cancel_now_unpaid", params: {} },
      );
      expect(shown.body.effects.summaryPhrase).toEqual({ code: "cancel_now", params: { plan: live.plan, mrrCents: shown.body.effects.mrrLostCents } });
      const res = await act(h, "operations", "billing.subscription_cancel", { target, input: { mode: "now" }, confirmationToken: shown.body.confirmationToken });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const sub = await subscriptionOf(h.deps, target.id);
      expect(sub.status).toBe("canceled");
      expect(sub.canceled_at).not.toBeNull();
      expect(res.body.after).toMatchObject({ billing: { status: "canceled", mrrCents: 0, balanceCents: customerBefore.balance_cents - credit } });
      const customerAfter = await h.deps.database.db.selectFrom("billing_customers").select(["balance_cents"]).where("id", "=", customerBefore.id).executeTakeFirstOrThrow();
      expect(customerAfter.balance_cents).toBe(customerBefore.balance_cents - credit);
      const ended = await preview(h, "operations", "billing.subscription_cancel", { target, input: { mode: "now" } });
      expect(ended.status).toBe(409);
      expect(ended.body.code).toBe("subscription_ended");
    });
  });
});
