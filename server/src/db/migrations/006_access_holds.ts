import { sql, type Kysely } from "kysely";

/**
 * State the account-status actions need to be reversible, and the built-in identity's reset links:
 * - account_access_holds: an account-level suspension or deactivation, the status it replaced and
 *   exactly which users it blocked, so lifting it restores those users and no others.
 * - password_reset_tokens: one-time reset links the built-in identity provider mails (hash only).
 */
const statements = [
  `create table account_access_holds (
    id text primary key,
    account_id text not null references accounts(id),
    kind text not null check (kind in ('suspension','deactivation','deletion')),
    previous_status text not null,
    blocked_user_ids text[] not null default '{}',
    ticket_id text not null,
    operation_id text,
    created_at timestamptz not null default now(),
    released_at timestamptz
  )`,
  `create index account_access_holds_open_idx on account_access_holds (account_id) where released_at is null`,

  `create table password_reset_tokens (
    id text primary key,
    user_id text not null references users(id),
    token_sha256 text not null unique,
    expires_at timestamptz not null,
    ticket_id text,
    created_at timestamptz not null default now(),
    used_at timestamptz
  )`,
  `create index password_reset_tokens_user_idx on password_reset_tokens (user_id)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["password_reset_tokens", "account_access_holds"]) {
    await sql.raw(`drop table if exists ${table}`).execute(db);
  }
}
