import { sql, type Kysely } from "kysely";

/**
 * revert_key_opened_at: when the sweep first sent a grant's keyed revert (the key names the grant). A later
 * sweep repeats it under the same key in a fresh run, and the product may answer with the first attempt's
 * answer, replayed: that answer is dated by this time, not the repeat's. Null until a revert is first sent.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table role_elevations add column revert_key_opened_at timestamptz`.execute(db);
  await sql`alter table seat_expansions add column revert_key_opened_at timestamptz`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table role_elevations drop column if exists revert_key_opened_at`.execute(db);
  await sql`alter table seat_expansions drop column if exists revert_key_opened_at`.execute(db);
}
