import type { ActionEffects } from "../../../../shared/schemas/actions.js";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { actionEffects, formatMoney, said, type BillingAfter, type Said } from "../billingEffects.js";
import { isLiveSubscription } from "../billingState.js";
import type { AccountTarget } from "../targets.js";
import type { User } from "../../db/schema.js";

/**
 * Previews of the account actions that give access back (unsuspend, activate): who can sign in again,
 * and what billing does then — a suspension never paused it; an activation resumes a subscription the
 * deactivation set to end, keeps one the customer cancelled, or finds none to resume.
 */
function billingGoesOn(billing: BillingSummary | null | undefined): Said[] {
  if (billing === undefined) return [said("billing_unread", {}, "Billing could not be read; it continues unchanged")];
  if (billing?.nextInvoice?.date) {
    const { amountCents, date } = billing.nextInvoice;
    return [said("billing_continues_invoice", { amountCents, dueDate: date }, `Billing continues: the next invoice of ${formatMoney(amountCents, billing.currency)} is still due on ${date}`)];
  }
  return isLiveSubscription(billing) ? [said("billing_continues", {}, "Billing continues unchanged")] : [];
}

export function unsuspendPreview(target: AccountTarget, users: readonly User[], billing: BillingSummary | null | undefined): ActionEffects {
  return actionEffects(billing ?? null, {
    summary: said("account_unsuspend", { name: target.account.name, count: users.length }, `Lift the suspension of ${target.account.name}: ${users.length} user(s) can sign in again`),
    billingAfter: "unchanged",
    warnings: billingGoesOn(billing),
  });
}

export function activatePreview(target: AccountTarget, users: readonly User[], billing: BillingSummary | null, resumesHeld: boolean): ActionEffects {
  const summary = said("account_activate", { name: target.account.name, count: users.length }, `Activate ${target.account.name}: ${users.length} user(s) can sign in again`);
  if (!isLiveSubscription(billing)) {
    return actionEffects(billing, { summary, billingAfter: "unchanged", warnings: [said("no_subscription_resumes", {}, "There is no subscription to resume: nothing is billed until a new one is set up")] });
  }
  if (!billing.cancelAtPeriodEnd) return actionEffects(billing, { summary, billingAfter: "unchanged", warnings: billingGoesOn(billing) });
  if (!resumesHeld) {
    // Set to end by the customer, not by the deactivation: their cancellation stays.
    const endDate = billing.cancelAt ?? billing.currentPeriodEnd;
    const text = `The subscription stays set to end${endDate ? ` on ${endDate}` : ""}: the customer cancelled it, not the deactivation, so it is not resumed`;
    return actionEffects(billing, { summary, billingAfter: "unchanged", warnings: [endDate ? said("customer_cancel_kept", { endDate }, text) : said("customer_cancel_kept_undated", {}, text)] });
  }
  // Set to end with the period: activation resumes it, so it renews and invoices again at the period end.
  const perPeriod = billing.interval === "year" ? billing.mrrCents * 12 : billing.mrrCents;
  const date = billing.currentPeriodEnd;
  const nextInvoice = date ? { amountCents: Math.max(0, perPeriod + billing.balanceCents), date } : null;
  const after: BillingAfter = { mrrCents: billing.mrrCents, nextInvoice };
  const resumes = nextInvoice?.date
    ? said("subscription_resumes_invoice", { amountCents: nextInvoice.amountCents, dueDate: nextInvoice.date }, `The subscription is resumed: it renews, and the next invoice of about ${formatMoney(nextInvoice.amountCents, billing.currency)} is due on ${nextInvoice.date}`)
    : said("subscription_resumes", {}, "The subscription is resumed: it renews again");
  return actionEffects(billing, { summary, billingAfter: after, warnings: [resumes] });
}
