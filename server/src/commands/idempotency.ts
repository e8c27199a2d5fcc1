import { createHash } from "node:crypto";
import { sql, type Kysely, type Transaction } from "kysely";
import type { ActionResponse } from "../../../shared/schemas/actions.js";
import type { DB } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import { outcomeUnknown } from "./outcomeUnknown.js";

/**
 * Idempotency-Key handling: the first request with a key claims it; a retry with the same key and
 * the same body gets the stored response and performs nothing; the same key with another body is refused.
 * A claim is a lease: its holder renews it while working, and once it runs out (the holder crashed or
 * was cut off) the key is taken over, or, when it started a provider operation, answered with that
 * operation's real outcome.
 */
export function requestHash(body: unknown): string {
  return createHash("sha256").update(JSON.stringify(body)).digest("hex");
}

export type Claim = { kind: "claimed" } | { kind: "replay"; response: ActionResponse };

const leaseUntil = (ttlMs: number) => sql<Date>`now() + make_interval(secs => ${ttlMs / 1000})`;

export async function claimIdempotencyKey(db: Kysely<DB>, staffId: string, key: string, action: string, hash: string, leaseMs: number): Promise<Claim> {
  const inserted = await db
    .insertInto("idempotency_keys")
    .values({ staff_id: staffId, key, action, request_hash: hash, status: "in_progress", response: null, lease_expires_at: leaseUntil(leaseMs), operation_id: null })
    .onConflict((oc) => oc.columns(["staff_id", "key"]).doNothing())
    .returning("key")
    .executeTakeFirst();
  if (inserted) return { kind: "claimed" };
  const existing = await db
    .selectFrom("idempotency_keys")
    .selectAll()
    .select(sql<boolean>`coalesce(lease_expires_at < now(), true)`.as("lease_over"))
    .where("staff_id", "=", staffId)
    .where("key", "=", key)
    .executeTakeFirst();
  // Released between our insert and read: try once more.
  if (!existing) return claimIdempotencyKey(db, staffId, key, action, hash, leaseMs);
  if (existing.action !== action || existing.request_hash !== hash) {
    throw new Problem(422, "idempotency_key_reused", "Idempotency key reused", "This Idempotency-Key was already used for a different request; use a new key for a new request");
  }
  if (existing.status === "completed") {
    const response = (typeof existing.response === "string" ? JSON.parse(existing.response) : existing.response) as ActionResponse;
    return { kind: "replay", response: { ...response, replayed: true } };
  }
  if (existing.operation_id) {
    const op = await db.selectFrom("provider_operations").select(["status", "last_error"]).select(sql<boolean>`lease_expires_at < now()`.as("lease_over")).where("operation_id", "=", existing.operation_id).executeTakeFirst();
    if (op && op.status === "pending" && !op.lease_over) throw inProgress();
    if (op && (op.status === "pending" || op.status === "unknown")) {
      throw outcomeUnknown(existing.operation_id, op.status === "unknown" ? `The provider call's outcome is not known yet (${op.last_error ?? "no answer"})` : "The request handling this key stopped during its provider call");
    }
    // Retrying would risk applying it twice; a person decides (operation.resolve), and until then the key says so.
    if (op && op.status === "needs_review") throw outcomeUnknown(existing.operation_id, `Steward could not settle it with the provider and operations must review it (${op.last_error ?? "no answer"})`, { status: "needs_review" });
  }
  if (!existing.lease_over) throw inProgress();
  // The holder is gone (crash, cut-off request) and no provider operation is open: the key is ours now.
  const taken = await db
    .updateTable("idempotency_keys")
    .set({ lease_expires_at: leaseUntil(leaseMs), operation_id: null })
    .where("staff_id", "=", staffId)
    .where("key", "=", key)
    .where("status", "=", "in_progress")
    .where(sql<boolean>`coalesce(lease_expires_at < now(), true)`)
    .returning("key")
    .executeTakeFirst();
  if (!taken) throw inProgress();
  return { kind: "claimed" };
}

function inProgress(): Problem {
  return Problem.conflict("request_in_progress", "A request with this Idempotency-Key is still being processed; retry shortly", { retryable: true });
}

export async function renewIdempotencyKey(db: Kysely<DB>, staffId: string, key: string, leaseMs: number): Promise<void> {
  await db.updateTable("idempotency_keys").set({ lease_expires_at: leaseUntil(leaseMs) }).where("staff_id", "=", staffId).where("key", "=", key).where("status", "=", "in_progress").execute();
}

/** Ties the key to the provider operation it started (in the intent's transaction), so a replay can answer with its outcome. */
export async function attachOperation(trx: Transaction<DB>, staffId: string, key: string, operationId: string): Promise<void> {
  await trx.updateTable("idempotency_keys").set({ operation_id: operationId }).where("staff_id", "=", staffId).where("key", "=", key).execute();
}

/** Stores the response in the same transaction as the change, so a replay can never precede the commit. */
export async function completeIdempotencyKey(trx: Transaction<DB>, staffId: string, key: string, response: ActionResponse, now: Date): Promise<void> {
  await trx
    .updateTable("idempotency_keys")
    .set({ status: "completed", response: JSON.stringify(response), completed_at: now, lease_expires_at: null })
    .where("staff_id", "=", staffId)
    .where("key", "=", key)
    .execute();
}

/** A request that failed releases its key, so the agent can retry it. */
export async function releaseIdempotencyKey(db: Kysely<DB> | Transaction<DB>, staffId: string, key: string): Promise<void> {
  await db.deleteFrom("idempotency_keys").where("staff_id", "=", staffId).where("key", "=", key).where("status", "=", "in_progress").execute();
}
