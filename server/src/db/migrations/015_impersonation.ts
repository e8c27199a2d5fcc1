import { sql, type Kysely } from "kysely";

/**
 * Ticket-linked impersonation: the products that accept grants (only a hash of their secret), the
 * sessions (one live per agent, enforced by a partial unique index as well as by the command), what
 * the agent did inside the product, the admin's notice setting, the outbox of Zendesk internal notes,
 * and the product's "never impersonate this user" flag.
 */
const statements = [
  `create table impersonation_products (
    id text primary key,
    name text not null,
    url text not null,
    secret_sha256 text not null,
    created_at timestamptz not null default now(),
    revoked_at timestamptz
  )`,
  `create table impersonation_sessions (
    id text primary key,
    staff_id text not null references staff(id),
    agent_zendesk_user_id text not null,
    agent_email text,
    agent_name text,
    agent_panel_role text not null,
    user_id text not null references users(id),
    account_id text not null references accounts(id),
    product_id text not null references impersonation_products(id),
    ticket_id text not null,
    reason text not null,
    mode text not null check (mode in ('read_only','full')),
    started_at timestamptz not null,
    last_activity_at timestamptz not null,
    idle_deadline timestamptz not null,
    absolute_deadline timestamptz not null,
    grant_jti text not null unique,
    grant_expires_at timestamptz not null,
    redeemed_at timestamptz,
    ended_at timestamptz,
    end_reason text check (end_reason in ('agent','admin_revoked','idle_timeout','absolute_timeout','target_changed','staff_deactivated')),
    ended_by text,
    action_count integer not null default 0,
    refused_count integer not null default 0,
    check ((ended_at is null) = (end_reason is null))
  )`,
  `create unique index impersonation_sessions_one_live_idx on impersonation_sessions (staff_id) where ended_at is null`,
  `create index impersonation_sessions_live_idx on impersonation_sessions (idle_deadline, absolute_deadline) where ended_at is null`,
  `create index impersonation_sessions_ticket_idx on impersonation_sessions (ticket_id, started_at desc)`,
  `create table impersonation_events (
    session_id text not null references impersonation_sessions(id),
    event_id text not null,
    method text not null,
    route text not null,
    object text,
    outcome text not null check (outcome in ('succeeded','refused','failed')),
    status integer,
    detail text,
    occurred_at timestamptz not null,
    received_at timestamptz not null,
    after_end boolean not null default false,
    audit_entry_id uuid not null,
    primary key (session_id, event_id)
  )`,
  `create table steward_settings (
    key text primary key,
    value jsonb not null,
    updated_at timestamptz not null default now(),
    updated_by text
  )`,
  `create table ticket_notes (
    id text primary key,
    ticket_id text not null,
    body text not null,
    kind text not null,
    session_id text,
    operation_id text,
    status text not null check (status in ('queued','sent','failed','unknown')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    last_error text,
    created_at timestamptz not null default now(),
    sent_at timestamptz
  )`,
  `create index ticket_notes_due_idx on ticket_notes (next_attempt_at) where status = 'queued'`,
  `alter table users add column impersonation_protected boolean not null default false`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`alter table users drop column if exists impersonation_protected`).execute(db);
  for (const table of ["ticket_notes", "steward_settings", "impersonation_events", "impersonation_sessions", "impersonation_products"]) {
    await sql.raw(`drop table if exists ${table}`).execute(db);
  }
}
