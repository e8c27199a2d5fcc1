import { sql, type Kysely } from "kysely";

/**
 * A monthly audit partition made after deploy/postgres-grants.sql ran (the sealer makes next month's as the
 * service role, through the owner's audit_log_add_month) took the owner's default privileges from
 * deploy/postgres-roles.sql: UPDATE and DELETE for steward_service on that partition. The append-only
 * triggers still refused the rows, but the service role was no longer SELECT/INSERT only as documented.
 * audit_log_add_month now narrows each partition it makes to SELECT/INSERT for everyone but the owner, and
 * the partitions made since are narrowed here.
 */
const narrow = (relation: string) => `
    for grantee in
      select distinct a.grantee from pg_class c cross join lateral aclexplode(c.relacl) a
      where c.oid = to_regclass(${relation}) and a.grantee <> c.relowner and a.privilege_type in ('UPDATE', 'DELETE', 'TRUNCATE')
    loop
      execute format('revoke update, delete, truncate on %I from %s', ${relation}, case when grantee = 0 then 'public' else grantee::regrole::text end);
    end loop;`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(
      `create or replace function audit_log_add_month(month date) returns void language plpgsql security definer set search_path = public as $$
  declare
    first date := date_trunc('month', month)::date;
    name text := format('audit_log_y%sm%s', to_char(first, 'YYYY'), to_char(first, 'MM'));
    grantee oid;
  begin
    if to_regclass(name) is not null then return; end if;
    begin
      execute format('create table %I partition of audit_log for values from (%L) to (%L)', name, first::text || ' 00:00:00+00', (first + interval '1 month')::date::text || ' 00:00:00+00');
      -- Statement triggers are not inherited: each partition refuses TRUNCATE itself.
      execute format('create trigger audit_log_no_truncate before truncate on %I for each statement execute function audit_log_append_only(%L)', name, 'audit_log');
      -- Default privileges may have granted more than the audit log allows: SELECT and INSERT only.
      ${narrow("name")}
    exception when duplicate_table then
      null;
    end;
  end
  $$`,
    )
    .execute(db);
  await sql
    .raw(
      `do $$
  declare
    partition text;
    grantee oid;
  begin
    for partition in select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'audit_log'::regclass loop
      ${narrow("partition")}
    end loop;
  end
  $$`,
    )
    .execute(db);
}

export async function down(): Promise<void> {
  // The narrower grants stay: widening them again is never wanted.
}
