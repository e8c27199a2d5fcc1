-- Least-privilege PostgreSQL roles for Steward. Run once as a superuser:
--
--   psql -v ON_ERROR_STOP=1 -v db=steward -f deploy/postgres-roles.sql
--   psql -c "alter role steward_owner password '…'" -c "alter role steward_service password '…'"
--
-- steward_owner   owns the database and its tables; runs the migrations (npm run db:migrate).
-- steward_service is what the Steward processes log in as: it reads and writes the domain tables,
--                 but may only SELECT and INSERT the audit tables (no UPDATE, DELETE, TRUNCATE), and
--                 cannot change the schema or switch the audit log's append-only triggers off.
-- After every upgrade that adds tables, run deploy/postgres-grants.sql again (as the owner or a superuser).

-- The database name: -v db=… (default steward).
\if :{?db}
\else
  \set db steward
\endif

select 'create role steward_owner login' where not exists (select 1 from pg_roles where rolname = 'steward_owner') \gexec
select 'create role steward_service login' where not exists (select 1 from pg_roles where rolname = 'steward_service') \gexec
select format('create database %I owner steward_owner', :'db') where not exists (select 1 from pg_database where datname = :'db') \gexec

\connect :db
-- Nobody but the owner creates objects here.
revoke create on schema public from public;
alter schema public owner to steward_owner;
grant usage on schema public to steward_service;
-- Tables the owner creates later are readable and writable by the service; audit tables are narrowed by postgres-grants.sql.
alter default privileges for role steward_owner in schema public grant select, insert, update, delete on tables to steward_service;
alter default privileges for role steward_owner in schema public grant usage, select on sequences to steward_service;
