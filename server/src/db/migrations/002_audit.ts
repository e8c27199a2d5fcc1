import { sql, type Kysely } from "kysely";

/**
 * The tamper-evident audit log: one row per action, chained by SHA-256 (see server/src/audit/).
 *
 * Append-only is enforced by the database itself: triggers refuse UPDATE, DELETE (row level) and
 * TRUNCATE (statement level) for every role, the owner included. Only a superuser or the table owner
 * can switch the triggers off, which is why production runs Steward under a role that owns nothing:
 *
 *   create role steward_service login password '…';
 *   grant usage on schema public to steward_service;
 *   grant select, insert on audit_log to steward_service;           -- nothing else on this table
 *   grant select, insert, update, delete on <domain tables> to steward_service;
 *
 * and applies migrations with a separate owner role. If a role named `steward_service` already exists
 * when this migration runs, the audit_log grants above are applied to it here.
 *
 * Indexes: every search filter is `<column> = $1 order by seq desc`, so each filter column is indexed
 * together with seq (partial where the column is nullable); time ranges use occurred_at.
 */
const statements = [
  `create table audit_log (
    id uuid primary key,
    seq bigint not null check (seq > 0),
    occurred_at timestamptz not null,
    actor_staff_id text,
    actor_zendesk_user_id text,
    actor_email text,
    actor_role text,
    actor_system text,
    action text not null,
    target_type text not null,
    target_id text,
    target_account_id text,
    ticket_id text,
    reason text,
    before jsonb,
    after jsonb,
    outcome text not null check (outcome in ('pending','succeeded','failed','denied')),
    error text,
    request_id text,
    operation_id text,
    prev_hash text not null check (prev_hash ~ '^[0-9a-f]{64}$'),
    hash text not null check (hash ~ '^[0-9a-f]{64}$'),
    check ((actor_staff_id is null) <> (actor_system is null))
  )`,
  `create unique index audit_log_seq_idx on audit_log (seq)`,
  `create index audit_log_occurred_idx on audit_log (occurred_at desc, seq desc)`,
  `create index audit_log_actor_idx on audit_log (actor_staff_id, seq desc) where actor_staff_id is not null`,
  `create index audit_log_actor_email_idx on audit_log (lower(actor_email), seq desc) where actor_email is not null`,
  `create index audit_log_action_idx on audit_log (action, seq desc)`,
  `create index audit_log_account_idx on audit_log (target_account_id, seq desc) where target_account_id is not null`,
  `create index audit_log_target_idx on audit_log (target_id, seq desc) where target_id is not null`,
  `create index audit_log_ticket_idx on audit_log (ticket_id, seq desc) where ticket_id is not null`,
  `create index audit_log_outcome_idx on audit_log (outcome, seq desc)`,
  `create index audit_log_operation_idx on audit_log (operation_id) where operation_id is not null`,

  `create function audit_log_append_only() returns trigger language plpgsql as $$
  begin
    raise exception 'audit_log is append-only: % is not allowed', tg_op using errcode = '42501';
  end
  $$`,
  `create trigger audit_log_no_update_delete before update or delete on audit_log for each row execute function audit_log_append_only()`,
  `create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function audit_log_append_only()`,

  // No-ops on a fresh database (PUBLIC never had these), kept so the intent survives a dump and restore.
  `revoke update, delete, truncate on audit_log from public`,
  // Role-specific grants run only where the production role exists, so PGlite and a bare server migrate alike.
  `do $$
  begin
    if exists (select 1 from pg_roles where rolname = 'steward_service') then
      grant select, insert on audit_log to steward_service;
      revoke update, delete, truncate on audit_log from steward_service;
    end if;
  end
  $$`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`drop table if exists audit_log`).execute(db);
  await sql.raw(`drop function if exists audit_log_append_only()`).execute(db);
}
