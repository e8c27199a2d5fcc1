import { sql, type Kysely } from "kysely";

/**
 * A console export's heartbeat: progress_at is written with its progress (every second while it streams),
 * so any process can tell a stream whose process died (kill -9, crash) from a slow one. export_entry_seq
 * names the export's audit entry, for the entry that says it stopped; interrupted marks a link settled so.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table console_export_links add column progress_at timestamptz`.execute(db);
  await sql`alter table console_export_links add column export_entry_seq bigint`.execute(db);
  await sql`alter table console_export_links add column interrupted boolean not null default false`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table console_export_links drop column if exists interrupted`.execute(db);
  await sql`alter table console_export_links drop column if exists export_entry_seq`.execute(db);
  await sql`alter table console_export_links drop column if exists progress_at`.execute(db);
}
