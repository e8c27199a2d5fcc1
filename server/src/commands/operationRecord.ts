import type { ActionResponse, ActionTarget } from "../../../shared/schemas/actions.js";
import { appendAudit, type AuditInput } from "../audit/auditLog.js";
import type { AppDeps } from "../deps.js";
import { closeOperation, insertOperation, markUnknown, type NewOperation } from "../reconcile/providerOperations.js";
import type { AnyCommand, CommandContext } from "./command.js";
import { attachOperation, completeIdempotencyKey, releaseIdempotencyKey } from "./idempotency.js";
import { bumpVersion, loadTarget, stewardWritesOf, type CommandTarget } from "./targets.js";
import { Problem } from "../http/problem.js";
import type { Kysely, Transaction } from "kysely";
import { toAuditEntry } from "../audit/auditRow.js";
import type { DB } from "../db/schema.js";
import { enqueueMail } from "../mail/outbox.js";
import { isNoticeMandatory, noticeRecipients, queuesNotice, renderNotice, type NoticeRecipient } from "../mail/notices.js";

/**
 * The audit side of a provider operation: the `pending` intent and the operation record committed
 * together before the provider is called; then exactly one closing entry (`succeeded` with the local
 * change, or `failed`), with an `unknown` entry in between when the provider's answer was lost.
 */
export type AuditBase = Omit<AuditInput, "outcome" | "operationId" | "before" | "after" | "error">;

export interface OpenedOperation {
  operationId: string;
  auditBase: AuditBase;
  before: unknown;
}

export async function openOperation(deps: AppDeps, auditBase: AuditBase, before: unknown, op: Omit<NewOperation, "leaseMs">): Promise<OpenedOperation> {
  await deps.database.db.transaction().execute(async (trx) => {
    await insertOperation(trx, { ...op, leaseMs: deps.config.OPERATION_LEASE_MS });
    if (op.idempotencyKey) await attachOperation(trx, op.keyOwner, op.idempotencyKey, op.operationId);
    await appendAudit(trx, { ...auditBase, before, outcome: "pending", operationId: op.operationId }, deps.clock);
  });
  return { operationId: op.operationId, auditBase, before };
}

/** Where an operation stands once no longer open: closed (by the reconciler or a person), or waiting for a person. */
export interface SettledOperation {
  status: "succeeded" | "failed" | "needs_review";
  lastError: string | null;
}

/**
 * A reconciler's claim on the operation was taken over by another (this one stalled past its lease): thrown out of
 * the transaction, so this one writes nothing; the operation's outcome is the other's to record.
 */
export class OperationClaimLost extends Error {
  constructor(readonly operationId: string) {
    super(`operation ${operationId} is no longer held by this reconciler`);
  }
}

async function settledState(trx: Transaction<DB>, operationId: string, claimedBy: string | null = null): Promise<SettledOperation> {
  const row = await trx.selectFrom("provider_operations").select(["status", "last_error"]).where("operation_id", "=", operationId).executeTakeFirstOrThrow();
  if ((row.status === "pending" || row.status === "unknown") && claimedBy !== null) throw new OperationClaimLost(operationId);
  if (row.status === "pending" || row.status === "unknown") throw new Error(`operation ${operationId} is still ${row.status}`);
  return { status: row.status, lastError: row.last_error };
}

/**
 * The provider's answer is not known: say so in the log and hand the operation to the reconciler. When the
 * reconciler has settled it already (it took over a request that looked dead), nothing is written: an
 * `unknown` after the closing entry would read as if the outcome became unknown again. Returns where it stands then.
 */
export async function recordUnknown(deps: AppDeps, op: OpenedOperation, reason: string, retryInMs: number): Promise<SettledOperation | null> {
  return deps.database.db.transaction().execute(async (trx) => {
    // The update locks the row until commit: a closing entry written concurrently comes after this one.
    if (!(await markUnknown(trx, op.operationId, reason, new Date(Date.now() + retryInMs)))) return settledState(trx, op.operationId);
    await appendAudit(trx, { ...op.auditBase, before: op.before, outcome: "unknown", error: reason, operationId: op.operationId }, deps.clock);
    return null;
  });
}

/**
 * The definite failure closes the operation with its entry, in one transaction. Nothing is written when it
 * was closed already (its closing entry exists): returns where it stands then, null when closed here.
 * The reconciler passes its claim (`claimedBy`): OperationClaimLost when another reconciler holds it now.
 */
export async function recordFailed(deps: AppDeps, op: OpenedOperation, error: string, now: Date, key?: { owner: string; key: string }, claimedBy: string | null = null): Promise<SettledOperation | null> {
  return deps.database.db.transaction().execute(async (trx) => {
    if (!(await closeOperation(trx, op.operationId, "failed", now, error, claimedBy))) return settledState(trx, op.operationId, claimedBy);
    // The agent may try again with the same key: it gets a fresh attempt, not "in progress".
    if (key) await releaseIdempotencyKey(trx, key.owner, key.key);
    await appendAudit(trx, { ...op.auditBase, before: op.before, outcome: "failed", error, operationId: op.operationId }, deps.clock);
    return null;
  });
}

/**
 * The response of an operation someone else closed as succeeded: the one stored under the agent's
 * Idempotency-Key (what a retry with it replays), else one made from the closing audit entry.
 */
