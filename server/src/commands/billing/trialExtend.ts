import { actionInputs } from "../../../../shared/schemas/actions.js";
import { Problem } from "../../http/problem.js";
import { accountAfter } from "../accountAfter.js";
import { sameSecond, subscriptionReread } from "../billingReread.js";
import { defineCommand } from "../command.js";
import { actionEffects, formatMoney, said } from "../billingEffects.js";
import { assertBillingOpen, billingBefore, billingRef, billingSnapshot, currentBilling, earlierBilling, liveSubscription } from "../billingState.js";

const DAY_MS = 86_400_000;
/** Stripe refuses a trial ending more than 730 days from now; the built-in billing keeps the same limit, so both answer alike. */
export const MAX_TRIAL_DAYS_AHEAD = 730;

/** The new trial end: `days` after the current one (or after now, if the provider has none). */
function extendedTrialEnd(trialEnd: string | null, days: number, now: Date): Date {
  const from = trialEnd ? new Date(trialEnd) : now;
  return new Date(Math.max(from.getTime(), now.getTime()) + days * DAY_MS);
}

/** billing.trial_extend — more trial days for a trialing subscription; support_full up to its cap, more is operations. */
export const extendTrial = defineCommand({
  action: "billing.trial_extend",
  targetType: "account",
  input: actionInputs["billing.trial_extend"],
  provider: "billing",
  capValue: (input) => input.days,
  providerState: billingBefore,
  precondition: async (target, ctx) => {
    assertBillingOpen("billing.trial_extend", target.account);
    const billing = liveSubscription(await currentBilling(ctx, target.account), target.id);
    if (billing.status !== "trialing") throw Problem.conflict("invalid_transition", `Only a trialing subscription can be extended; this one is ${billing.status}`, { subscriptionStatus: billing.status });
  },
  validate: async (target, input, ctx) => {
    const billing = liveSubscription(await currentBilling(ctx, target.account), target.id);
    const until = extendedTrialEnd(billing.trialEnd, input.days, ctx.now);
    const latest = new Date(ctx.now.getTime() + MAX_TRIAL_DAYS_AHEAD * DAY_MS);
    if (until.getTime() > latest.getTime()) {
      const room = Math.max(0, input.days - Math.ceil((until.getTime() - latest.getTime()) / DAY_MS));
      throw Problem.conflict("trial_too_long", `A trial can end at most ${MAX_TRIAL_DAYS_AHEAD} days from now (${latest.toISOString().slice(0, 10)}); +${input.days} day(s) would end it ${until.toISOString().slice(0, 10)}. At most ${room} more day(s) are possible`, {
        trialEnd: billing.trialEnd,
        requestedTrialEnd: until.toISOString(),
        latestTrialEnd: latest.toISOString(),
        maxDays: room,
      });
    }
  },
  // Not destructive, but it moves the first invoice: the new trial end and that invoice's date are shown first.
  preview: async (target, input, ctx) => {
    const billing = liveSubscription(await currentBilling(ctx, target.account), target.id);
    const untilDate = extendedTrialEnd(billing.trialEnd, input.days, ctx.now).toISOString();
    const next = billing.nextInvoice;
    return actionEffects(billing, {
      summary: billing.trialEnd
        ? said("trial_extend", { count: input.days, fromDate: billing.trialEnd, untilDate }, `Trial +${input.days} day(s): it ends ${untilDate.slice(0, 10)} instead of ${billing.trialEnd.slice(0, 10)}`)
        : said("trial_extend_undated", { count: input.days, untilDate }, `Trial +${input.days} day(s): it ends ${untilDate.slice(0, 10)}`),
      billingAfter: { mrrCents: billing.mrrCents, nextInvoice: next && { amountCents: next.amountCents, date: untilDate } },
      warnings: next ? [said("first_invoice_moves", { amountCents: next.amountCents, dueDate: untilDate }, `The first invoice of ${formatMoney(next.amountCents, billing.currency)} moves to ${untilDate.slice(0, 10)}`)] : [],
    });
  },
  perform: async (target, input, ctx, call) => {
    const billing = await earlierBilling(ctx);
    return ctx.deps.billing.extendTrial(billingRef(target.account), extendedTrialEnd(billing?.trialEnd ?? null, input.days, ctx.now), call);
  },
  // The reconciler's ctx.now is the request's, so the same trial end is expected.
  verify: (target, input, ctx) =>
    subscriptionReread(target.account, ctx, {
      intended: (now, before) => sameSecond(now.trialEnd, extendedTrialEnd(before.trialEnd, input.days, ctx.now)),
      unchanged: (now, before) => now.trialEnd === before.trialEnd || sameSecond(now.trialEnd, before.trialEnd),
    }),
  apply: async (trx, target, input, ctx, billing) => {
    await trx.insertInto("activity_events").values({ account_id: target.id, user_id: null, type: "trial_extended", detail: `+${input.days} days, trial ends ${billing.trialEnd ?? "?"} (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now }).execute();
    return { after: { ...(await accountAfter(trx, target.id)), billing: billingSnapshot(billing) }, result: { trialEnd: billing.trialEnd } };
  },
});
