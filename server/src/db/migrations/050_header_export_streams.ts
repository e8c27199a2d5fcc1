import { sql, type Kysely } from "kysely";

/**
 * A header export (`GET /api/console/export`, `GET /api/audit/export`) has no link, but its stream needs the same
 * heartbeat and interrupted settling as a link's: it gets a console_export_links row made already used, bound to
 * the staff member, with no token (token_hash null, which no link's hash ever matches).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table console_export_links alter column token_hash drop not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from console_export_links where token_hash is null`.execute(db);
  await sql`alter table console_export_links alter column token_hash set not null`.execute(db);
}