export async function settledResponse(db: Kysely<DB>, operationId: string, key: { owner: string; key: string } | null): Promise<ActionResponse> {
  if (key) {
    const stored = await db.selectFrom("idempotency_keys").select("response").where("staff_id", "=", key.owner).where("key", "=", key.key).where("status", "=", "completed").executeTakeFirst();
    if (stored?.response) return (typeof stored.response === "string" ? JSON.parse(stored.response) : stored.response) as ActionResponse;
  }
  const op = await db.selectFrom("provider_operations").select(["action", "target_type", "target_id"]).where("operation_id", "=", operationId).executeTakeFirstOrThrow();
  const closing = toAuditEntry(await db.selectFrom("audit_log").selectAll().where("operation_id", "=", operationId).where("outcome", "=", "succeeded").orderBy("seq", "desc").limit(1).executeTakeFirstOrThrow());
  return { action: op.action, outcome: "succeeded", auditEntryId: closing.id, operationId, target: { type: op.target_type, id: op.target_id }, before: closing.before, after: closing.after, replayed: false };
}

/** Thrown (rolling the commit back) when the operation was closed meanwhile: it has its closing entry already. */
export function operationSettled(operationId: string): Problem {
  return Problem.conflict("operation_settled", `Operation ${operationId} was settled meanwhile (the reconciler or a person closed it)`, { operationId });
}

export interface CommitRequest {
  command: AnyCommand;
  target: ActionTarget;
  input: unknown;
  ctx: CommandContext;
  auditBase: AuditBase;
  before: unknown;
  /** The version the request checked; the reconciler, holding the lease, applies to the current row. */
  expectedVersion: number | null;
  /** Steward's own writes to the target when the request checked its version (targets.ts stewardWritesOf). */
  expectedStewardWrites?: number;
  /** The provider's result, for external commands (built-in ones perform inside the transaction). */
  performed?: { value: unknown };
  providerKey: string;
  keyOwner: string;
  idempotencyKey: string | null;
  /** Set for operations bracketed by an intent: closed in this transaction. */
  operationId: string | null;
  /** The reconciler's claim on the operation: closed only while it still holds it (else OperationClaimLost). */
  claimedBy?: string;
  /** The agent chose to notify the customer (mandatory notices are sent whatever this says). */
  notify?: boolean | undefined;
}

/** The customer notice, in the action's transaction: mail exists exactly when the action committed. */
async function queueNotices(trx: Transaction<DB>, action: string, target: CommandTarget, to: NoticeRecipient[], ctx: CommandContext) {
  const accountName = target.account.name;
  const mailIds: string[] = [];
  for (const person of to) {
    const mail = renderNotice(action, { name: person.name, accountName, ticketId: ctx.ticketId || null, language: ctx.customerLanguage ?? "en" });
    if (!mail) continue;
    const userId = target.type === "user" ? target.id : null;
    mailIds.push((await enqueueMail(trx, { to: person.email, ...mail, kind: `notice:${action}`, accountId: target.accountId, userId, ticketId: ctx.ticketId || null, operationId: ctx.operationId }, ctx.now)).id);
  }
  return mailIds.length ? { to: to.map((p) => p.email), mailIds, mandatory: isNoticeMandatory(action) } : null;
}

/** The local change, the closing audit entry, the operation's close and the stored response: one transaction. */
export async function commitSucceeded(deps: AppDeps, req: CommitRequest): Promise<ActionResponse> {
  const { command, ctx } = req;
  return deps.database.db.transaction().execute(async (trx) => {
    const locked: CommandTarget = await loadTarget(trx, command.targetType, req.target.id, { lock: true });
    // With the provider's answer in hand the outcome is known: a version moved only by a newer directory read is
    // no conflict (the cache's ordering keeps the newer state); another Steward write since still is.
    const onlyReadSince = req.performed !== undefined && req.expectedStewardWrites !== undefined && stewardWritesOf(locked) === req.expectedStewardWrites;
    if (req.expectedVersion !== null && locked.version !== req.expectedVersion && !onlyReadSince) {
      throw Problem.conflict("stale_version", `The ${locked.type} changed since you loaded it (version ${req.expectedVersion}, now ${locked.version}); reload and try again`, {
        expectedVersion: req.expectedVersion,
        currentVersion: locked.version,
      });
    }
    const performed = req.performed ? req.performed.value : command.perform ? await command.perform(locked as never, req.input as never, ctx, { idempotencyKey: req.providerKey, executor: trx }) : undefined;
    // Bumped before apply so the `after` snapshot carries the version the agent must send next.
    await bumpVersion(trx, locked, ctx.now);
    // Who is told is read before the change (deactivating an account removes its admins' access).
    const noticeTo = queuesNotice(command.action) && (req.notify === true || isNoticeMandatory(command.action)) ? await noticeRecipients(trx, locked) : [];
    const applied = await command.apply(trx, locked as never, req.input as never, ctx, performed as never);
    const notice = await queueNotices(trx, command.action, locked, noticeTo, ctx);
    if (notice) applied.after = { ...(applied.after as object), customerNotice: notice };
    if (req.operationId && !(await closeOperation(trx, req.operationId, "succeeded", ctx.now, null, req.claimedBy ?? null))) {
      if (req.claimedBy) await settledState(trx, req.operationId, req.claimedBy);
      throw operationSettled(req.operationId);
    }
    const entry = await appendAudit(trx, { ...req.auditBase, before: req.before, after: applied.after, outcome: "succeeded", operationId: ctx.operationId }, deps.clock);
    const response: ActionResponse = {
      action: command.action,
      outcome: "succeeded",
      auditEntryId: entry.id,
      operationId: ctx.operationId,
      target: req.target,
      before: req.before,
      after: applied.after,
      ...(applied.result ? { result: applied.result } : {}),
      replayed: false,
    };
    if (req.idempotencyKey) await completeIdempotencyKey(trx, req.keyOwner, req.idempotencyKey, response, ctx.now);
    return response;
  });
}
