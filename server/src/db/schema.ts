import type { ColumnType, Generated, Insertable, Selectable, Updateable } from "kysely";

/** Typed tables. Each migration that adds a table adds its interface here. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;

export interface AccountsTable {
  id: string;
  name: string;
  domain: string | null;
  status: "active" | "trialing" | "past_due" | "suspended" | "deactivated" | "deleted";
  plan: string;
  seats_licensed: number;
  billing_customer_id: string | null;
  retention_until: Timestamp | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  version: Generated<number>;
}

export interface UsersTable {
  id: string;
  account_id: string;
  email: string;
  name: string;
  role: "owner" | "admin" | "billing" | "member" | "viewer";
  status: "active" | "invited" | "suspended" | "deactivated" | "deleted";
  idp_id: string | null;
  last_login_at: Timestamp | null;
  failed_login_count: Generated<number>;
  locked_until: Timestamp | null;
  blocked: Generated<boolean>;
  mfa_enrolled: Generated<boolean>;
  mfa_methods: Generated<string[]>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  version: Generated<number>;
}

export interface UserSessionsTable {
  id: string;
  user_id: string;
  created_at: CreatedAt;
  last_seen_at: Generated<Date>;
  ip: string | null;
  user_agent: string | null;
  revoked_at: Timestamp | null;
}

export interface BillingCustomersTable {
  id: string;
  account_id: string;
  email: string;
  currency: Generated<string>;
  balance_cents: Generated<number>;
  created_at: CreatedAt;
}

export interface BillingSubscriptionsTable {
  id: string;
  customer_id: string;
  plan: string;
  interval: "month" | "year";
  status: "trialing" | "active" | "past_due" | "unpaid" | "canceled" | "incomplete";
  unit_amount_cents: number;
  quantity: number;
  trial_end: Timestamp | null;
  current_period_end: Timestamp;
  cancel_at_period_end: Generated<boolean>;
  canceled_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface BillingInvoicesTable {
  id: string;
  customer_id: string;
  subscription_id: string | null;
  number: string;
  status: "draft" | "open" | "paid" | "uncollectible" | "void";
  amount_due_cents: number;
  amount_paid_cents: Generated<number>;
  amount_remaining_cents: Generated<number>;
  attempt_count: Generated<number>;
  next_payment_attempt: Timestamp | null;
  created_at: CreatedAt;
}

export interface BillingBalanceTransactionsTable {
  id: string;
  customer_id: string;
  amount_cents: number;
  currency: string;
  description: string | null;
  created_at: CreatedAt;
}

export interface ActivityEventsTable {
  id: Generated<number>;
  account_id: string;
  user_id: string | null;
  type: string;
  detail: string | null;
  ip: string | null;
  occurred_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface StaffTable {
  id: string;
  zendesk_user_id: string;
  email: string | null;
  name: string | null;
  panel_role: "support_read_only" | "support_full" | "operations" | "admin";
  active: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface DemoTicketsTable {
  id: number;
  subject: string;
  requester_email: string;
  requester_name: string;
  requester_zendesk_id: number;
  requester_external_id: string | null;
  status: Generated<string>;
  created_at: CreatedAt;
}

export interface DB {
  accounts: AccountsTable;
  users: UsersTable;
  user_sessions: UserSessionsTable;
  billing_customers: BillingCustomersTable;
  billing_subscriptions: BillingSubscriptionsTable;
  billing_invoices: BillingInvoicesTable;
  billing_balance_transactions: BillingBalanceTransactionsTable;
  activity_events: ActivityEventsTable;
  staff: StaffTable;
  demo_tickets: DemoTicketsTable;
}

export type Account = Selectable<AccountsTable>;
export type NewAccount = Insertable<AccountsTable>;
export type AccountUpdate = Updateable<AccountsTable>;
export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type Staff = Selectable<StaffTable>;
