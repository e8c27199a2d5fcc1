import { actionInputs } from "../../../../shared/schemas/actions.js";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { accountAfter } from "../accountAfter.js";
import { actionEffects, cancelNowTerms, formatMoney, said } from "../billingEffects.js";
import { billingRef, billingSnapshot, currentBilling, earlierBilling, isLiveSubscription } from "../billingState.js";
import { defineCommand, type CommandContext } from "../command.js";
import { runCompensated, type ProviderStep } from "../compensation.js";
import { identityRef } from "../identityRef.js";
import { blockSteps, mirrorBlocked, recordAccountActivity, recordHold, usersToBlock, type HoldRequest } from "./accessHolds.js";
import { sql, type Transaction } from "kysely";
import type { Account, DB } from "../../db/schema.js";
import { assertAccountTransition } from "./accountTransitions.js";
import { directoryStep, writeAccount } from "../directoryWrite.js";
import { mirrorWritten, recordAccountWrite } from "../../directory/readThrough.js";
import type { DirectoryAccount } from "../../../../shared/directory/contract.js";

/** How long a deleted account's data is kept before it may be purged. */
export const RETENTION_DAYS = 30;

/** Midnight UTC after now + 30 days: a day-precise date, so a preview and its execution minutes later agree. */
export function retentionDate(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + RETENTION_DAYS + 1));
}

/**
 * account.delete — soft delete with a retention date. A live subscription is cancelled immediately,
 * which only happens with a confirmation token whose preview showed that billing effect.
 */
export const deleteAccount = defineCommand({
  action: "account.delete",
  targetType: "account",
  input: actionInputs["account.delete"],
  provider: ["identity", "directory", "billing"],
  precondition: async (target, ctx) => {
    assertAccountTransition("account.delete", target.account);
    await currentBilling(ctx, target.account);
  },
  preview: async (target, _input, ctx) => {
    const billing = await currentBilling(ctx, target.account);
    const users = await usersToBlock(ctx.deps.database.db, target.id);
    const live = isLiveSubscription(billing);
    const warnings = live
      ? [said("cancelled_now", { plan: billing.plan ?? "", mrrCents: billing.mrrCents }, `The ${billing.status} ${billing.plan ?? ""} subscription (${formatMoney(billing.mrrCents, billing.currency)} a month) is cancelled immediately`), cancelNowTerms(billing, ctx.now)]
      : [];
    const retentionUntil = retentionDate(ctx.now).toISOString();
    return actionEffects(billing, {
      summary: said(live ? "account_delete_billed" : "account_delete", { name: target.account.name, count: users.length, untilDate: retentionUntil }, `Delete ${target.account.name}: ${users.length} user(s) lose access${live ? ", the subscription is cancelled now" : ""}; data kept until ${retentionUntil.slice(0, 10)}`),
      billingAfter: live ? "ended" : "unchanged",
      usersLosingAccess: users,
      retentionUntil,
      warnings,
    });
  },
  perform: async (target, _input, ctx, call) => {
    const billing = await earlierBilling(ctx);
    const users = await usersToBlock(call.executor ?? ctx.deps.database.db, target.id);
    let cancelled: BillingSummary | null = null;
    let account: DirectoryAccount | undefined;
    const steps: ProviderStep[] = blockSteps(users, true, ctx, call);
    if (isLiveSubscription(billing)) {
      steps.push({ label: "cancel the subscription now", run: async () => (cancelled = await ctx.deps.billing.cancelSubscription(billingRef(target.account), "now", { ...call, idempotencyKey: `${call.idempotencyKey}:cancel` })) });
    }
    // Last, as they cannot be restored: every session of every remaining user ends at the identity provider.
    let sessionsRevoked = 0;
    const signedIn = await (call.executor ?? ctx.deps.database.db).selectFrom("users").selectAll().where("account_id", "=", target.id).where("status", "!=", "deleted").orderBy("id").execute();
    for (const user of signedIn) steps.push({ label: `end the sessions of ${user.id}`, run: async () => (sessionsRevoked += (await ctx.deps.identity.revokeSessions(identityRef(user), call)).revoked) });
    // The product's keyed write goes last, as in every action: what fails before it is undone or left unknown, never half-recorded.
    steps.push(...directoryStep(ctx, `delete ${target.id} in the directory`, async () => void (account = await writeAccount(target, { status: "deleted" }, ctx, call))));
    await runCompensated(steps, { logger: ctx.deps.logger, transactional: Boolean(call.executor) });
    return { blockedUserIds: users.map((u) => u.id), subscriptionCancelled: billingSnapshot(cancelled), sessionsRevoked, account };
  },
  apply: async (trx, target, _input, ctx, performed) => {
    const { holdId, retentionUntil } = await recordDeletion(trx, target.account, performed.blockedUserIds, ctx, performed.account);
    await mirrorWritten(trx, ctx.deps, { account: performed.account }, ctx.now);
    return {
      after: { ...(await accountAfter(trx, target.id, performed.account)), blockedUserIds: performed.blockedUserIds, holdId, subscriptionCancelled: performed.subscriptionCancelled },
      result: { retentionUntil: retentionUntil.toISOString(), blockedUsers: performed.blockedUserIds.length, subscriptionCancelled: performed.subscriptionCancelled !== null, sessionsRevoked: performed.sessionsRevoked },
    };
  },
});

/**
 * The local record of a deletion: the blocked copy, the hold (with the status it replaced: `account` as the
 * request saw it), the status and retention date (from the request's `now`), the ended sessions. Written by
 * apply (`answer`: the product's to the write, with the http directory), and by operation.resolve when a
 * person confirms a lost deletion did happen.
 */
export async function recordDeletion(trx: Transaction<DB>, account: Account, blockedUserIds: readonly string[], ctx: HoldRequest & Pick<CommandContext, "deps">, answer?: DirectoryAccount): Promise<{ holdId: string; retentionUntil: Date }> {
  const retentionUntil = retentionDate(ctx.now);
  await mirrorBlocked(trx, blockedUserIds, true, ctx.now);
  const holdId = await recordHold(trx, account, "deletion", blockedUserIds, ctx);
  await trx.updateTable("accounts").set({ retention_until: retentionUntil }).where("id", "=", account.id).execute();
  await recordAccountWrite(trx, ctx.deps, account.id, { status: "deleted" }, { answer, now: ctx.now });
  // Ended at the request's time, or when it began if later (a session the local copy got after a request that
  // operation.resolve now records): never ended before it started.
  await trx
    .updateTable("user_sessions")
    .set({ revoked_at: sql<Date>`greatest(${ctx.now}::timestamptz, created_at)` })
    .where("revoked_at", "is", null)
    .where("user_id", "in", trx.selectFrom("users").select("id").where("account_id", "=", account.id))
    .execute();
  await recordAccountActivity(trx, account.id, "account_deleted", ctx, `deleted, data kept until ${retentionUntil.toISOString().slice(0, 10)}`);
  return { holdId, retentionUntil };
}
