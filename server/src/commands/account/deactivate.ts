import { actionInputs } from "../../../../shared/schemas/actions.js";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { accountAfter } from "../accountAfter.js";
import { actionEffects, formatMoney, said, type Said } from "../billingEffects.js";
import { billingRef, billingSnapshot, currentBilling, earlierBilling, isLiveSubscription } from "../billingState.js";
import { defineCommand, type CommandContext } from "../command.js";
import { runCompensated, type ProviderStep } from "../compensation.js";
import { blockSteps, mirrorBlocked, recordAccountActivity, recordHold, usersToBlock, type HoldBilling, type HoldRequest } from "./accessHolds.js";
import type { Transaction } from "kysely";
import type { Account, DB } from "../../db/schema.js";
import { assertAccountTransition } from "./accountTransitions.js";
import { directoryStep, writeAccount } from "../directoryWrite.js";
import { mirrorWritten, recordAccountWrite } from "../../directory/readThrough.js";
import type { DirectoryAccount } from "../../../../shared/directory/contract.js";

/**
 * account.deactivate — access removed (every active user blocked, remembered by the hold) and the
 * subscription set to end at the close of the period it is paid for. Reversed by account.activate.
 */
export const deactivateAccount = defineCommand({
  action: "account.deactivate",
  targetType: "account",
  input: actionInputs["account.deactivate"],
  provider: ["identity", "directory", "billing"],
  precondition: async (target, ctx) => {
    assertAccountTransition("account.deactivate", target.account);
    await currentBilling(ctx, target.account);
  },
  preview: async (target, _input, ctx) => {
    const billing = await currentBilling(ctx, target.account);
    const users = await usersToBlock(ctx.deps.database.db, target.id);
    const live = isLiveSubscription(billing) && !billing.cancelAtPeriodEnd;
    const warnings: Said[] = [];
    if (live) {
      const text = `The ${billing.plan ?? ""} subscription stops renewing: ${formatMoney(billing.mrrCents, billing.currency)} a month ends on ${billing.currentPeriodEnd ?? "the period end"}`;
      const plan = billing.plan ?? "";
      warnings.push(billing.currentPeriodEnd ? said("stops_renewing", { plan, mrrCents: billing.mrrCents, endDate: billing.currentPeriodEnd }, text) : said("stops_renewing_period_end", { plan, mrrCents: billing.mrrCents }, text));
      if (billing.nextInvoice) warnings.push(said("next_invoice_dropped", { amountCents: billing.nextInvoice.amountCents }, `The next invoice (${formatMoney(billing.nextInvoice.amountCents, billing.currency)}) will not be issued`));
    }
    return actionEffects(billing, {
      summary: said(live ? "account_deactivate_billed" : "account_deactivate", { name: target.account.name, count: users.length }, `Deactivate ${target.account.name}: ${users.length} user(s) lose access${live ? "; the subscription ends at the end of the current period" : ""}`),
      billingAfter: live ? "ended" : "unchanged",
      usersLosingAccess: users,
      warnings,
    });
  },
  perform: async (target, _input, ctx, call) => {
    const billing = await earlierBilling(ctx);
    const users = await usersToBlock(call.executor ?? ctx.deps.database.db, target.id);
    let subscription: BillingSummary | null = billing;
    let account: DirectoryAccount | undefined;
    const steps: ProviderStep[] = blockSteps(users, true, ctx, call);
    const setsToEnd = deactivationBilling(billing).setToEnd !== null;
    let answer: BillingSummary | null = null;
    if (setsToEnd) {
      steps.push({ label: "end the subscription at period end", run: async () => (subscription = answer = await ctx.deps.billing.cancelSubscription(billingRef(target.account), "at_period_end", { ...call, idempotencyKey: `${call.idempotencyKey}:cancel` })) });
    }
    // The product's keyed write goes last, as in every action: what fails before it is undone or left unknown, never half-recorded.
    steps.push(...directoryStep(ctx, `deactivate ${target.id} in the directory`, async () => void (account = await writeAccount(target, { status: "deactivated" }, ctx, call))));
    await runCompensated(steps, { logger: ctx.deps.logger, transactional: Boolean(call.executor) });
    return { blockedUserIds: users.map((u) => u.id), subscription: billingSnapshot(subscription), account, billingHold: deactivationBilling(billing, answer) };
  },
  apply: async (trx, target, _input, ctx, performed) => {
    const holdId = await recordDeactivation(trx, target.account, performed.blockedUserIds, performed.billingHold, ctx, performed.account);
    await mirrorWritten(trx, ctx.deps, { account: performed.account }, ctx.now);
    return {
      after: { ...(await accountAfter(trx, target.id, performed.account)), blockedUserIds: performed.blockedUserIds, holdId, subscription: performed.subscription },
      result: { blockedUsers: performed.blockedUserIds.length, subscription: performed.subscription },
    };
  },
});

/**
 * Only a cancel this deactivation sets is its own to undo; one already in place is the customer's. `answer`: the
 * provider's reading after setting it to end, which dates the request (operation.resolve passes its own reading of
 * the provider; without one the time is not known and activation goes by the subscription id alone).
 */
export function deactivationBilling(billing: BillingSummary | null, answer: BillingSummary | null = null): HoldBilling {
  const setToEnd = isLiveSubscription(billing) && !billing.cancelAtPeriodEnd ? billing.subscriptionId : null;
  const answered = setToEnd !== null && answer !== null && answer.subscriptionId === setToEnd && answer.cancelAtPeriodEnd;
  return { setToEnd, cancelRequestedAt: answered ? (answer.cancelRequestedAt ?? null) : null, before: billingSnapshot(billing) };
}

/**
 * The local record of a deactivation: the blocked copy, the hold that remembers whom it blocked (and the
 * status it replaced: `account` as the request saw it), the status. Written by apply (`answer`: the product's
 * to the write, with the http directory), and by operation.resolve when a person confirms a lost deactivation did happen.
 */
export async function recordDeactivation(trx: Transaction<DB>, account: Account, blockedUserIds: readonly string[], billingHold: HoldBilling, ctx: HoldRequest & Pick<CommandContext, "deps">, answer?: DirectoryAccount): Promise<string> {
  await mirrorBlocked(trx, blockedUserIds, true, ctx.now);
  const holdId = await recordHold(trx, account, "deactivation", blockedUserIds, ctx, billingHold);
  await recordAccountWrite(trx, ctx.deps, account.id, { status: "deactivated" }, { answer, now: ctx.now });
  await recordAccountActivity(trx, account.id, "account_deactivated", ctx, `deactivated (${blockedUserIds.length} user(s) blocked, subscription ends at period end)`);
  return holdId;
}
