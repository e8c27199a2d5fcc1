import { sql, type Kysely } from "kysely";

/**
 * A provider call whose effect is not known (timeout, crash, failed re-read) is recorded as `unknown`
 * until the reconciler closes it as succeeded or failed: three outcomes, never "nothing changed" by guess.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`alter table audit_log drop constraint if exists audit_log_outcome_check`).execute(db);
  await sql
    .raw(`alter table audit_log add constraint audit_log_outcome_check check (outcome in ('pending','succeeded','failed','denied','unknown'))`)
    .execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`alter table audit_log drop constraint if exists audit_log_outcome_check`).execute(db);
  await sql.raw(`alter table audit_log add constraint audit_log_outcome_check check (outcome in ('pending','succeeded','failed','denied'))`).execute(db);
}
