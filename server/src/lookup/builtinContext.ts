import { sql, type Kysely, type Selectable } from "kysely";
import type { DB, BillingCustomersTable, BillingSubscriptionsTable, ProviderOperationsTable } from "../db/schema.js";
import { preparedStatement } from "../db/database.js";
import { AUTH_EVENT_TYPES, RECENT_AUTH_EVENTS, type AuthEventRow, type IdentityRow } from "../providers/builtin/builtinIdentity.js";
import { RECENT_INVOICES, type InvoiceRow } from "../providers/builtin/builtinBilling.js";
import { accountChangesSql, HISTORY_LIMIT } from "./accountHistory.js";
import type { AccountSummaryRow } from "./accountSummary.js";

/**
 * With the built-in providers every part of the requester context lives in our own tables, so they are
 * read in ONE statement (one round trip, planned once per connection as a named statement) instead of
 * ten: the account with its counts, its activity and audit lines, the user's sign-in state, the billing
 * customer with its current subscription and invoices, and the account's open provider operations.
 * Each part is the same query the per-part readers run (accountSummary.ts, accountHistory.ts,
 * builtinIdentity.ts, builtinBilling.ts, providerOperations.ts), and the rows go through the same
 * functions, so the response is the same either way. With other providers (Auth0, Stripe) the parts
 * Steward keeps still come in one statement of their own (loadStewardContextRows), beside the provider calls.
 */
export interface BuiltinContextRows {
  account: AccountSummaryRow | null;
  activity: { type: string; user_id: string | null; user_name: string | null; detail: string | null; ip: string | null; occurred_at: Date }[];
  audit: { id: string; seq: number; occurred_at: Date; action: string; actor_email: string | null; actor_name: string | null; ticket_id: string | null; outcome: string; reason: string | null }[];
  identity: IdentityRow | null;
  activeSessions: number;
  authEvents: AuthEventRow[];
  customer: Selectable<BillingCustomersTable> | null;
  subscription: Selectable<BillingSubscriptionsTable> | null;
  invoices: InvoiceRow[];
  openOperations: Pick<Selectable<ProviderOperationsTable>, "operation_id" | "action" | "target_type" | "target_id" | "status" | "last_error" | "attempts" | "created_at">[];
}

/** Operations the sidebar lists as unresolved, as openOperationsOf reads them. */
const OPEN_OPERATIONS_LIMIT = 20;

type Json = Record<string, unknown>;

/** json(b) carries timestamps as ISO text; the per-part readers get Dates from the driver. Same millisecond either way. */
function withDates<T>(row: Json | null, columns: readonly string[]): T | null {
  if (!row) return null;
  const out: Json = { ...row };
  for (const c of columns) if (typeof out[c] === "string") out[c] = new Date(out[c]);
  return out as T;
}
const allWithDates = <T>(rows: Json[] | null, columns: readonly string[]): T[] => (rows ?? []).map((r) => withDates<T>(r, columns) as T);

type UserRef = { id: string; account_id: string; billing_customer_id: string | null };

/** The parts Steward keeps whatever the providers: the account with its counts, its activity and audit lines, its open operations. */
function stewardParts(user: UserRef, now: Date) {
  return sql`
  (select row_to_json(x) from (
     select a.*,
       (select count(*) from users u where u.account_id = a.id and u.status in ('active', 'invited')) as seats_used,
       (select count(*) from users u where u.account_id = a.id and u.status <> 'deleted') as user_count,
       (select count(*) from users u where u.account_id = a.id and u.status = 'active' and u.role in ('owner', 'admin')) as active_admin_count,
       (select coalesce(sum(e.seats), 0) from seat_expansions e where e.account_id = a.id and e.reverted_at is null and e.expires_at > ${now}::timestamptz) as temporary_seats
     from accounts a where a.id = ${user.account_id}::text) x) as account,
  (select json_agg(to_jsonb(x) - 'n' order by x.n) from (
     select type, user_id, (select name from users u where u.id = activity_events.user_id) as user_name, detail, ip, occurred_at,
       row_number() over (order by occurred_at desc, id desc) as n
     from activity_events where account_id = ${user.account_id}::text
     order by occurred_at desc, id desc limit ${HISTORY_LIMIT}) x) as activity,
  (select json_agg(x order by x.seq desc) from (${accountChangesSql(user.account_id, HISTORY_LIMIT)}) x) as audit,
  (select json_agg(to_jsonb(x) - 'n' order by x.n) from (
     select operation_id, action, target_type, target_id, status, last_error, attempts, created_at, row_number() over (order by created_at desc) as n
     from provider_operations where account_id = ${user.account_id}::text and status in ('pending', 'unknown', 'needs_review')
     order by created_at desc limit ${OPEN_OPERATIONS_LIMIT}) x) as open_operations`;
}

