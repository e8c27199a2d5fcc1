import { sql, type Kysely } from "kysely";

/**
 * The audit search's actor-email filter compares lower(normalize(actor_email, NFC)) (audit/auditQuery.ts):
 * one address in any case and either Unicode form, as emailKey compares emails elsewhere. actor_email keeps
 * the spelling the entry was MACed with, so the key is an index expression, not a column. Same columns and
 * predicate as 010's index on lower(actor_email), which nothing reads any more and is dropped. Created on the
 * partitioned table: every monthly partition, present and future, gets its copy.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index audit_log_actor_email_key_idx on audit_log (lower(normalize(actor_email, NFC)), occurred_at desc, seq desc) where actor_email is not null`.execute(db);
  await sql`drop index if exists audit_log_actor_email_idx`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index if not exists audit_log_actor_email_idx on audit_log (lower(actor_email), occurred_at desc, seq desc) where actor_email is not null`.execute(db);
  await sql`drop index if exists audit_log_actor_email_key_idx`.execute(db);
}
