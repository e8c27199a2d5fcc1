import type { BillingSummary } from "../../../shared/schemas/context.js";
import type { ActionName } from "../../../shared/actions.js";
import type { AuditEntry } from "../../../shared/audit.js";
import { toAuditEntry } from "../audit/auditRow.js";
import { useEarlierReading } from "../commands/billingState.js";
import type { AnyCommand, CommandContext } from "../commands/command.js";
import { unknownEffectOf } from "../commands/effectUnknown.js";
import { commitSucceeded, recordFailed, type OpenedOperation } from "../commands/operationRecord.js";
import { commands } from "../commands/registry.js";
import { expireSeatExpansion } from "../commands/seats/expansionExpire.js";
import { accountLeaseKey, releaseLease, tryLease } from "../commands/targetLease.js";
import { loadTarget } from "../commands/targets.js";
import { expireElevation } from "../commands/user/elevationExpire.js";
import type { AppDeps } from "../deps.js";
import { toProblem } from "../http/problem.js";
import { claimOperation, markUnknown, parseRequest, type OperationRow } from "./providerOperations.js";

/** Every command an operation can belong to: the support actions and Steward's own (sweeps). */
const allCommands = new Map<string, AnyCommand>([...commands.entries(), [expireSeatExpansion.action, expireSeatExpansion as unknown as AnyCommand], [expireElevation.action, expireElevation as unknown as AnyCommand]]);

/** Longest wait between two attempts at one operation. */
const MAX_BACKOFF_MS = 5 * 60_000;

export type FinishOutcome = "succeeded" | "failed" | "unknown" | "skipped";

export function backoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, 2_000 * 2 ** Math.min(attempts, 12));
}

async function intentEntry(deps: AppDeps, operationId: string): Promise<AuditEntry | undefined> {
  const row = await deps.database.db.selectFrom("audit_log").selectAll().where("operation_id", "=", operationId).where("outcome", "=", "pending").orderBy("seq").limit(1).executeTakeFirst();
  return row ? toAuditEntry(row) : undefined;
}

/**
 * Finishes one open operation the way its request would have: under the account's lease, the
 * command's provider call again with the SAME provider idempotency key (Stripe replays a call that
 * already happened; Auth0 writes are idempotent) and from the provider reading the request took,
 * then the local change, the closing audit entry and the Idempotency-Key's response in one
 * transaction. A definite refusal closes it as failed; another unknown answer waits for a later run.
 */
export async function finishOperation(deps: AppDeps, row: OperationRow): Promise<FinishOutcome> {
  const { db } = deps.database;
  const leaseMs = deps.config.OPERATION_LEASE_MS;
  if (!(await claimOperation(db, row.operation_id, leaseMs))) return "skipped";
  const leaseKey = accountLeaseKey(row.account_id);
  if (!(await tryLease(db, leaseKey, row.operation_id, leaseMs))) {
    await markUnknown(db, row.operation_id, row.last_error ?? "waiting for the account to be free", new Date(Date.now() + backoffMs(0)));
    return "skipped";
  }
  try {
    const request = parseRequest(row.request);
    const intent = await intentEntry(deps, row.operation_id);
    const auditBase = {
      actor: request.actor,
      action: row.action as ActionName,
      target: { type: row.target_type, id: row.target_id, accountId: row.account_id },
      ticketId: request.ticketId,
      reason: request.reason,
      requestId: request.requestId,
      // The closing entry repeats what the intent recorded of the ticket and the approval.
      ticketSnapshot: intent?.ticketSnapshot ?? null,
      approval: intent?.approval ?? null,
    };
    const operation: OpenedOperation = { operationId: row.operation_id, auditBase, before: intent?.before ?? null };
    const key = row.idempotency_key ? { owner: row.key_owner, key: row.idempotency_key } : undefined;
    const now = deps.clock.now();
    const command = allCommands.get(row.action);
    if (!command?.perform) {
      await recordFailed(deps, operation, `reconcile: no command ${row.action} with a provider call`, now, key);
      return "failed";
    }
    const ctx: CommandContext = { deps, actor: request.actor, ticketId: request.ticketId, reason: request.reason, requestId: request.requestId, operationId: row.operation_id, now: new Date(request.now) };
    const reading = (typeof row.provider_before === "string" ? JSON.parse(row.provider_before) : row.provider_before) as { billing?: BillingSummary | null } | null;
    if (reading && reading.billing !== undefined) useEarlierReading(ctx, reading.billing);

    let performed: unknown;
    try {
      const target = await loadTarget(db, command.targetType, row.target_id);
      performed = await command.perform(target as never, request.input as never, ctx, { idempotencyKey: row.provider_key });
    } catch (err) {
      const unknown = unknownEffectOf(err);
      if (unknown) {
        await markUnknown(db, row.operation_id, unknown, new Date(Date.now() + backoffMs(row.attempts + 1)));
        return "unknown";
      }
      const problem = toProblem(err);
      await recordFailed(deps, operation, `${problem.code}: ${problem.detail ?? problem.title} (settled by the reconciler)`, now, key);
      return "failed";
    }
    try {
      await commitSucceeded(deps, {
        command,
        target: { type: row.target_type, id: row.target_id },
        input: request.input,
        ctx,
        auditBase,
        before: operation.before,
        expectedVersion: null,
        performed: { value: performed },
        providerKey: row.provider_key,
        keyOwner: row.key_owner,
        idempotencyKey: row.idempotency_key,
        operationId: row.operation_id,
      });
      return "succeeded";
    } catch (err) {
      const problem = toProblem(err);
      await markUnknown(db, row.operation_id, `the provider call succeeded, recording it failed (${problem.detail ?? problem.title})`, new Date(Date.now() + backoffMs(row.attempts + 1)));
      return "unknown";
    }
  } finally {
    await releaseLease(db, leaseKey, row.operation_id).catch(() => undefined);
  }
}