type StewardJson = { account: Json | null; activity: Json[] | null; audit: Json[] | null; open_operations: Json[] | null };
export type StewardRows = Pick<BuiltinContextRows, "account" | "activity" | "audit" | "openOperations">;

function stewardRowsOf(r: StewardJson): StewardRows {
  return {
    account: withDates<AccountSummaryRow>(r.account, ["created_at", "updated_at", "retention_until"]),
    activity: allWithDates(r.activity, ["occurred_at"]),
    audit: allWithDates(r.audit, ["occurred_at"]),
    openOperations: allWithDates(r.open_operations, ["created_at"]),
  };
}

/**
 * With Auth0 and Stripe (or any provider not in our tables) the parts Steward keeps are still read in one
 * statement, beside the provider calls: one round trip instead of four.
 */
export async function loadStewardContextRows(db: Kysely<DB>, user: UserRef, now: Date): Promise<StewardRows> {
  const { rows } = await sql<StewardJson>`${preparedStatement("requester_context_steward")} select ${stewardParts(user, now)}`.execute(db);
  const r = rows[0];
  if (!r) throw new Error("the requester context statement returned no row");
  return stewardRowsOf(r);
}

export async function loadBuiltinContextRows(db: Kysely<DB>, user: UserRef, now: Date): Promise<BuiltinContextRows> {
  // Fixed parameter count (lists as arrays), so the named statement is one and the same for every request.
  const { rows } = await sql<
    StewardJson & {
      identity: Json | null;
      active_sessions: number | string;
      auth_events: Json[] | null;
      customer: Json | null;
      subscription: Json | null;
      invoices: Json[] | null;
    }
  >`${preparedStatement("requester_context_builtin")}
with cust as (
  select c.* from billing_customers c where c.id = ${user.billing_customer_id}::text
  union all
  select c.* from billing_customers c where ${user.billing_customer_id}::text is null and c.account_id = ${user.account_id}::text
  limit 1
)
select ${stewardParts(user, now)},
  (select row_to_json(x) from (
     select id, email, blocked, failed_login_count, locked_until, mfa_enrolled, mfa_methods, last_login_at from users where id = ${user.id}::text) x) as identity,
  (select count(*) from user_sessions where user_id = ${user.id}::text and revoked_at is null) as active_sessions,
  (select json_agg(to_jsonb(x) - 'n' order by x.n) from (
     select type, occurred_at, ip, detail, row_number() over (order by occurred_at desc, id desc) as n
     from activity_events where user_id = ${user.id}::text and type = any(${[...AUTH_EVENT_TYPES]}::text[])
     order by occurred_at desc, id desc limit ${RECENT_AUTH_EVENTS}) x) as auth_events,
  (select row_to_json(c) from cust c) as customer,
  (select row_to_json(s) from billing_subscriptions s where s.customer_id = (select id from cust)
     order by s.status = 'canceled' asc, s.created_at desc, s.id desc limit 1) as subscription,
  (select json_agg(to_jsonb(x) - 'n' order by x.n) from (
     select id, number, status, amount_due_cents, amount_remaining_cents, attempt_count, next_payment_attempt, created_at,
       row_number() over (order by created_at desc, id desc) as n
     from billing_invoices where customer_id = (select id from cust)
     order by created_at desc, id desc limit ${RECENT_INVOICES}) x) as invoices
`.execute(db);
  const r = rows[0];
  if (!r) throw new Error("the requester context statement returned no row");
  const stamps = ["created_at", "updated_at"] as const;
  return {
    ...stewardRowsOf(r),
    identity: withDates<IdentityRow>(r.identity, ["locked_until", "last_login_at"]),
    activeSessions: Number(r.active_sessions),
    authEvents: allWithDates(r.auth_events, ["occurred_at"]),
    customer: withDates(r.customer, ["created_at"]),
    subscription: withDates(r.subscription, [...stamps, "trial_end", "current_period_end", "canceled_at"]),
    invoices: allWithDates(r.invoices, ["next_payment_attempt", "created_at"]),
  };
}
