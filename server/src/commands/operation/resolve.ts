import { actionInputs } from "../../../../shared/schemas/actions.js";
import type { ActionResponse } from "../../../../shared/schemas/actions.js";
import { appendAudit } from "../../audit/auditLog.js";
import { Problem } from "../../http/problem.js";
import { closeOperation, parseRequest } from "../../reconcile/providerOperations.js";
import { defineCommand, type CommandContext } from "../command.js";
import type { Selectable, Transaction } from "kysely";
import type { DB, ProviderOperationsTable } from "../../db/schema.js";
import type { OperationRequest } from "../../reconcile/providerOperations.js";
import type { ProductRole } from "../../../../shared/roles.js";
import { recordExpansion } from "../seats/expandTemporarily.js";
import { recordElevation } from "../user/elevateTemporarily.js";
import { productRoleRank } from "../../../../shared/productAccess.js";
import type { Account } from "../../db/schema.js";
import type { AccountStatus } from "../../../../shared/roles.js";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { openHolds, usersHeldBy } from "../account/accessHolds.js";
import { accountTransitions, restoredStatus, type AccountStatusAction } from "../account/accountTransitions.js";
import { activationBilling, recordActivation } from "../account/activate.js";
import { deactivationBilling, recordDeactivation } from "../account/deactivate.js";
import { recordDeletion } from "../account/delete.js";
import { completeIdempotencyKey, releaseIdempotencyKey } from "../idempotency.js";
import { billingReadingOf, currentBilling } from "../billingState.js";

/**
 * operation.resolve — closes a provider operation the reconciler gave up on (`needs_review`: past
 * the provider's key retention and a re-read could not tell), after someone from operations checked
 * the provider. `applied`: it happened (closed succeeded; the agent's Idempotency-Key answers so, and
 * Steward's copy follows the provider on its next read; a temporary grant gets the record its sweep
 * reverts, and an account deactivation, activation or deletion its hold, status and blocked copy, as
 * the successful path writes them); `not_applied`: it did not (closed failed; the
 * key is freed so the agent can ask again). Either way the account takes writes again. The
 * operation gets its closing audit entry, credited to the resolver, next to this action's own.
 */
export const resolveOperation = defineCommand({
  action: "operation.resolve",
  targetType: "account",
  input: actionInputs["operation.resolve"],
  provider: "none",
  runsWhileUnresolved: true,
  validate: async (target, input, ctx) => {
    const op = await ctx.deps.database.db.selectFrom("provider_operations").select(["account_id", "status", "action"]).where("operation_id", "=", input.operationId).executeTakeFirst();
    if (!op || op.account_id !== target.id) {
      throw Problem.badRequest(`No operation ${input.operationId} on account ${target.id}`, [{ field: "body.input.operationId", reason: `no such operation on ${target.id}` }]);
    }
    if (op.status !== "needs_review") {
      throw Problem.conflict("operation_not_in_review", `Operation ${input.operationId} is ${op.status}: only operations waiting for review are resolved by hand`, { status: op.status });
    }
    // A deactivation confirmed applied dates its cancel from the provider's reading, as its own apply does from the
    // provider's answer. Read here, before the transaction; a failed read leaves the time unrecorded, not the resolve refused.
    if (input.resolution === "applied" && op.action === "account.deactivate") await currentBilling(ctx, target.account).catch(() => undefined);
  },
  apply: async (trx, target, input, ctx) => {
    const op = await trx.selectFrom("provider_operations").selectAll().where("operation_id", "=", input.operationId).forUpdate().executeTakeFirstOrThrow();
    // Re-checked under the row lock: two resolvers racing, only one closes it.
    if (op.status !== "needs_review") throw Problem.conflict("operation_not_in_review", `Operation ${input.operationId} is ${op.status}`, { status: op.status });
    const applied = input.resolution === "applied";
    const resolver = ctx.actor.kind === "staff" ? ctx.actor.email : `system:${ctx.actor.component}`;
    const note = `resolved by ${resolver} (ticket ${ctx.ticketId}): ${applied ? "applied at the provider" : "not applied at the provider"}`;
    await closeOperation(trx, op.operation_id, applied ? "succeeded" : "failed", ctx.now, note);
    const request = parseRequest(op.request);
    const grant = applied ? await recordAppliedGrant(trx, op, request, ctx) : null;
    const closing = await appendAudit(
      trx,
      {
        actor: ctx.actor,
        action: op.action as never,
        target: { type: op.target_type, id: op.target_id, accountId: op.account_id },
        ticketId: request.ticketId,
        reason: ctx.reason,
        after: { resolution: input.resolution, resolvedBy: resolver, resolvedForTicket: ctx.ticketId, lastError: op.last_error, ...grant },
        outcome: applied ? "succeeded" : "failed",
        error: applied ? null : note,
        operationId: op.operation_id,
      },
      ctx.deps.clock,
    );
    if (op.idempotency_key) {
      if (applied) {
        const response: ActionResponse = { action: op.action, outcome: "succeeded", auditEntryId: closing.id, operationId: op.operation_id, target: { type: op.target_type, id: op.target_id }, before: null, after: { resolution: "applied", resolvedBy: resolver }, replayed: false };
        await completeIdempotencyKey(trx, op.key_owner, op.idempotency_key, response, ctx.now);
      } else {
        await releaseIdempotencyKey(trx, op.key_owner, op.idempotency_key);
      }
    }
    const after = { operation: { operationId: op.operation_id, action: op.action, status: applied ? "succeeded" : "failed", resolution: input.resolution } };
    return { after, result: { ...after.operation, accountId: target.id } };
  },
});

