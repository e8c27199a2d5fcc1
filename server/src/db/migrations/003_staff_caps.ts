import { sql, type Kysely } from "kysely";

/**
 * Per-role cap overrides set by admins. The defaults live in shared/actions.ts; a row here replaces
 * the default for one action and one panel role, until an admin resets it (the row is deleted).
 */
const statements = [
  `create table panel_caps (
    action text not null,
    panel_role text not null check (panel_role in ('support_read_only','support_full','operations','admin')),
    max_value bigint not null check (max_value >= 0),
    updated_at timestamptz not null default now(),
    updated_by text,
    primary key (action, panel_role)
  )`,
  // Which admins exist is asked on every role change (the last admin may not be removed).
  `create index staff_active_role_idx on staff (panel_role) where active`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`drop index if exists staff_active_role_idx`).execute(db);
  await sql.raw(`drop table if exists panel_caps`).execute(db);
}
