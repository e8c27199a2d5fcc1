import { sql, type Kysely } from "kysely";
import type { DB } from "../db/schema.js";

/** The longest a grant whose revert keeps failing waits between attempts. */
export const REVERT_BACKOFF_CAP_MINUTES = 60;

/**
 * A grant whose revert failed n times waits min(2^n minutes, 1 hour) after the last failure; in
 * SQL so that grants still waiting do not take places in the batch.
 */
function backoffOver(now: Date) {
  return sql<boolean>`(revert_failed_at is null or revert_failed_at + make_interval(mins => least(power(2, revert_failures), ${sql.lit(REVERT_BACKOFF_CAP_MINUTES)})::int) <= ${now})`;
}

/**
 * Temporary grants whose time is up: expires_at at or before now, not reverted yet and not waiting
 * out a backoff, oldest first. The partial indexes of migration 005 cover these queries.
 */
export function dueElevations(db: Kysely<DB>, now: Date, limit: number) {
  return db.selectFrom("role_elevations").selectAll().where("reverted_at", "is", null).where("expires_at", "<=", now).where(backoffOver(now)).orderBy("expires_at").orderBy("id").limit(limit).execute();
}

export function dueSeatExpansions(db: Kysely<DB>, now: Date, limit: number) {
  return db.selectFrom("seat_expansions").selectAll().where("reverted_at", "is", null).where("expires_at", "<=", now).where(backoffOver(now)).orderBy("expires_at").orderBy("id").limit(limit).execute();
}

/** Counts a failed revert of a grant still open, starting (or lengthening) its backoff. */
export async function recordRevertFailure(db: Kysely<DB>, table: "role_elevations" | "seat_expansions", grantId: string, now: Date): Promise<void> {
  await db
    .updateTable(table)
    .set((eb) => ({ revert_failures: eb(eb.ref("revert_failures"), "+", 1), revert_failed_at: now }))
    .where("id", "=", grantId)
    .where("reverted_at", "is", null)
    .execute();
}

export type DueElevation = Awaited<ReturnType<typeof dueElevations>>[number];
export type DueSeatExpansion = Awaited<ReturnType<typeof dueSeatExpansions>>[number];

/**
 * A sweeper that died mid-revert leaves its Idempotency-Key claimed; after this long the claim is
 * released so the next sweep retries (the provider sees the same key, so a finished call is not repeated).
 */
export const ABANDONED_CLAIM_MINUTES = 10;

export async function releaseAbandonedClaims(db: Kysely<DB>, staffId: string): Promise<number> {
  const released = await db
    .deleteFrom("idempotency_keys")
    .where("staff_id", "=", staffId)
    .where("status", "=", "in_progress")
    .where("created_at", "<", sql<Date>`now() - make_interval(mins => ${ABANDONED_CLAIM_MINUTES})`)
    .executeTakeFirst();
  return Number(released.numDeletedRows);
}
