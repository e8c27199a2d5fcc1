import { sql, type Kysely } from "kysely";

/**
 * Rate-limit counters need no durability: every request updates them, and a commit that touched only an
 * unlogged table does not wait for a WAL flush, so the row lock each counter takes is held for a fraction
 * of a millisecond instead of a disk sync (measured with bench:context). After a crash PostgreSQL empties
 * the table: every limit starts a fresh window, which is harmless.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table rate_limits set unlogged`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table rate_limits set logged`.execute(db);
}