/**
 * A temporary expansion or elevation confirmed applied is recorded as its own apply would have, dated
 * from the request, so the sweep reverts it; without the record the temporary change would stay for good.
 */
async function recordAppliedGrant(trx: Transaction<DB>, op: Selectable<ProviderOperationsTable>, request: OperationRequest, ctx: CommandContext): Promise<Record<string, unknown> | null> {
  const { deps } = ctx;
  // The product's answer was lost: with the http directory the change counts as of the request, so a read asked since stands.
  const grant = { deps, actor: request.actor, ticketId: request.ticketId, now: new Date(request.now) };
  if (op.action === "seats.expand_temporarily") {
    return { expansion: await recordExpansion(trx, op.account_id, actionInputs["seats.expand_temporarily"].parse(request.input), grant) };
  }
  if (op.action === "user.elevate_temporarily") {
    const input = actionInputs["user.elevate_temporarily"].parse(request.input);
    return { elevation: await recordElevation(trx, { id: op.target_id, accountId: op.account_id }, await roleBefore(trx, op, input.role), input, grant) };
  }
  return recordAppliedAccountChange(trx, op, { deps, ticketId: request.ticketId, operationId: op.operation_id, now: grant.now }, (await billingReadingOf(ctx)) ?? null);
}

/**
 * A deactivation, activation or deletion confirmed applied gets the local record its apply writes (hold,
 * status, blocked copy), dated from the request. Without it the account would stay blocked in the product
 * with no hold to lift (activation unblocks only whom a hold recorded) and a status Steward does not know.
 */
async function recordAppliedAccountChange(trx: Transaction<DB>, op: Selectable<ProviderOperationsTable>, req: { deps: CommandContext["deps"]; ticketId: string; operationId: string; now: Date }, billingNow: BillingSummary | null): Promise<Record<string, unknown> | null> {
  if (op.action === "account.deactivate") {
    const seen = await accountBefore(trx, op, op.action);
    const billing = requestBilling(op);
    if (billing === undefined) throw stateUnknown(op, "the billing reading it worked from (whether it set the subscription to end)");
    // The provider's answer was lost: its reading now (validate) dates the cancel, as the answer does on the normal path,
    // so activation resumes only that cancel. No reading (the read failed): no time, and activation goes by the id alone.
    const hold = deactivationBilling(billing, billingNow);
    const holdId = await recordDeactivation(trx, seen.account, seen.blockedUserIds, hold, req);
    return { deactivation: { holdId, previousStatus: seen.account.status, blockedUserIds: seen.blockedUserIds, subscriptionCancelRequestedAt: hold.cancelRequestedAt } };
  }
  if (op.action === "account.delete") {
    const seen = await accountBefore(trx, op, op.action);
    const { holdId, retentionUntil } = await recordDeletion(trx, seen.account, seen.blockedUserIds, req);
    return { deletion: { holdId, previousStatus: seen.account.status, blockedUserIds: seen.blockedUserIds, retentionUntil: retentionUntil.toISOString() } };
  }
  if (op.action === "account.activate") {
    // The holds the request lifted are still the open ones: only account actions write holds, and an operation in review blocks them.
    const holds = await openHolds(trx, op.account_id, ["suspension", "deactivation"]);
    const unblockedUserIds = (await usersHeldBy(trx, holds)).map((u) => u.id);
    const status = restoredStatus(holds[0]?.previous_status);
    const billing = requestBilling(op);
    const billingNote = billing === undefined ? "billing as the request read it is not recorded" : activationBilling(billing, holds).billingNote;
    await recordActivation(trx, op.account_id, { holds, unblockedUserIds, status, billingNote }, req);
    return { activation: { releasedHoldIds: holds.map((h) => h.id), unblockedUserIds, status } };
  }
  return null;
}

