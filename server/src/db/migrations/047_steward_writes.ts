import { sql, type Kysely } from "kysely";

/**
 * steward_writes: bumped by Steward's own writes to a user or account (a command's commit, an access hold's
 * block), not by the directory cache. `version` moves with both; a command whose provider answer is in hand
 * tells a newer read (the cache orders it) from another Steward write (a conflict) by this count.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table users add column steward_writes integer not null default 0`.execute(db);
  await sql`alter table accounts add column steward_writes integer not null default 0`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table users drop column if exists steward_writes`.execute(db);
  await sql`alter table accounts drop column if exists steward_writes`.execute(db);
}
