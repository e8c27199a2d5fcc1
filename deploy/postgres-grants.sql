-- Run after migrations (as steward_owner or a superuser): psql -v ON_ERROR_STOP=1 -d steward -f deploy/postgres-grants.sql
-- The service role reads and writes domain tables, but the audit tables are append-only for it:
-- SELECT and INSERT only. (The audit log's triggers refuse UPDATE/DELETE/TRUNCATE for every role anyway;
-- this keeps the service role from even asking.)
grant usage on schema public to steward_service;
-- (This includes rate_limits, migration 017: every process updates the shared rate-limit counters there.)
grant select, insert, update, delete on all tables in schema public to steward_service;
grant usage, select on all sequences in schema public to steward_service;
do $$
declare t record;
begin
  for t in select tablename from pg_tables where schemaname = 'public' and tablename like 'audit\_%' loop
    execute format('revoke update, delete, truncate on %I from steward_service', t.tablename);
  end loop;
end
$$;
-- The one audit row the service updates: the sealer's visibility horizon (tampering with it only delays sealing).
grant update on audit_seal_state to steward_service;
-- And how far each checkpoint sink has been given the checkpoints (tampering with it only re-sends or holds them back).
grant update on audit_checkpoint_export to steward_service;
-- And the console's running counts the flagger adds to as entries are sealed (migration 035; tampering
-- with them only misstates the start screen's counts, never the log).
grant update on audit_activity_day, audit_staff_writes_quarter to steward_service;