/** The intent entry's `before`: what the request saw when it decided. */
async function intentBefore(trx: Transaction<DB>, op: Selectable<ProviderOperationsTable>): Promise<Record<string, unknown> | null | undefined> {
  const intent = await trx.selectFrom("audit_log").select("before").where("operation_id", "=", op.operation_id).where("outcome", "=", "pending").orderBy("seq").limit(1).executeTakeFirst();
  return (typeof intent?.before === "string" ? JSON.parse(intent.before) : intent?.before) as Record<string, unknown> | null | undefined;
}

/**
 * The status the account had and the users the request blocked, from its intent entry's `before` (the
 * account snapshot and the preview's usersLosingAccess, read under the lease perform held): the local
 * rows may have moved on since (a lookup copies the product's status back).
 */
async function accountBefore(trx: Transaction<DB>, op: Selectable<ProviderOperationsTable>, action: AccountStatusAction): Promise<{ account: Account; blockedUserIds: string[] }> {
  const before = await intentBefore(trx, op);
  const status = before?.status as AccountStatus | undefined;
  const users = (before?.effects as { usersLosingAccess?: unknown } | undefined)?.usersLosingAccess;
  const from: readonly AccountStatus[] = accountTransitions[action].from;
  if (!status || !from.includes(status) || !Array.isArray(users) || !users.every((u) => typeof (u as { id?: unknown })?.id === "string")) {
    throw stateUnknown(op, "the account's status and the users it blocked");
  }
  const account = await trx.selectFrom("accounts").selectAll().where("id", "=", op.account_id).executeTakeFirstOrThrow();
  return { account: { ...account, status }, blockedUserIds: users.map((u) => (u as { id: string }).id) };
}

/** The billing reading the request worked from (null: no billing customer); undefined when it was not stored. */
function requestBilling(op: Selectable<ProviderOperationsTable>): BillingSummary | null | undefined {
  const stored = (typeof op.provider_before === "string" ? JSON.parse(op.provider_before) : op.provider_before) as { billing?: BillingSummary | null } | null;
  return stored && "billing" in stored ? (stored.billing ?? null) : undefined;
}

function stateUnknown(op: Selectable<ProviderOperationsTable>, what: string): Problem {
  return Problem.conflict("request_state_unknown", `Operation ${op.operation_id} (${op.action}) did not record ${what}, so its local record cannot be written as the request would have; it stays in review: have the account's state recorded by hand instead of guessing`, {
    operationId: op.operation_id,
    action: op.action,
  });
}

/**
 * The role to restore: the one the request saw (its intent entry's `before`), not the local row's, which
 * may already show the elevated role read back from the product. No writes ran on the account meanwhile
 * (an operation in review blocks them), so nothing later is overridden.
 */
async function roleBefore(trx: Transaction<DB>, op: Selectable<ProviderOperationsTable>, elevated: ProductRole): Promise<ProductRole> {
  const role = (await intentBefore(trx, op))?.role as ProductRole | undefined;
  if (role && productRoleRank(role) >= 0 && productRoleRank(role) < productRoleRank(elevated)) return role;
  throw Problem.conflict("previous_role_unknown", `The role ${op.target_id} had before operation ${op.operation_id} is not recorded, so the elevation could not be reverted; change the role by hand (user.role_change) instead`, { operationId: op.operation_id });
}
