import { sql, type Kysely } from "kysely";

/**
 * The console's "lookup without a ticket" flag pages newest first through entries that are a small share
 * of the log; without this index each page scanned the log backwards until it found 51 of them (about
 * 1 s at 1M entries, bench:console). The predicate matches flagSql.ts's condition with LOOKUP_ACTIONS
 * from shared/flags.ts spelled out: if that list changes, change this index with it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index audit_log_lookup_no_ticket_idx on audit_log (occurred_at desc, seq desc)
    where ticket_id is null and actor_staff_id is not null and action in ('context.view', 'search.run', 'account.view', 'user.view')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists audit_log_lookup_no_ticket_idx`.execute(db);
}
