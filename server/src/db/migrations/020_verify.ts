import { sql, type Kysely } from "kysely";

/**
 * Ticket verification and two-person approval. The audit log gains the ticket as Zendesk showed it at
 * the time of the write and, for an approved action, who asked and who approved (both covered by the
 * entry MAC). The local Zendesk page's ticket store gains what verification reads (assignee,
 * organizations). Approval requests and the admin's policy of actions that need a second person.
 */
const statements = [
  `alter table audit_log add column ticket_snapshot jsonb`,
  `alter table audit_log add column approval jsonb`,

  `alter table demo_tickets add column assignee_zendesk_id bigint`,
  `alter table demo_tickets add column requester_organization_id bigint`,
  `create table demo_organizations (
    id bigint primary key,
    name text not null,
    external_id text,
    domain_names text[] not null default '{}'
  )`,

  `create table approval_requests (
    id text primary key,
    action text not null,
    target_type text not null check (target_type in ('user','account')),
    target_id text not null,
    account_id text,
    ticket_id text not null,
    reason text not null,
    input jsonb not null,
    preview jsonb,
    status text not null check (status in ('pending','approved','rejected','expired','failed')),
    requested_by_staff_id text not null references staff(id),
    requested_by_email text not null,
    requested_by_name text,
    requested_by_role text not null,
    decided_by_staff_id text references staff(id),
    decided_by_email text,
    decided_by_name text,
    decision_reason text,
    result jsonb,
    claimed_by text,
    claimed_until timestamptz,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    decided_at timestamptz,
    check ((status = 'pending') = (decided_at is null))
  )`,
  `create index approval_requests_pending_idx on approval_requests (expires_at) where status = 'pending'`,
  `create index approval_requests_ticket_idx on approval_requests (ticket_id, created_at desc)`,
  `create index approval_requests_requester_idx on approval_requests (requested_by_staff_id, created_at desc)`,

  `create table approval_policy (
    action text primary key,
    requires_approval boolean not null,
    updated_by text not null,
    updated_at timestamptz not null
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    `drop table approval_policy`,
    `drop table approval_requests`,
    `drop table demo_organizations`,
    `alter table demo_tickets drop column requester_organization_id`,
    `alter table demo_tickets drop column assignee_zendesk_id`,
    `alter table audit_log drop column approval`,
    `alter table audit_log drop column ticket_snapshot`,
  ])
    await sql.raw(statement).execute(db);
}
