import { sql, type Kysely } from "kysely";

/**
 * The audit log, sealed after the fact and partitioned by month.
 *
 * Appends no longer take a lock: each entry commits with its change, carrying a MAC made with a key the
 * database never holds (`mac`, see server/src/audit/sealKey.ts), and one sealer (server/src/audit/sealer.ts)
 * chains the committed rows shortly after. The chain lives in its own append-only table, `audit_seal`, one
 * row per sealed entry, rather than in columns of audit_log: audit_log stays strictly INSERT-only (no
 * trigger exception to reason about), and the sealer never needs UPDATE on it. `audit_seal_state` is
 * the one updatable row (the sealer's visibility horizon); tampering with it can only delay sealing, which
 * verify reports as unsealed entries.
 *
 * `seq` and `tx` are stamped by a trigger, whatever the inserter sends: seq orders search pages, tx (the
 * inserting transaction) lets the sealer find rows that became visible since its last round, in the order
 * they commit, without scanning the table.
 *
 * Partitions: one per month of occurred_at (audit_log_add_month creates them; the sealer keeps the current
 * and next month ready), and a default partition so an insert never fails for want of one. Indexes put
 * occurred_at, seq after each filter column, matching the search order, so a keyset page is the same
 * short index walk at any depth. Grants for a `steward_service` role, when it exists, as in 002.
 */
const hex = (column: string) => `${column} text not null check (${column} ~ '^[0-9a-f]{64}$')`;

