import { sql, type Kysely } from "kysely";

/**
 * Migration 040's acted-on index, narrowed to writes whose ticket snapshot is of the entry's own ticket
 * (snapshot id = ticket_id): a snapshot of another ticket confirms neither, so audit visibility no longer
 * counts it (audit/auditQuery.ts), and the index must hold the same rows for the planner to use it. Same
 * name, same columns; the match list is still ACTED_ON_MATCHES spelled out (security/auditVisibility.test.ts
 * checks they agree).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists audit_log_acted_on_idx`.execute(db);
  await sql`create index audit_log_acted_on_idx on audit_log (actor_staff_id, ticket_id)
    where actor_staff_id is not null and ticket_id is not null
      and (ticket_snapshot ->> 'match') in ('email', 'external_id', 'organization', 'domain', 'override')
      and (ticket_snapshot ->> 'id') = ticket_id`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists audit_log_acted_on_idx`.execute(db);
  await sql`create index audit_log_acted_on_idx on audit_log (actor_staff_id, ticket_id)
    where actor_staff_id is not null and ticket_id is not null
      and (ticket_snapshot ->> 'match') in ('email', 'external_id', 'organization', 'domain', 'override')`.execute(db);
}
