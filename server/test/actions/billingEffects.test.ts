import { describe, expect, it } from "vitest";
import { BillingSummary } from "../../../shared/schemas/context.js";
import { actionEffects, projectedMrrCents, projectedNextInvoice, said } from "../../src/commands/billingEffects.js";

/**
 * The one billing-effects builder behind every destructive action's preview: `nextInvoice` is the
 * invoice after the action, `mrrLostCents` is MRR now minus MRR after, `activeSubscription` is about
 * now. (The HTTP tests check the same figures per action; this pins the rule on one reading.)
 */
const PERIOD_END = "2026-12-01T00:00:00.000Z";

/** 10 business seats a month, past due with one open invoice, and a 10.00 credit on the balance. */
const pastDue = BillingSummary.parse({
  customerId: "cus_x",
  subscriptionId: "sub_x",
  plan: "business",
  interval: "month",
  status: "past_due",
  trialEnd: null,
  seats: 10,
  currency: "usd",
  mrrCents: 49_000,
  cancelAtPeriodEnd: false,
  cancelAt: null,
  currentPeriodEnd: PERIOD_END,
  addOnCents: 0,
  nextInvoice: { amountCents: 48_000, date: PERIOD_END },
  balanceCents: -1_000,
  recentInvoices: [
    { id: "in_open", number: "X-2", status: "open", amountDueCents: 49_000, amountRemainingCents: 49_000, attemptCount: 3, nextPaymentAttempt: null, createdAt: "2026-11-01T00:00:00.000Z" },
    { id: "in_paid", number: "X-1", status: "paid", amountDueCents: 49_000, amountRemainingCents: 0, attemptCount: 1, nextPaymentAttempt: null, createdAt: "2026-10-01T00:00:00.000Z" },
  ],
  dunning: null,
});

const ada = { id: "usr_1", email: "ada@example.test", name: "Ada", role: "admin" };

describe("actionEffects", () => {
  it("billing unchanged: the next invoice after the action is the one due now, no MRR lost", () => {
    const effects = actionEffects(pastDue, { summary: said("x", {}, "Delete Ada"), billingAfter: "unchanged", usersLosingAccess: [ada] });
    expect(effects).toEqual({
      summary: "Delete Ada",
      summaryPhrase: { code: "x", params: {} },
      activeSubscription: true,
      mrrLostCents: 0,
      currency: "usd",
      nextInvoice: { amountCents: 48_000, date: PERIOD_END },
      openInvoices: 1,
      amountDueCents: 49_000,
      usersLosingAccess: [{ id: "usr_1", email: "ada@example.test", name: "Ada" }],
      retentionUntil: null,
      warnings: ["1 open invoice(s) totalling $490.00 stay due"],
      warningPhrases: [{ code: "open_invoices_due", params: { count: 1, amountCents: 49_000 } }],
    });
  });

  it("subscription ended (now or at the period end): no next invoice, the whole MRR lost, open invoices still due", () => {
    const effects = actionEffects(pastDue, { summary: said("x", {}, "Deactivate"), billingAfter: "ended", retentionUntil: "2027-01-01T00:00:00.000Z", warnings: [said("stops_renewing_period_end", { plan: "pro", mrrCents: 49_000 }, "stops renewing")] });
    expect(effects).toMatchObject({ activeSubscription: true, mrrLostCents: 49_000, nextInvoice: null, openInvoices: 1, amountDueCents: 49_000, retentionUntil: "2027-01-01T00:00:00.000Z" });
    expect(effects.warnings).toEqual(["stops renewing", "1 open invoice(s) totalling $490.00 stay due"]);
    expect(effects.warningPhrases).toEqual([
      { code: "stops_renewing_period_end", params: { plan: "pro", mrrCents: 49_000 } },
      { code: "open_invoices_due", params: { count: 1, amountCents: 49_000 } },
    ]);
  });

  it("subscription changed: the projected invoice (credit applied) and MRR now minus MRR after", () => {
    const change = { seats: 4 };
    const effects = actionEffects(pastDue, { summary: said("x", {}, "Seats 10 → 4"), billingAfter: { mrrCents: projectedMrrCents(pastDue, change), nextInvoice: projectedNextInvoice(pastDue, change) }, usersOverSeats: [ada] });
    expect(effects).toMatchObject({ mrrLostCents: 49_000 - 4 * 4_900, nextInvoice: { amountCents: 4 * 4_900 - 1_000, date: PERIOD_END }, usersOverSeats: [{ id: "usr_1", email: "ada@example.test", name: "Ada" }] });
    const upgrade = actionEffects(pastDue, { summary: said("x", {}, "Plan → enterprise"), billingAfter: { mrrCents: projectedMrrCents(pastDue, { plan: "enterprise" }), nextInvoice: null } });
    expect(upgrade.mrrLostCents).toBe(49_000 - 10 * 8_900);
  });

  it("a live subscription is one that still renews or collects: not canceled, not incomplete, not missing", () => {
    expect(actionEffects({ ...pastDue, status: "canceled", mrrCents: 0 }, { summary: said("x", {}, ""), billingAfter: "unchanged" }).activeSubscription).toBe(false);
    expect(actionEffects({ ...pastDue, status: "incomplete" }, { summary: said("x", {}, ""), billingAfter: "unchanged" }).activeSubscription).toBe(false);
    expect(actionEffects({ ...pastDue, subscriptionId: null }, { summary: said("x", {}, ""), billingAfter: "unchanged" }).activeSubscription).toBe(false);
    expect(actionEffects({ ...pastDue, status: "trialing" }, { summary: said("x", {}, ""), billingAfter: "unchanged" }).activeSubscription).toBe(true);
  });

  it("without a billing customer: nothing to lose or invoice", () => {
    expect(actionEffects(null, { summary: said("x", {}, "No billing"), billingAfter: "ended" })).toMatchObject({ activeSubscription: false, mrrLostCents: 0, currency: "usd", nextInvoice: null, openInvoices: 0, amountDueCents: 0, warnings: [] });
  });
});
