import type { ActionResponse, ActionTarget } from "../../../shared/schemas/actions.js";
import { appendAudit, type AuditInput } from "../audit/auditLog.js";
import type { AppDeps } from "../deps.js";
import { closeOperation, insertOperation, markUnknown, type NewOperation } from "../reconcile/providerOperations.js";
import type { AnyCommand, CommandContext } from "./command.js";
import { attachOperation, completeIdempotencyKey, releaseIdempotencyKey } from "./idempotency.js";
import { bumpVersion, loadTarget, stewardWritesOf, type CommandTarget } from "./targets.js";
import { Problem } from "../http/problem.js";
import type { Transaction } from "kysely";
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

/** The provider's answer is not known: say so in the log and hand the operation to the reconciler. */
export async function recordUnknown(deps: AppDeps, op: OpenedOperation, reason: string, retryInMs: number): Promise<void> {
  await markUnknown(deps.database.db, op.operationId, reason, new Date(Date.now() + retryInMs));
  await appendAudit(deps.database.db, { ...op.auditBase, before: op.before, outcome: "unknown", error: reason, operationId: op.operationId }, deps.clock);
}

/** The definite failure closes the operation with its entry, in one transaction. */
export async function recordFailed(deps: AppDeps, op: OpenedOperation, error: string, now: Date, key?: { owner: string; key: string }): Promise<void> {
  await deps.database.db.transaction().execute(async (trx) => {
    await closeOperation(trx, op.operationId, "failed", now, error);
    // The agent may try again with the same key: it gets a fresh attempt, not "in progress".
    if (key) await releaseIdempotencyKey(trx, key.owner, key.key);
    await appendAudit(trx, { ...op.auditBase, before: op.before, outcome: "failed", error, operationId: op.operationId }, deps.clock);
  });
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
    if (req.operationId) await closeOperation(trx, req.operationId, "succeeded", ctx.now);
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
