import { actionInputs } from "../../../../shared/schemas/actions.js";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { defineCommand } from "../command.js";
import { runCompensated, type ProviderStep } from "../compensation.js";
import { blockSteps, mirrorBlocked, recordAccountActivity, recordHold, usersToBlock } from "./accessHolds.js";
import { accountAfter, assertAccountTransition } from "./accountTransitions.js";
import { billingBefore, billingSeen, effectsOf, isLiveSubscription, money, subscriptionState } from "./billingEffects.js";

/**
 * account.deactivate — access removed (every active user blocked, remembered by the hold) and the
 * subscription set to end at the close of the period it is paid for. Reversed by account.activate.
 */
export const deactivateAccount = defineCommand({
  action: "account.deactivate",
  targetType: "account",
  input: actionInputs["account.deactivate"],
  provider: ["identity", "billing"],
  validate: async (target, _input, ctx) => {
    assertAccountTransition("account.deactivate", target.account);
    await billingBefore(target.account, ctx);
  },
  preview: async (target, _input, ctx) => {
    const billing = await billingBefore(target.account, ctx);
    const users = await usersToBlock(ctx.deps.database.db, target.id);
    const live = isLiveSubscription(billing) && !billing.cancelAtPeriodEnd;
    const warnings: string[] = [];
    if (live) {
      warnings.push(`The ${billing.plan ?? ""} subscription stops renewing: ${money(billing.mrrCents, billing.currency)} a month ends on ${billing.currentPeriodEnd ?? "the period end"}`);
      if (billing.nextInvoice) warnings.push(`The next invoice (${money(billing.nextInvoice.amountCents, billing.currency)}) will not be issued`);
    }
    return effectsOf(billing, {
      summary: `Deactivate ${target.account.name}: ${users.length} user(s) lose access${live ? "; the subscription ends at the end of the current period" : ""}`,
      endsSubscription: live,
      usersLosingAccess: users,
      warnings,
    });
  },
  perform: async (target, _input, ctx, call) => {
    const billing = billingSeen(ctx);
    const users = await usersToBlock(call.executor ?? ctx.deps.database.db, target.id);
    let subscription: BillingSummary | null = billing;
    const steps: ProviderStep[] = blockSteps(users, true, ctx, call);
    if (isLiveSubscription(billing) && !billing.cancelAtPeriodEnd) {
      const ref = { id: target.id, billingCustomerId: target.account.billing_customer_id };
      steps.push({ label: "end the subscription at period end", run: async () => (subscription = await ctx.deps.billing.cancelSubscription(ref, "at_period_end", { ...call, idempotencyKey: `${call.idempotencyKey}:cancel` })) });
    }
    await runCompensated(steps, { logger: ctx.deps.logger, transactional: Boolean(call.executor) });
    return { blockedUserIds: users.map((u) => u.id), subscription: subscriptionState(subscription) };
  },
  apply: async (trx, target, _input, ctx, performed) => {
    await mirrorBlocked(trx, performed.blockedUserIds, true, ctx.now);
    const holdId = await recordHold(trx, target.account, "deactivation", performed.blockedUserIds, ctx);
    await trx.updateTable("accounts").set({ status: "deactivated" }).where("id", "=", target.id).execute();
    await recordAccountActivity(trx, target.id, "account_deactivated", ctx, `deactivated (${performed.blockedUserIds.length} user(s) blocked, subscription ends at period end)`);
    return {
      after: { ...(await accountAfter(trx, target.id)), blockedUserIds: performed.blockedUserIds, holdId, subscription: performed.subscription },
      result: { blockedUsers: performed.blockedUserIds.length, subscription: performed.subscription },
    };
  },
});
