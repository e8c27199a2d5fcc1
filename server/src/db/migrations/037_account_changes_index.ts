import { sql, type Kysely } from "kysely";

/**
 * The sidebar's audit part lists an account's changes newest first and leaves out the reads (lookups,
 * searches, exports). Through the account index it read every entry of the account to find ten changes,
 * and lookups are most of them: a busy customer's thousands of context views were read on each view
 * (1 ms at 900 entries, growing with every lookup). This index holds only the account's changes, in seq
 * order. Its list is READ_ACTIONS (lookup/accountHistory.ts) spelled out as of this migration: a read
 * action added later is left out by the query too, so the index still serves it; if one stops being a
 * read, replace the index (auditLinesIndex.test.ts fails until then).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index audit_log_account_changes_idx on audit_log (target_account_id, seq desc)
    where target_account_id is not null and action not in ('context.view', 'search.run', 'account.view', 'user.view', 'audit.search',
      'audit.export', 'audit.verify', 'action.preview', 'staff.list', 'session.token_replayed', 'request.rate_limited')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists audit_log_account_changes_idx`.execute(db);
}
