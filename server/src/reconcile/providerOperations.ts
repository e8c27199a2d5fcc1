import { sql, type Kysely, type Transaction } from "kysely";
import type { Actor } from "../actor.js";
import type { DB, ProviderOperationStatus } from "../db/schema.js";
import type { MailLanguage } from "../mail/templates.js";

/**
 * The record of every command whose side effect happens at Auth0/Stripe: written with the `pending`
 * audit intent, kept open while its outcome is not known, closed with the outcome entry. It holds
 * what the reconciler needs to finish the command exactly as the request would have.
 */
export interface OperationRequest {
  actor: Actor;
  ticketId: string;
  reason: string;
  requestId: string | null;
  input: unknown;
  /** The command's `now`, so dates it derives (retention, trial end) are the same on a retry. */
  now: string;
  /** The agent's "notify the customer" choice, sent when the reconciler finishes the action. */
  notifyCustomer?: boolean;
  /** The customer's mail language, kept so the reconciler's mail reads as the agent's would have. */
  customerLanguage?: MailLanguage;
}

export interface NewOperation {
  operationId: string;
  action: string;
  targetType: "user" | "account";
  targetId: string;
  accountId: string;
  keyOwner: string;
  idempotencyKey: string | null;
  providerKey: string;
  request: OperationRequest;
  providerBefore: unknown;
  leaseMs: number;
  createdAt: Date;
}

const leaseUntil = (ttlMs: number) => sql<Date>`now() + make_interval(secs => ${ttlMs / 1000})`;
const OPEN: ProviderOperationStatus[] = ["pending", "unknown"];
/** Open, or waiting for a person: either way the account's state is not known, so new writes wait. */
const UNSETTLED: ProviderOperationStatus[] = ["pending", "unknown", "needs_review"];

export async function insertOperation(trx: Transaction<DB>, op: NewOperation): Promise<void> {
  await trx
    .insertInto("provider_operations")
    .values({
      operation_id: op.operationId,
      action: op.action,
      target_type: op.targetType,
      target_id: op.targetId,
      account_id: op.accountId,
      key_owner: op.keyOwner,
      idempotency_key: op.idempotencyKey,
      provider_key: op.providerKey,
      request: JSON.stringify(op.request),
      provider_before: op.providerBefore === undefined ? null : JSON.stringify(op.providerBefore),
      status: "pending",
      lease_expires_at: leaseUntil(op.leaseMs),
      next_attempt_at: op.createdAt,
      last_error: null,
      created_at: op.createdAt,
      closed_at: null,
    })
    .execute();
}

/**
 * The request holds its operation only while it is pending: once marked unknown it is the reconciler's, so a
 * renewal still in flight (or ticking before the request stops renewing) must not take it back for another lease.
 */
export async function renewOperationLease(db: Kysely<DB>, operationId: string, leaseMs: number): Promise<void> {
  await db.updateTable("provider_operations").set({ lease_expires_at: leaseUntil(leaseMs) }).where("operation_id", "=", operationId).where("status", "=", "pending").execute();
}

/**
 * The outcome is not known: the reconciler takes it from `nextAttemptAt`, once nobody holds it. False: it is no
 * longer open, or (`claimedBy`, the reconciler's claim) another reconciler has taken it over.
 */
export async function markUnknown(db: Kysely<DB> | Transaction<DB>, operationId: string, error: string, nextAttemptAt: Date, claimedBy: string | null = null): Promise<boolean> {
  const marked = await db
    .updateTable("provider_operations")
    .set((eb) => ({
      status: "unknown",
      last_error: error.slice(0, 2000),
      next_attempt_at: nextAttemptAt,
      attempts: eb("attempts", "+", 1),
      // A late request does not end the lease of a reconciler working on it (that one ends it when done).
      lease_expires_at: claimedBy === null ? sql<Date>`case when claimed_by is null then now() else lease_expires_at end` : sql<Date>`now()`,
    }))
    .where("operation_id", "=", operationId)
    .where("status", "in", OPEN)
    .$if(claimedBy !== null, (qb) => qb.where("claimed_by", "=", claimedBy))
    .executeTakeFirst();
  return Number(marked.numUpdatedRows) > 0;
}

/**
 * The reconciler gave up: it stays visible and blocks its account until someone from operations resolves it.
 * False when it is no longer open or no longer held by `claimedBy`.
 */
export async function markNeedsReview(trx: Transaction<DB> | Kysely<DB>, operationId: string, error: string, claimedBy: string | null = null): Promise<boolean> {
  const marked = await trx
    .updateTable("provider_operations")
    .set((eb) => ({ status: "needs_review", last_error: error.slice(0, 2000), attempts: eb("attempts", "+", 1), lease_expires_at: sql<Date>`now()` }))
    .where("operation_id", "=", operationId)
    .where("status", "in", OPEN)
    .$if(claimedBy !== null, (qb) => qb.where("claimed_by", "=", claimedBy))
    .executeTakeFirst();
  return Number(marked.numUpdatedRows) > 0;
}

/**
 * Closes the operation in the transaction that writes its outcome entry. False when it was closed already
 * (the reconciler took over a request that looked dead): its one closing entry exists, none may follow it.
 * A reconciler passes its claim: false too when another reconciler has taken the operation over since.
 */
