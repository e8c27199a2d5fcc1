import { sql, type Kysely } from "kysely";

/**
 * What support actions need beyond the domain tables: idempotency records (a retried request returns
 * the first result), the customer mail outbox, and temporary grants that a sweep reverts.
 */
const statements = [
  `create table idempotency_keys (
    staff_id text not null,
    key text not null,
    action text not null,
    request_hash text not null,
    status text not null check (status in ('in_progress','completed')),
    response jsonb,
    created_at timestamptz not null default now(),
    completed_at timestamptz,
    primary key (staff_id, key)
  )`,

  `create table mail_outbox (
    id text primary key,
    to_address text not null,
    subject text not null,
    body_text text not null,
    kind text not null,
    account_id text,
    user_id text,
    ticket_id text,
    operation_id text,
    status text not null check (status in ('queued','sent','held','failed')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    created_at timestamptz not null default now(),
    sent_at timestamptz
  )`,
  `create index mail_outbox_due_idx on mail_outbox (next_attempt_at) where status = 'queued'`,

  `create table role_elevations (
    id text primary key,
    user_id text not null references users(id),
    account_id text not null references accounts(id),
    previous_role text not null,
    elevated_role text not null,
    expires_at timestamptz not null,
    ticket_id text not null,
    granted_by_staff_id text not null,
    created_at timestamptz not null default now(),
    reverted_at timestamptz
  )`,
  `create index role_elevations_due_idx on role_elevations (expires_at) where reverted_at is null`,

  `create table seat_expansions (
    id text primary key,
    account_id text not null references accounts(id),
    seats integer not null check (seats > 0),
    expires_at timestamptz not null,
    ticket_id text not null,
    granted_by_staff_id text not null,
    created_at timestamptz not null default now(),
    reverted_at timestamptz
  )`,
  `create index seat_expansions_due_idx on seat_expansions (expires_at) where reverted_at is null`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["seat_expansions", "role_elevations", "mail_outbox", "idempotency_keys"]) {
    await sql.raw(`drop table if exists ${table}`).execute(db);
  }
}
