import { sql, type Kysely } from "kysely";
import type { DB } from "../db/schema.js";

/**
 * Temporary grants whose time is up: expires_at at or before now and not reverted yet, oldest
 * first. The partial indexes of migration 005 cover these queries.
 */
export function dueElevations(db: Kysely<DB>, now: Date, limit: number) {
  return db.selectFrom("role_elevations").selectAll().where("reverted_at", "is", null).where("expires_at", "<=", now).orderBy("expires_at").orderBy("id").limit(limit).execute();
}

export function dueSeatExpansions(db: Kysely<DB>, now: Date, limit: number) {
  return db.selectFrom("seat_expansions").selectAll().where("reverted_at", "is", null).where("expires_at", "<=", now).orderBy("expires_at").orderBy("id").limit(limit).execute();
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
