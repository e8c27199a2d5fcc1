import { sql, type Kysely } from "kysely";

/**
 * console_export_links: a console export the browser downloads itself (a plain navigation cannot carry the
 * session header). Only the token's SHA-256 is kept; a link is bound to the staff member and the filters,
 * works once and expires unused. rows_sent, finished_at and error let the console show progress it cannot read
 * from the download.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table console_export_links (
    id text primary key,
    token_hash text not null unique,
    staff_id text not null,
    zendesk_user_id text not null,
    ticket_id text,
    query jsonb not null,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz,
    total integer,
    rows_sent integer not null default 0,
    finished_at timestamptz,
    complete boolean,
    error text
  )`.execute(db);
  await sql`create index console_export_links_expires on console_export_links (expires_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists console_export_links`.execute(db);
}
