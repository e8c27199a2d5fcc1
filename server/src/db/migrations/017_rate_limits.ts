import { sql, type Kysely } from "kysely";

/**
 * Rate-limit counters shared by every Steward process on one PostgreSQL (issue 12). The layout is the
 * one rate-limiter-flexible's PostgreSQL store reads and writes; it is created here because the
 * production service role cannot CREATE (the limiter runs with `tableCreated: true`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table rate_limits (
    key varchar(255) primary key,
    points integer not null default 0,
    expire bigint
  )`.execute(db);
  // The library's periodic clean-up deletes by expiry.
  await sql`create index rate_limits_expire_idx on rate_limits (expire)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists rate_limits`.execute(db);
}
