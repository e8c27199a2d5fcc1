import { activatePreview } from "./restorePreviews.js";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { accountAfter } from "../accountAfter.js";
import { billingRef, billingSnapshot, currentBilling, earlierBilling, isLiveSubscription } from "../billingState.js";
import { defineCommand, type CommandContext } from "../command.js";
import type { Transaction } from "kysely";
import type { DB } from "../../db/schema.js";
import type { AccountStatus } from "../../../../shared/roles.js";
import { runCompensated, type ProviderStep } from "../compensation.js";
import { blockSteps, cancelHeldByDeactivation, mirrorBlocked, openHolds, recordAccountActivity, releaseHolds, usersHeldBy, type AccessHold } from "./accessHolds.js";
import { assertAccountTransition, restoredStatus } from "./accountTransitions.js";
import { directoryStep, writeAccount } from "../directoryWrite.js";
import { mirrorWritten, recordAccountWrite } from "../../directory/readThrough.js";
import type { DirectoryAccount } from "../../../../shared/directory/contract.js";

/**
 * account.activate — the reverse of account.deactivate: unblocks the users the deactivation (and
 * any suspension before it) blocked, and resumes the subscription if the deactivation set it to end and
 * it has not ended yet. A cancellation the customer asked for themselves stays: resuming it would bill them again.
 */
export const activateAccount = defineCommand({
  action: "account.activate",
  targetType: "account",
  input: actionInputs["account.activate"],
  provider: ["identity", "directory", "billing"],
  precondition: async (target, ctx) => {
    assertAccountTransition("account.activate", target.account);
    await currentBilling(ctx, target.account);
  },
  // Gives access back and may resume billing: both shown first (billing was read by the precondition).
  preview: async (target, _input, ctx) => {
    const db = ctx.deps.database.db;
    const holds = await openHolds(db, target.id, ["suspension", "deactivation"]);
    const users = await usersHeldBy(db, holds);
    const billing = await currentBilling(ctx, target.account);
    return activatePreview(target, users, billing, resumes(billing, holds));
  },
  perform: async (target, _input, ctx, call) => {
    const db = call.executor ?? ctx.deps.database.db;
    const billing = await earlierBilling(ctx);
    const holds = await openHolds(db, target.id, ["suspension", "deactivation"]);
    const users = await usersHeldBy(db, holds);
    const status = restoredStatus(holds[0]?.previous_status);
    let account: DirectoryAccount | undefined;
    const steps: ProviderStep[] = blockSteps(users, false, ctx, call);
    let subscription: BillingSummary | null = billing;
    const { resumable, keptUntil, billingNote } = activationBilling(billing, holds);
    if (resumable) {
      steps.push({ label: "resume the subscription", run: async () => (subscription = await ctx.deps.billing.resumeSubscription(billingRef(target.account), { ...call, idempotencyKey: `${call.idempotencyKey}:resume` })) });
    }
    // The product's keyed write goes last, as in every action: what fails before it is undone or left unknown, never half-recorded.
    steps.push(...directoryStep(ctx, `activate ${target.id} in the directory`, async () => void (account = await writeAccount(target, { status }, ctx, call))));
    await runCompensated(steps, { logger: ctx.deps.logger, transactional: Boolean(call.executor) });
    return { holds, unblockedUserIds: users.map((u) => u.id), status, account, subscriptionResumed: resumable, cancellationKept: keptUntil !== null, billingNote, subscription: billingSnapshot(subscription) };
  },
  apply: async (trx, target, _input, ctx, performed) => {
    await recordActivation(trx, target.id, performed, ctx, performed.account);
    await mirrorWritten(trx, ctx.deps, { account: performed.account }, ctx.now);
    return {
      after: {
        ...(await accountAfter(trx, target.id, performed.account)),
        unblockedUserIds: performed.unblockedUserIds,
        releasedHoldIds: performed.holds.map((h) => h.id),
        subscription: performed.subscription,
        subscriptionResumed: performed.subscriptionResumed,
        cancellationKept: performed.cancellationKept,
      },
      result: { unblockedUsers: performed.unblockedUserIds.length, status: performed.status, subscriptionResumed: performed.subscriptionResumed, cancellationKept: performed.cancellationKept, billing: performed.billingNote },
    };
  },
});

/** Resumed only when the cancellation in place is the one the deactivation asked for itself (same subscription, same request). */
function resumes(billing: BillingSummary | null, holds: readonly AccessHold[]): boolean {
  return isLiveSubscription(billing) && cancelHeldByDeactivation(billing, holds);
}

/** What activating does to billing, from the reading the request took and the holds it lifts. */
export function activationBilling(billing: BillingSummary | null, holds: readonly AccessHold[]): { resumable: boolean; keptUntil: string | null; billingNote: string } {
  const resumable = resumes(billing, holds);
  // Set to end, but not by this deactivation: the customer's own cancellation, left in place.
  const keptUntil = isLiveSubscription(billing) && billing.cancelAtPeriodEnd && !resumable ? (billing.cancelAt ?? billing.currentPeriodEnd ?? "the period end") : null;
  const billingNote = resumable
    ? "subscription resumed"
    : keptUntil
      ? `subscription not resumed: it was set to end by the customer, not by the deactivation, and still ends on ${keptUntil}`
      : billing?.subscriptionId ? `subscription not resumed: it is ${billing.status}${billing.cancelAtPeriodEnd ? "" : " and not set to end"}` : "no subscription";
  return { resumable, keptUntil, billingNote };
}

/**
 * The local record of an activation: the unblocked copy, the lifted holds, the restored status. Written by
 * apply (`answer`: the product's to the write, with the http directory), and by operation.resolve when a
 * person confirms a lost activation did happen.
 */
export async function recordActivation(
  trx: Transaction<DB>,
  accountId: string,
  activation: { holds: readonly AccessHold[]; unblockedUserIds: readonly string[]; status: AccountStatus; billingNote: string },
  ctx: Pick<CommandContext, "deps" | "ticketId" | "now">,
  answer?: DirectoryAccount,
): Promise<void> {
  await mirrorBlocked(trx, activation.unblockedUserIds, false, ctx.now);
  await releaseHolds(trx, activation.holds, ctx.now);
  await trx.updateTable("accounts").set({ retention_until: null }).where("id", "=", accountId).execute();
  await recordAccountWrite(trx, ctx.deps, accountId, { status: activation.status }, { answer, now: ctx.now });
  await recordAccountActivity(trx, accountId, "account_activated", ctx, `activated (${activation.unblockedUserIds.length} user(s) unblocked; ${activation.billingNote})`);
}
