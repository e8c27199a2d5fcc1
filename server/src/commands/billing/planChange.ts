import { actionInputs } from "../../../../shared/schemas/actions.js";
import { Problem } from "../../http/problem.js";
import { isPlanName, planNames } from "../../providers/planCatalog.js";
import { accountAfter } from "../accountAfter.js";
import { subscriptionReread, withBilling } from "../billingReread.js";
import { defineCommand } from "../command.js";
import { actionEffects, formatMoney, said, projectedMrrCents, projectedNextInvoice } from "../billingEffects.js";
import { assertBillingOpen, billingBefore, billingRef, billingSnapshot, currentBilling, liveSubscription } from "../billingState.js";
import { directoryStep, runSteps, writeAccount } from "../directoryWrite.js";
import { mirrorWritten, recordAccountWrite } from "../../directory/readThrough.js";
import type { DirectoryAccount } from "../../../../shared/directory/contract.js";
import type { BillingSummary } from "../../../../shared/schemas/context.js";

/**
 * billing.plan_change — moves the subscription to another plan (same interval and seats) through
 * the billing port; destructive: the preview shows the MRR change and the next invoice first.
 */
export const changePlan = defineCommand({
  action: "billing.plan_change",
  targetType: "account",
  // Bad input changes nothing: a plan outside the configured catalog is refused with the input's 400, before any audit.
  input: actionInputs["billing.plan_change"].refine((input) => isPlanName(input.plan), {
    path: ["plan"],
    error: () => `expected a plan from the plan catalog: ${planNames().join(", ")}`,
  }),
  provider: ["billing", "directory"],
  providerState: billingBefore,
  precondition: async (target, ctx) => {
    assertBillingOpen("billing.plan_change", target.account);
    liveSubscription(await currentBilling(ctx, target.account), target.id);
  },
  validate: async (target, input, ctx) => {
    const billing = liveSubscription(await currentBilling(ctx, target.account), target.id);
    if (billing.plan === input.plan) throw Problem.conflict("invalid_transition", `The subscription is already on the ${input.plan} plan`, { plan: input.plan });
  },
  preview: async (target, input, ctx) => {
    const billing = liveSubscription(await currentBilling(ctx, target.account), target.id);
    const mrrAfter = projectedMrrCents(billing, { plan: input.plan });
    const warnings = [said("estimates", {}, "Figures are estimates: the provider prorates the change on the next invoice")];
    if (billing.status === "trialing") warnings.unshift(said("trialing_price_later", {}, "The subscription is trialing: the new price applies when the trial ends"));
    if (billing.cancelAtPeriodEnd) warnings.unshift(said("cancels_at_period_end", {}, "The subscription is set to cancel at the end of the period"));
    return actionEffects(billing, {
      summary: said(
        `plan_change_${billing.interval ?? "month"}`,
        { from: billing.plan ?? "—", to: input.plan, count: billing.seats ?? 0, mrrBeforeCents: billing.mrrCents, mrrAfterCents: mrrAfter },
        `Plan ${billing.plan ?? "none"} → ${input.plan} (${billing.seats ?? 0} seats, ${billing.interval ?? "month"}ly); MRR ${formatMoney(billing.mrrCents, billing.currency)} → ${formatMoney(mrrAfter, billing.currency)}`,
      ),
      billingAfter: { mrrCents: mrrAfter, nextInvoice: projectedNextInvoice(billing, { plan: input.plan }) },
      warnings,
    });
  },
  // Billing, then the product's own copy of the plan (keyed, last as in every action).
  perform: async (target, input, ctx, call) => {
    let billing: BillingSummary | undefined;
    let account: DirectoryAccount | undefined;
    await runSteps(
      [
        { label: `move the subscription to ${input.plan}`, run: async () => void (billing = await ctx.deps.billing.changePlan(billingRef(target.account), input.plan, call)) },
        ...directoryStep(ctx, `set ${target.id} to the ${input.plan} plan in the directory`, async () => void (account = await writeAccount(target, { plan: input.plan }, ctx, call))),
      ],
      ctx,
      call,
    );
    return { billing: billing!, account };
  },
  // Billing's re-read settles the plan when the product's copy is ours (builtin); with the product's own
  // directory the re-read cannot see the product's write, so the keyed retry or a person decides.
  verify: async (target, input, ctx) =>
    ctx.deps.directory.name !== "builtin"
      ? null
      : withBilling(await subscriptionReread(target.account, ctx, { intended: (now) => now.plan === input.plan, unchanged: (now, before) => now.plan === before.plan })),
  apply: async (trx, target, input, ctx, { billing, account }) => {
    // The product's own copy of the plan follows the provider.
    await recordAccountWrite(trx, ctx.deps, target.id, { plan: input.plan }, { answer: account, now: ctx.now });
    await mirrorWritten(trx, ctx.deps, { account }, ctx.now);
    await trx.insertInto("activity_events").values({ account_id: target.id, user_id: null, type: "plan_changed", detail: `${target.account.plan} → ${input.plan} by support (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now }).execute();
    return { after: { ...(await accountAfter(trx, target.id, account)), billing: billingSnapshot(billing) } };
  },
});
