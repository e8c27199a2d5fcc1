import { sql, type Kysely } from "kysely";

/**
 * A support reader's "tickets they acted on" (audit visibility, audit/auditQuery.ts) are the tickets of
 * their writes whose ticket Steward read from Zendesk. Through the actor index that meant reading every
 * entry of theirs, lookups included (most of them); this index holds only the checked writes. The match
 * list is ACTED_ON_MATCHES spelled out: change both together (security/auditVisibility.test.ts checks they agree).
 * (Replaced by 041, which also requires the snapshot to be of the entry's own ticket.)
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index audit_log_acted_on_idx on audit_log (actor_staff_id, ticket_id)
    where actor_staff_id is not null and ticket_id is not null
      and (ticket_snapshot ->> 'match') in ('email', 'external_id', 'organization', 'domain', 'override')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists audit_log_acted_on_idx`.execute(db);
}