export async function closeOperation(trx: Transaction<DB> | Kysely<DB>, operationId: string, outcome: "succeeded" | "failed", now: Date, error: string | null = null, claimedBy: string | null = null): Promise<boolean> {
  const closed = await trx
    .updateTable("provider_operations")
    .set({ status: outcome, closed_at: now, last_error: error?.slice(0, 2000) ?? null })
    .where("operation_id", "=", operationId)
    .where("status", "in", UNSETTLED)
    .$if(claimedBy !== null, (qb) => qb.where("claimed_by", "=", claimedBy))
    .executeTakeFirst();
  if (Number(closed.numUpdatedRows) === 0) return false;
  await settleApproval(trx, operationId, outcome, error);
  return true;
}

/** What an approval whose run ended unknown records once its operation is settled. */
export function settledRun(operationId: string, outcome: "succeeded" | "failed", error: string | null): Record<string, unknown> {
  return { operationId, outcome, ...(error ? { error: error.slice(0, 2000) } : {}), settledLater: true };
}

/**
 * An approval whose run ended unknown was recorded `approved`: it follows the operation's final outcome
 * (failed stays failed), so the approvals list does not show a run that never happened as done.
 */
async function settleApproval(trx: Transaction<DB> | Kysely<DB>, operationId: string, outcome: "succeeded" | "failed", error: string | null): Promise<void> {
  await trx
    .updateTable("approval_requests")
    .set({ status: outcome === "failed" ? "failed" : "approved", result: JSON.stringify(settledRun(operationId, outcome, error)) })
    .where("status", "=", "approved")
    .where(sql<string>`result->'problem'->>'code'`, "=", "outcome_unknown")
    .where(sql<string>`result->'problem'->>'operationId'`, "=", operationId)
    .execute();
}

export type OperationRow = Awaited<ReturnType<typeof loadOperation>>;

export function loadOperation(db: Kysely<DB> | Transaction<DB>, operationId: string) {
  return db.selectFrom("provider_operations").selectAll().where("operation_id", "=", operationId).executeTakeFirstOrThrow();
}

/** Open operations nobody is working on (unknown, or pending with a lapsed lease: its request died), due now. */
export function dueOperations(db: Kysely<DB>, limit: number) {
  return db
    .selectFrom("provider_operations")
    .selectAll()
    .where("status", "in", OPEN)
    .where("lease_expires_at", "<", sql<Date>`now()`)
    .where("next_attempt_at", "<=", sql<Date>`now()`)
    .orderBy("next_attempt_at")
    .orderBy("created_at")
    .limit(limit)
    .execute();
}

/** Takes an open operation for this worker (the reconciler) until the lease runs out; false when someone else has it. */
export async function claimOperation(db: Kysely<DB>, operationId: string, leaseMs: number, claimedBy: string | null = null): Promise<boolean> {
  const row = await db
    .updateTable("provider_operations")
    .set({ lease_expires_at: leaseUntil(leaseMs), claimed_by: claimedBy })
    .where("operation_id", "=", operationId)
    .where("status", "in", OPEN)
    .where("lease_expires_at", "<", sql<Date>`now()`)
    .returning("operation_id")
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Extends the reconciler's claim while it works (its provider calls may outlast one lease); false once the
 * operation is closed or another reconciler claimed it after this one's lease had lapsed (a stall).
 */
export async function renewOperationClaim(db: Kysely<DB>, operationId: string, claimedBy: string, leaseMs: number): Promise<boolean> {
  const row = await db
    .updateTable("provider_operations")
    .set({ lease_expires_at: leaseUntil(leaseMs) })
    .where("operation_id", "=", operationId)
    .where("status", "in", OPEN)
    .where("claimed_by", "=", claimedBy)
    .returning("operation_id")
    .executeTakeFirst();
  return row !== undefined;
}

/** Operations on an account whose outcome is still open or awaiting review, newest first: what the sidebar shows, and what blocks new writes. */
export function openOperationsOf(db: Kysely<DB>, accountId: string) {
  return db
    .selectFrom("provider_operations")
    .select(["operation_id", "action", "target_type", "target_id", "status", "last_error", "attempts", "created_at"])
    .where("account_id", "=", accountId)
    .where("status", "in", UNSETTLED)
    .orderBy("created_at", "desc")
    .limit(20)
    .execute();
}

/** For monitoring: operations waiting for the reconciler (unknown, or pending left by a crash). */
export async function countUnresolvedOperations(db: Kysely<DB>): Promise<{ unknown: number; orphanedPending: number; needsReview: number }> {
  const row = await db
    .selectFrom("provider_operations")
    .select([
      sql<number>`count(*) filter (where status = 'unknown')`.as("unknown"),
      sql<number>`count(*) filter (where status = 'pending' and lease_expires_at < now())`.as("orphaned"),
      sql<number>`count(*) filter (where status = 'needs_review')`.as("review"),
    ])
    .where("status", "in", UNSETTLED)
    .executeTakeFirstOrThrow();
  return { unknown: Number(row.unknown), orphanedPending: Number(row.orphaned), needsReview: Number(row.review) };
}

export function parseRequest(value: unknown): OperationRequest {
  return (typeof value === "string" ? JSON.parse(value) : value) as OperationRequest;
}
