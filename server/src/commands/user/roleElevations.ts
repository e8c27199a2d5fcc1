import type { Executor } from "../targets.js";

/**
 * Temporary elevations (role_elevations): at most one open per user; the sweep restores the
 * previous role when it expires (user.elevation_expire). A manual role change closes the open one,
 * so the sweep never undoes a later decision.
 */

export function openElevation(db: Executor, userId: string) {
  return db.selectFrom("role_elevations").selectAll().where("user_id", "=", userId).where("reverted_at", "is", null).orderBy("created_at", "desc").executeTakeFirst();
}

/** Closes the user's open elevation (if any) without restoring a role; returns its id for the audit entry. */
export async function closeOpenElevation(trx: Executor, userId: string, now: Date): Promise<string | null> {
  const closed = await trx.updateTable("role_elevations").set({ reverted_at: now }).where("user_id", "=", userId).where("reverted_at", "is", null).returning("id").execute();
  return closed[0]?.id ?? null;
}
