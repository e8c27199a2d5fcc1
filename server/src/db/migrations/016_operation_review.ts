import { sql, type Kysely } from "kysely";

/**
 * Operations the reconciler could not settle: past the provider's idempotency-key retention a retry
 * could apply twice, so the reconciler only re-reads, and when that cannot tell, the operation waits
 * in `needs_review` (still blocking writes to its account) until someone from operations resolves it.
 * Internal notes whose answer was lost (`unknown`) are re-checked by the same sweep that sends notes.
 */
const statements = [
  `alter table provider_operations drop constraint if exists provider_operations_status_check`,
  `alter table provider_operations add constraint provider_operations_status_check check (status in ('pending','unknown','needs_review','succeeded','failed'))`,
  `create index provider_operations_review_idx on provider_operations (account_id) where status = 'needs_review'`,
  `create index ticket_notes_unknown_idx on ticket_notes (next_attempt_at) where status = 'unknown'`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`drop index if exists ticket_notes_unknown_idx`).execute(db);
  await sql.raw(`drop index if exists provider_operations_review_idx`).execute(db);
  await sql.raw(`alter table provider_operations drop constraint if exists provider_operations_status_check`).execute(db);
  await sql.raw(`update provider_operations set status = 'unknown' where status = 'needs_review'`).execute(db);
  await sql.raw(`alter table provider_operations add constraint provider_operations_status_check check (status in ('pending','unknown','succeeded','failed'))`).execute(db);
}
