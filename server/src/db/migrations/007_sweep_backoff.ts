import { sql, type Kysely } from "kysely";

/**
 * Backoff for the sweeps: a temporary grant whose revert failed (e.g. Stripe down) remembers how
 * often and when, so the sweep waits min(2^n minutes, 1 hour) before trying it again instead of
 * calling the provider and writing a pending + failed audit pair on every run.
 */
const tables = ["role_elevations", "seat_expansions"];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of tables) {
    await sql.raw(`alter table ${table} add column revert_failures integer not null default 0`).execute(db);
    await sql.raw(`alter table ${table} add column revert_failed_at timestamptz`).execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of tables) {
    await sql.raw(`alter table ${table} drop column if exists revert_failed_at`).execute(db);
    await sql.raw(`alter table ${table} drop column if exists revert_failures`).execute(db);
  }
}
