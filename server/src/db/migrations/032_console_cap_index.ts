import { sql, type Kysely } from "kysely";

/**
 * The console's cap_edge flag reads only refusals and capped actions, a small share of the log; without
 * this index its newest-first page scanned the log backwards (2.3 s at 1M entries, bench:console). The
 * capped actions are spelled out (server/src/staff/caps.ts `cappedActions`); a test keeps them in step.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index audit_log_cap_edge_idx on audit_log (occurred_at desc, seq desc)
    where outcome = 'denied' or action in ('billing.credit_apply', 'billing.trial_extend', 'impersonation.start', 'seats.expand_temporarily', 'user.elevate_temporarily')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists audit_log_cap_edge_idx`.execute(db);
}
