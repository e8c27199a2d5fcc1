import { sql, type Kysely } from "kysely";

/**
 * The console's flags that cannot be decided cheaply at read time, kept as rows: one per (flag, entry),
 * written as entries are sealed (server/src/console/flagger.ts). Without them a flag's newest-first page
 * scanned the log until it found 51 hits: the window flags timed out at 1M entries and cap_edge took
 * 1.1–1.3 s (bench:console). The columns are named apart from audit_log's so the two join without aliases.
 *
 * `audit_activity_day` holds the start screen's daily counts per agent and action, kept by the same loop:
 * counting a month of a 1M-entry log on every visit took most of the overview's 1.5 s.
 *
 * `audit_staff_writes_quarter` counts agents' writes per quarter hour (UTC), so the start screen's
 * "outside working hours" count is a sum over 2,880 buckets instead of a time-zone test on every write of
 * the month (about a second at 1M entries). Every time zone's offset is a whole number of quarter hours.
 *
 * `flagged_through` is how far along the seal chain both have been kept; existing entries are taken by
 * the same loop from 0, a batch at a time. Index 032 served cap_edge's scan and is no longer read.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table audit_flag (
    flag text not null,
    flagged_at timestamptz not null,
    entry_seq bigint not null,
    primary key (flag, entry_seq)
  )`.execute(db);
  await sql`create index audit_flag_page_idx on audit_flag (flag, flagged_at desc, entry_seq desc)`.execute(db);
  // actor_key is the agent's staff id, or '' for entries with no agent (system, customer).
  await sql`create table audit_activity_day (
    day date not null,
    actor_key text not null,
    action text not null,
    actor_email text,
    n bigint not null,
    primary key (day, actor_key, action)
  )`.execute(db);
  await sql`create table audit_staff_writes_quarter (bucket timestamptz primary key, n bigint not null)`.execute(db);
  await sql`alter table audit_seal_state add column flagged_through bigint not null default 0`.execute(db);
  await sql`drop index if exists audit_log_cap_edge_idx`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table audit_seal_state drop column flagged_through`.execute(db);
  await sql`drop table audit_staff_writes_quarter`.execute(db);
  await sql`drop table audit_activity_day`.execute(db);
  await sql`drop table audit_flag`.execute(db);
  await sql`create index audit_log_cap_edge_idx on audit_log (occurred_at desc, seq desc)
    where outcome = 'denied' or action in ('billing.credit_apply', 'billing.trial_extend', 'impersonation.start', 'seats.expand_temporarily', 'user.elevate_temporarily')`.execute(db);
}
