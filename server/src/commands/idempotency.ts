import { createHash } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import type { ActionResponse } from "../../../shared/schemas/actions.js";
import type { DB } from "../db/schema.js";
import { Problem } from "../http/problem.js";

/**
 * Idempotency-Key handling: the first request with a key claims it; a retry with the same key and
 * the same body gets the stored response and performs nothing; the same key with another body is refused.
 */
export function requestHash(body: unknown): string {
  return createHash("sha256").update(JSON.stringify(body)).digest("hex");
}

export type Claim = { kind: "claimed" } | { kind: "replay"; response: ActionResponse };

export async function claimIdempotencyKey(db: Kysely<DB>, staffId: string, key: string, action: string, hash: string): Promise<Claim> {
  const inserted = await db
    .insertInto("idempotency_keys")
    .values({ staff_id: staffId, key, action, request_hash: hash, status: "in_progress", response: null })
    .onConflict((oc) => oc.columns(["staff_id", "key"]).doNothing())
    .returning("key")
    .executeTakeFirst();
  if (inserted) return { kind: "claimed" };
  const existing = await db.selectFrom("idempotency_keys").selectAll().where("staff_id", "=", staffId).where("key", "=", key).executeTakeFirstOrThrow();
  if (existing.action !== action || existing.request_hash !== hash) {
    throw new Problem(422, "idempotency_key_reused", "Idempotency key reused", "This Idempotency-Key was already used for a different request; use a new key for a new request");
  }
  if (existing.status === "in_progress") {
    throw Problem.conflict("request_in_progress", "A request with this Idempotency-Key is still being processed; retry shortly");
  }
  const response = (typeof existing.response === "string" ? JSON.parse(existing.response) : existing.response) as ActionResponse;
  return { kind: "replay", response: { ...response, replayed: true } };
}

/** Stores the response in the same transaction as the change, so a replay can never precede the commit. */
export async function completeIdempotencyKey(trx: Transaction<DB>, staffId: string, key: string, response: ActionResponse, now: Date): Promise<void> {
  await trx
    .updateTable("idempotency_keys")
    .set({ status: "completed", response: JSON.stringify(response), completed_at: now })
    .where("staff_id", "=", staffId)
    .where("key", "=", key)
    .execute();
}

/** A request that failed releases its key, so the agent can retry it. */
export async function releaseIdempotencyKey(db: Kysely<DB>, staffId: string, key: string): Promise<void> {
  await db.deleteFrom("idempotency_keys").where("staff_id", "=", staffId).where("key", "=", key).where("status", "=", "in_progress").execute();
}
