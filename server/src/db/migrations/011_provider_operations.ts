import { sql, type Kysely } from "kysely";

/**
 * Provider truth: a lease per account held across a provider call (released on crash by its expiry),
 * a record of every external operation with what is needed to finish it (the reconciler's work list),
 * and a lease on Idempotency-Keys so a key whose holder died is released instead of stuck.
 */
const statements = [
  `create table target_leases (
    lease_key text primary key,
    holder text not null,
    expires_at timestamptz not null
  )`,

  `create table provider_operations (
    operation_id text primary key,
    action text not null,
    target_type text not null,
    target_id text not null,
    account_id text not null,
    key_owner text not null,
    idempotency_key text,
    provider_key text not null,
    request jsonb not null,
    provider_before jsonb,
    status text not null check (status in ('pending','unknown','succeeded','failed')),
    lease_expires_at timestamptz not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    created_at timestamptz not null,
    closed_at timestamptz
  )`,
  `create index provider_operations_open_idx on provider_operations (next_attempt_at) where status in ('pending','unknown')`,
  `create index provider_operations_account_open_idx on provider_operations (account_id) where status in ('pending','unknown')`,

  `alter table idempotency_keys add column lease_expires_at timestamptz`,
  `alter table idempotency_keys add column operation_id text`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`alter table idempotency_keys drop column if exists operation_id`).execute(db);
  await sql.raw(`alter table idempotency_keys drop column if exists lease_expires_at`).execute(db);
  await sql.raw(`drop table if exists provider_operations`).execute(db);
  await sql.raw(`drop table if exists target_leases`).execute(db);
}