const statements = [
  `create or replace function audit_log_append_only() returns trigger language plpgsql as $$
  begin
    raise exception '% is append-only: % is not allowed', coalesce(tg_argv[0], tg_table_name), tg_op using errcode = '42501';
  end
  $$`,
  `alter table audit_log rename to audit_log_v1`,
  `create table audit_log (
    id uuid not null,
    seq bigint not null constraint audit_log_seq_check check (seq > 0),
    tx xid8 not null,
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
    outcome text not null,
    error text,
    request_id text,
    operation_id text,
    mac text constraint audit_log_mac_check check (mac ~ '^[0-9a-f]{64}$'),
    constraint audit_log_outcome_check check (outcome in ('pending','succeeded','failed','denied','unknown')),
    constraint audit_log_actor_check check ((actor_staff_id is null) <> (actor_system is null))
  ) partition by range (occurred_at)`,
  `create table audit_log_default partition of audit_log default`,
  `create function audit_log_add_month(month date) returns void language plpgsql security definer set search_path = public as $$
  declare
    first date := date_trunc('month', month)::date;
    name text := format('audit_log_y%sm%s', to_char(first, 'YYYY'), to_char(first, 'MM'));
  begin
    if to_regclass(name) is not null then return; end if;
    execute format('create table %I partition of audit_log for values from (%L) to (%L)', name, first::text || ' 00:00:00+00', (first + interval '1 month')::date::text || ' 00:00:00+00');
    -- Statement triggers are not inherited: each partition refuses TRUNCATE itself.
    execute format('create trigger audit_log_no_truncate before truncate on %I for each statement execute function audit_log_append_only(%L)', name, 'audit_log');
  end
  $$`,
  // Months from the oldest entry (or last month) to two ahead; later months are added by the sealer.
  `do $$
  declare
    month date := date_trunc('month', least(coalesce((select min(occurred_at) from audit_log_v1), now()), now() - interval '1 month'))::date;
    upto date := (date_trunc('month', now()) + interval '2 months')::date;
  begin
    while month <= upto loop
      perform audit_log_add_month(month);
      month := (month + interval '1 month')::date;
    end loop;
  end
  $$`,

  // Entries written before this migration carry no MAC: they are sealed as they are, up to this seq.
  `create table audit_legacy (head_seq bigint not null)`,
  `insert into audit_legacy select coalesce(max(seq), 0) from audit_log_v1`,
  `insert into audit_log (id, seq, tx, occurred_at, actor_staff_id, actor_zendesk_user_id, actor_email, actor_role, actor_system, action, target_type, target_id,
     target_account_id, ticket_id, reason, before, after, outcome, error, request_id, operation_id, mac)
   select id, seq, pg_current_xact_id(), occurred_at, actor_staff_id, actor_zendesk_user_id, actor_email, actor_role, actor_system, action, target_type, target_id,
     target_account_id, ticket_id, reason, before, after, outcome, error, request_id, operation_id, null
   from audit_log_v1 order by seq`,
  `drop table audit_log_v1`,
  `alter table audit_log add constraint audit_log_pkey primary key (id, occurred_at)`,

  `create sequence audit_log_seq as bigint`,
  `select setval('audit_log_seq', (select head_seq + 1 from audit_legacy), false)`,
  `create function audit_log_stamp() returns trigger language plpgsql as $$
  begin
    new.seq := nextval('audit_log_seq');
    new.tx := pg_current_xact_id();
    return new;
  end
  $$`,
  `create trigger audit_log_stamp before insert on audit_log for each row execute function audit_log_stamp()`,
  `create trigger audit_log_no_update_delete before update or delete on audit_log for each row execute function audit_log_append_only('audit_log')`,
  `create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function audit_log_append_only('audit_log')`,
  `create trigger audit_log_no_truncate before truncate on audit_log_default for each statement execute function audit_log_append_only('audit_log')`,

  `create index audit_log_seq_idx on audit_log (seq)`,
  `create index audit_log_tx_idx on audit_log (tx)`,
  `create index audit_log_occurred_idx on audit_log (occurred_at desc, seq desc)`,
  `create index audit_log_actor_idx on audit_log (actor_staff_id, occurred_at desc, seq desc) where actor_staff_id is not null`,
  `create index audit_log_actor_email_idx on audit_log (lower(actor_email), occurred_at desc, seq desc) where actor_email is not null`,
  `create index audit_log_action_idx on audit_log (action, occurred_at desc, seq desc)`,
  `create index audit_log_account_idx on audit_log (target_account_id, occurred_at desc, seq desc) where target_account_id is not null`,
  `create index audit_log_target_idx on audit_log (target_id, occurred_at desc, seq desc) where target_id is not null`,
  `create index audit_log_ticket_idx on audit_log (ticket_id, occurred_at desc, seq desc) where ticket_id is not null`,
  `create index audit_log_outcome_idx on audit_log (outcome, occurred_at desc, seq desc)`,
  `create index audit_log_operation_idx on audit_log (operation_id) where operation_id is not null`,

  // The chain: position chain_seq seals entry entry_seq; hash is a MAC over (position, prev_hash, entry hash).
  `create table audit_seal (
    chain_seq bigint primary key check (chain_seq > 0),
    entry_seq bigint not null unique,
    entry_id uuid not null,
    occurred_at timestamptz not null,
    ${hex("entry_hash")},
    ${hex("prev_hash")},
    ${hex("hash")}
  )`,
  `create table audit_seal_state (id int primary key check (id = 1), horizon xid8 not null)`,
  `insert into audit_seal_state values (1, '0')`,
  // Signed checkpoints (also exported to the configured sinks), and the heads a verify found intact.
  `create table audit_checkpoint (
    chain_seq bigint primary key,
    ${hex("head_hash")},
    entry_count bigint not null,
    created_at timestamptz not null,
    key_id text not null,
    signature text not null
  )`,
  `create table audit_verified (
    chain_seq bigint not null,
    ${hex("head_hash")},
    verified_at timestamptz not null,
    ${hex("mac")}
  )`,
  `create index audit_verified_seq_idx on audit_verified (chain_seq desc)`,
  ...["audit_seal", "audit_checkpoint", "audit_verified", "audit_legacy"].flatMap((table) => [
    `create trigger ${table}_no_update_delete before update or delete on ${table} for each row execute function audit_log_append_only()`,
    `create trigger ${table}_no_truncate before truncate on ${table} for each statement execute function audit_log_append_only()`,
  ]),

  `revoke update, delete, truncate on audit_log, audit_seal, audit_checkpoint, audit_verified, audit_legacy from public`,
  `do $$
  begin
    if exists (select 1 from pg_roles where rolname = 'steward_service') then
      grant select, insert on audit_log, audit_seal, audit_checkpoint, audit_verified to steward_service;
      grant select on audit_legacy to steward_service;
      grant select, update on audit_seal_state to steward_service;
      grant usage on sequence audit_log_seq to steward_service;
      grant execute on function audit_log_add_month(date) to steward_service;
      revoke update, delete, truncate on audit_log, audit_seal, audit_checkpoint, audit_verified, audit_legacy from steward_service;
    end if;
  end
  $$`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(): Promise<void> {
  throw new Error("010_audit_seal cannot be undone: the sealed chain has no unsealed form to return to");
}
