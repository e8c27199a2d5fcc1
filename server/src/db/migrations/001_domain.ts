import { sql, type Kysely } from "kysely";

/**
 * The SaaS product Steward administers (accounts, users, built-in identity and billing state),
 * the panel's staff, and demo tickets. Plain SQL so that it reads the same on PGlite and PostgreSQL.
 */
const statements = [
  `create extension if not exists pg_trgm`,
  `create extension if not exists unaccent`,

  `create table accounts (
    id text primary key,
    name text not null,
    domain text,
    status text not null check (status in ('active','trialing','past_due','suspended','deactivated','deleted')),
    plan text not null,
    seats_licensed integer not null check (seats_licensed >= 0),
    billing_customer_id text unique,
    retention_until timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    version integer not null default 1
  )`,
  `create index accounts_domain_idx on accounts (lower(domain))`,
  `create index accounts_status_idx on accounts (status)`,

  `create table users (
    id text primary key,
    account_id text not null references accounts(id),
    email text not null,
    name text not null,
    role text not null check (role in ('owner','admin','billing','member','viewer')),
    status text not null check (status in ('active','invited','suspended','deactivated','deleted')),
    idp_id text unique,
    last_login_at timestamptz,
    failed_login_count integer not null default 0,
    locked_until timestamptz,
    blocked boolean not null default false,
    mfa_enrolled boolean not null default false,
    mfa_methods text[] not null default '{}',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    version integer not null default 1
  )`,
  `create index users_account_idx on users (account_id)`,
  `create index users_email_idx on users (lower(email))`,

  // Built-in identity provider: the product's own sign-in sessions.
  `create table user_sessions (
    id text primary key,
    user_id text not null references users(id),
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    ip text,
    user_agent text,
    revoked_at timestamptz
  )`,
  `create index user_sessions_user_idx on user_sessions (user_id) where revoked_at is null`,

  // Built-in billing provider: one customer and subscription per account.
  `create table billing_customers (
    id text primary key,
    account_id text not null unique references accounts(id),
    email text not null,
    currency text not null default 'usd',
    balance_cents bigint not null default 0,
    created_at timestamptz not null default now()
  )`,
  `create table billing_subscriptions (
    id text primary key,
    customer_id text not null references billing_customers(id),
    plan text not null,
    interval text not null check (interval in ('month','year')),
    status text not null check (status in ('trialing','active','past_due','unpaid','canceled','incomplete')),
    unit_amount_cents bigint not null,
    quantity integer not null check (quantity >= 0),
    trial_end timestamptz,
    current_period_end timestamptz not null,
    cancel_at_period_end boolean not null default false,
    canceled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
  )`,
  `create index billing_subscriptions_customer_idx on billing_subscriptions (customer_id)`,
  `create table billing_invoices (
    id text primary key,
    customer_id text not null references billing_customers(id),
    subscription_id text references billing_subscriptions(id),
    number text not null,
    status text not null check (status in ('draft','open','paid','uncollectible','void')),
    amount_due_cents bigint not null,
    amount_paid_cents bigint not null default 0,
    amount_remaining_cents bigint not null default 0,
    attempt_count integer not null default 0,
    next_payment_attempt timestamptz,
    created_at timestamptz not null default now()
  )`,
  `create index billing_invoices_customer_idx on billing_invoices (customer_id, created_at desc)`,
  `create table billing_balance_transactions (
    id text primary key,
    customer_id text not null references billing_customers(id),
    amount_cents bigint not null,
    currency text not null,
    description text,
    created_at timestamptz not null default now()
  )`,

  // What customers did recently (sign-ins, failures, changes), shown in the sidebar.
  `create table activity_events (
    id bigserial primary key,
    account_id text not null references accounts(id),
    user_id text references users(id),
    type text not null,
    detail text,
    ip text,
    occurred_at timestamptz not null default now()
  )`,
  `create index activity_events_account_idx on activity_events (account_id, occurred_at desc)`,
  `create index activity_events_user_idx on activity_events (user_id, occurred_at desc)`,

  // Panel staff: Zendesk agents known to Steward and their panel role.
  `create table staff (
    id text primary key,
    zendesk_user_id text not null unique,
    email text,
    name text,
    panel_role text not null check (panel_role in ('support_read_only','support_full','operations','admin')),
    active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
  )`,

  // Demo tickets for the local Zendesk page (demo mode only).
  `create table demo_tickets (
    id bigint primary key,
    subject text not null,
    requester_email text not null,
    requester_name text not null,
    requester_zendesk_id bigint not null,
    requester_external_id text,
    status text not null default 'open',
    created_at timestamptz not null default now()
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    "demo_tickets",
    "staff",
    "activity_events",
    "billing_balance_transactions",
    "billing_invoices",
    "billing_subscriptions",
    "billing_customers",
    "user_sessions",
    "users",
    "accounts",
  ]) {
    await sql.raw(`drop table if exists ${table}`).execute(db);
  }
}
