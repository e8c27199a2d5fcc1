import { sql, type Kysely } from "kysely";

/**
 * An agent's pick of the user a ticket is about (the requester email matches several users, or none):
 * kept per ticket on the server, since third-party storage is blocked in Zendesk's iframe, and shown to
 * every agent on the ticket as "picked by <name>". Only for the requester email it was made for.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table ticket_requester_picks (
    ticket_id text primary key,
    requester_email text not null,
    user_id text not null,
    picked_by_staff_id text not null,
    picked_at timestamptz not null
  )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists ticket_requester_picks`.execute(db);
}
