import { sql, type Kysely } from "kysely";

/**
 * Security hardening (issue 12):
 * - zaf_token_uses: each ZAF token is accepted once (its jti, or its hash), kept until it expires.
 * - cap_usage: what each agent has used of a capped action, reserved before any provider call, so caps
 *   hold over time (per target and per day) and under concurrency.
 * - panel_caps.scope: admin overrides for the per-request, per-target and per-day caps.
 * - mail_outbox.secret_sealed: bearer secrets in mail (reset links) sealed with a key the database does not hold.
 */
const statements = [
  `create table zaf_token_uses (
    token_key text primary key,
    zendesk_user_id text not null,
    expires_at timestamptz not null,
    used_at timestamptz not null
  )`,
  `create index zaf_token_uses_expires_idx on zaf_token_uses (expires_at)`,
  `create table cap_usage (
    id text primary key,
    staff_id text not null,
    action text not null,
    target_id text not null,
    amount bigint not null check (amount >= 0),
    created_at timestamptz not null
  )`,
  `create index cap_usage_staff_action_idx on cap_usage (staff_id, action, created_at)`,
  `alter table panel_caps add column scope text not null default 'request' check (scope in ('request','target','day'))`,
  `alter table panel_caps drop constraint panel_caps_pkey`,
  `alter table panel_caps add primary key (action, panel_role, scope)`,
  `alter table mail_outbox add column secret_sealed text`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`alter table mail_outbox drop column if exists secret_sealed`).execute(db);
  await sql.raw(`delete from panel_caps where scope <> 'request'`).execute(db);
  await sql.raw(`alter table panel_caps drop constraint panel_caps_pkey`).execute(db);
  await sql.raw(`alter table panel_caps drop column scope`).execute(db);
  await sql.raw(`alter table panel_caps add primary key (action, panel_role)`).execute(db);
  await sql.raw(`drop table if exists cap_usage`).execute(db);
  await sql.raw(`drop table if exists zaf_token_uses`).execute(db);
}
