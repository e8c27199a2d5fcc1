import { sql, type Kysely } from "kysely";

/**
 * Who holds an open operation's lease (a reconciler's claim): a reconciler renews, and writes the outcome
 * of, only an operation it still holds, so a second process that took it over after a stall is never overwritten.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table provider_operations add column claimed_by text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table provider_operations drop column if exists claimed_by`.execute(db);
}
