import { sql, type Kysely } from "kysely";

/**
 * audit_log without its default partition.
 *
 * With a default partition PostgreSQL cannot treat the monthly partitions as ordered: a newest-first page
 * (`order by occurred_at desc, seq desc limit n`) becomes a merge over every partition instead of a walk
 * that starts in the newest month and stops after n rows, so a page costs more the older the log. Without
 * it an insert for a month that has no partition fails, so months are created ahead: here (last month to
 * two ahead), by the sealer (this and next month, hourly), and by appendAudit itself for a month it has not
 * seen in this process (server/src/audit/partitions.ts) — the fallback for clocks outside that window.
 *
 * Rows already in the default partition keep their seq and tx: each month of them is copied into a plain
 * table (no stamp trigger fires there), which is then attached as that month's partition.
 */
const statements = [
  // Two processes may create the same month at once: the loser finds it made and carries on.
  `create or replace function audit_log_add_month(month date) returns void language plpgsql security definer set search_path = public as $$
  declare
    first date := date_trunc('month', month)::date;
    name text := format('audit_log_y%sm%s', to_char(first, 'YYYY'), to_char(first, 'MM'));
  begin
    if to_regclass(name) is not null then return; end if;
    begin
      execute format('create table %I partition of audit_log for values from (%L) to (%L)', name, first::text || ' 00:00:00+00', (first + interval '1 month')::date::text || ' 00:00:00+00');
      -- Statement triggers are not inherited: each partition refuses TRUNCATE itself.
      execute format('create trigger audit_log_no_truncate before truncate on %I for each statement execute function audit_log_append_only(%L)', name, 'audit_log');
    exception when duplicate_table then
      null;
    end;
  end
  $$`,
  `do $$
  declare
    m date;
    name text;
    lower_bound text;
    upper_bound text;
  begin
    if to_regclass('audit_log_default') is null then return; end if;
    alter table audit_log detach partition audit_log_default;
    for m in select distinct date_trunc('month', occurred_at at time zone 'UTC')::date from audit_log_default loop
      name := format('audit_log_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
      lower_bound := m::text || ' 00:00:00+00';
      upper_bound := (m + interval '1 month')::date::text || ' 00:00:00+00';
      execute format('create table %I (like audit_log including defaults including constraints)', name);
      execute format('insert into %I select * from audit_log_default where occurred_at >= %L and occurred_at < %L', name, lower_bound, upper_bound);
      execute format('alter table audit_log attach partition %I for values from (%L) to (%L)', name, lower_bound, upper_bound);
      execute format('create trigger audit_log_no_truncate before truncate on %I for each statement execute function audit_log_append_only(%L)', name, 'audit_log');
    end loop;
    drop table audit_log_default;
  end
  $$`,
  `do $$
  declare
    month date := (date_trunc('month', now() at time zone 'UTC') - interval '1 month')::date;
    upto date := (date_trunc('month', now() at time zone 'UTC') + interval '2 months')::date;
  begin
    while month <= upto loop
      perform audit_log_add_month(month);
      month := (month + interval '1 month')::date;
    end loop;
  end
  $$`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(): Promise<void> {
  throw new Error("018_audit_partitions cannot be undone: entries may already depend on the months it keeps");
}
