import { actionInputs } from "../../../../shared/schemas/actions.js";
import { Problem } from "../../http/problem.js";
import { accountAfter } from "../accountAfter.js";
import { subscriptionReread } from "../billingReread.js";
import { defineCommand } from "../command.js";
import { actionEffects, cancelNowTerms, formatMoney, said, type Said } from "../billingEffects.js";
import { billingBefore, billingRef, billingSnapshot, currentBilling, liveSubscription, type LiveSubscription } from "../billingState.js";
import { cancelHeldByDeactivation, handCancelToCustomer, openHolds } from "../account/accessHolds.js";
import type { CommandContext } from "../command.js";
import type { AccountTarget } from "../targets.js";

/** Set to end by the account's deactivation, not by the customer: cancelling at period end makes it theirs. */
async function endingForDeactivation(target: AccountTarget, billing: LiveSubscription, ctx: CommandContext): Promise<boolean> {
  return billing.cancelAtPeriodEnd && cancelHeldByDeactivation(billing, await openHolds(ctx.deps.database.db, target.id, ["deactivation"]));
}

/**
 * billing.subscription_cancel — at period end (default) or now, through the billing port;
 * destructive: the preview shows the MRR lost, the invoice that will no longer come and, for
 * "now", what happens to the unused paid time (credited to the balance; see CancelMode). The account's
 * access is not touched (that is account.deactivate). On a deactivated account whose subscription the
 * deactivation set to end, it records the customer's own cancellation, so account.activate keeps it.
 */
export const cancelSubscription = defineCommand({
  action: "billing.subscription_cancel",
  targetType: "account",
  input: actionInputs["billing.subscription_cancel"],
  provider: "billing",
  providerState: billingBefore,
  precondition: async (target, ctx) => {
    liveSubscription(await currentBilling(ctx, target.account), target.id);
  },
  validate: async (target, input, ctx) => {
    const billing = liveSubscription(await currentBilling(ctx, target.account), target.id);
    if (input.mode === "at_period_end" && billing.cancelAtPeriodEnd && !(await endingForDeactivation(target, billing, ctx))) {
      throw Problem.conflict("invalid_transition", `The subscription is already set to end (${billing.cancelAt ?? billing.currentPeriodEnd ?? "unknown"})`);
    }
  },
  preview: async (target, input, ctx) => {
    const billing = liveSubscription(await currentBilling(ctx, target.account), target.id);
    const when = input.mode === "now" ? "now" : `at the end of the period (${billing.currentPeriodEnd ?? "unknown"})`;
    const warnings: Said[] = [said("keeps_access", {}, "The account keeps its access: use account.deactivate to remove it")];
    if (billing.nextInvoice) {
      const { amountCents, date } = billing.nextInvoice;
      const text = `The invoice of ${formatMoney(amountCents, billing.currency)} due ${date ?? "next"} will not be issued`;
      warnings.unshift(date ? said("invoice_dropped", { amountCents, dueDate: date }, text) : said("next_invoice_dropped", { amountCents }, text));
    }
    const forDeactivation = input.mode === "at_period_end" && (await endingForDeactivation(target, billing, ctx));
    if (forDeactivation) warnings.unshift(said("cancel_outlasts_activation", {}, "The subscription already ends with the period because the account is deactivated; this makes it the customer's own cancellation, so activating the account will not resume it"));
    if (input.mode === "now") warnings.unshift(said("cancel_now_final", {}, "Cancelling now ends the subscription immediately; it cannot be resumed"), cancelNowTerms(billing, ctx.now));
    return actionEffects(billing, {
      summary: said(
        input.mode === "now" ? "cancel_now" : billing.currentPeriodEnd ? "cancel_period_end" : "cancel_period_end_undated",
        { plan: billing.plan ?? "", mrrCents: billing.mrrCents, ...(input.mode !== "now" && billing.currentPeriodEnd ? { endDate: billing.currentPeriodEnd } : {}) },
        `Cancels the ${billing.plan ?? ""} subscription ${when}; MRR lost ${formatMoney(billing.mrrCents, billing.currency)}`,
      ),
      // Already ending for the deactivation: nothing more is lost now.
      billingAfter: forDeactivation ? "unchanged" : "ended",
      warnings,
    });
  },
  perform: (target, input, ctx, call) => ctx.deps.billing.cancelSubscription(billingRef(target.account), input.mode, call),
  // Ended now, or set to end (at the period end or a cancel_at date); unchanged: still renewing as before.
  verify: (target, input, ctx) =>
    subscriptionReread(target.account, ctx, {
      intended: (now) => (input.mode === "now" ? now.status === "canceled" : now.cancelAtPeriodEnd),
      unchanged: (now, before) => now.status === before.status && now.cancelAtPeriodEnd === before.cancelAtPeriodEnd,
    }),
  apply: async (trx, target, input, ctx, billing) => {
    await handCancelToCustomer(trx, target.id);
    await trx.insertInto("activity_events").values({ account_id: target.id, user_id: null, type: "subscription_canceled", detail: `${input.mode === "now" ? "ended now" : "ends at period end"} by support (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now }).execute();
    return { after: { ...(await accountAfter(trx, target.id)), billing: billingSnapshot(billing) } };
  },
});
