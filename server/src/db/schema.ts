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
  /** Steward's own writes only (a read from the directory bumps `version`, not this): migration 047. */
  steward_writes: Generated<number>;
  /** DIRECTORY_PROVIDER=http: the product's version of the account (migration 024). */
  directory_version: Generated<number | null>;
  /** DIRECTORY_PROVIDER=http: when the product's answer that last wrote the row was asked (migration 042). */
  directory_asked_at: Timestamp | null;
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
  /** The product says this user must never be impersonated (migration 015). */
  impersonation_protected: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  version: Generated<number>;
  /** Steward's own writes only (a read from the directory bumps `version`, not this): migration 047. */
  steward_writes: Generated<number>;
  /** DIRECTORY_PROVIDER=http: the product's version of the user, its staff flag and support-editable settings (migration 024). */
  directory_version: Generated<number | null>;
  directory_staff: Generated<boolean>;
  directory_settings: Generated<Record<string, string | number | boolean>>;
  /** DIRECTORY_PROVIDER=http: when the product's answer that last wrote the row was asked (migration 042). */
  directory_asked_at: Timestamp | null;
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

/** The customer's current subscription id when last read from the billing provider (migration 036): a hint, see stripeBilling.ts. */
export interface BillingSubscriptionHintsTable {
  customer_id: string;
  subscription_id: string;
  updated_at: Timestamp;
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

/** Admin overrides of the per-role caps in shared/actions.ts. */
export type CapScope = "request" | "target" | "day";

export interface PanelCapsTable {
  action: string;
  panel_role: "support_read_only" | "support_full" | "operations" | "admin";
  max_value: number;
  /** request: one action's value; target: per agent per target over 24 h; day: per agent over 24 h. */
  scope: ColumnType<CapScope, CapScope | undefined, CapScope>;
  updated_at: UpdatedAt;
  updated_by: string | null;
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
  /** Migration 020: what ticket verification reads. */
  assignee_zendesk_id: number | null;
  requester_organization_id: number | null;
}

/** The local Zendesk page's organizations (migration 020): matched to accounts by external id or domain. */
export interface DemoOrganizationsTable {
  id: number;
  name: string;
  external_id: string | null;
  domain_names: Generated<string[]>;
}

/** Append-only (triggers refuse UPDATE/DELETE/TRUNCATE); rows are written only by server/src/audit/auditLog.ts. */
type AuditColumn<T> = ColumnType<T, T, never>;
export interface AuditLogTable {
  id: AuditColumn<string>;
  /** Stamped by trigger from a sequence (insert order; gaps where a transaction rolled back). */
  seq: ColumnType<number, never, never>;
  /** The inserting transaction (xid8, read as text), stamped by trigger: how the sealer finds new rows. */
  tx: ColumnType<string, never, never>;
  occurred_at: ColumnType<Date, Date | string, never>;
  actor_staff_id: AuditColumn<string | null>;
  actor_zendesk_user_id: AuditColumn<string | null>;
  actor_email: AuditColumn<string | null>;
  actor_role: AuditColumn<string | null>;
  actor_system: AuditColumn<string | null>;
  action: AuditColumn<string>;
  target_type: AuditColumn<string>;
  target_id: AuditColumn<string | null>;
  target_account_id: AuditColumn<string | null>;
  ticket_id: AuditColumn<string | null>;
  reason: AuditColumn<string | null>;
  /** jsonb: written as a JSON string, read back parsed. */
  before: ColumnType<unknown, string | null, never>;
  after: ColumnType<unknown, string | null, never>;
  outcome: AuditColumn<"pending" | "succeeded" | "failed" | "denied" | "unknown">;
  error: AuditColumn<string | null>;
  request_id: AuditColumn<string | null>;
  operation_id: AuditColumn<string | null>;
  /** HMAC of the entry made at append time with the audit key (null only for entries from before migration 010). */
  mac: AuditColumn<string | null>;
  /** Migration 020 (jsonb, MACed): the ticket as Zendesk showed it at the write; who asked and who approved. */
  ticket_snapshot: ColumnType<unknown, string | null | undefined, never>;
  approval: ColumnType<unknown, string | null | undefined, never>;
}

/** One sealed entry: chain position chain_seq seals audit_log.seq = entry_seq (migration 010). */
export interface AuditSealTable {
  chain_seq: ColumnType<number, number, never>;
  entry_seq: ColumnType<number, number, never>;
  entry_id: ColumnType<string, string, never>;
  occurred_at: ColumnType<Date, Date | string, never>;
  entry_hash: ColumnType<string, string, never>;
  prev_hash: ColumnType<string, string, never>;
  hash: ColumnType<string, string, never>;
}

export interface AuditSealStateTable {
  id: number;
  /** xid8 as text: every transaction below it had finished when the sealer last looked. */
  horizon: string;
  /** The seal chain position up to which the console's flags are computed (migration 035). */
  flagged_through: ColumnType<number, number | undefined, number>;
}

/** How far a checkpoint sink has been given the signed checkpoints, and who is exporting to it now (migration 038). */
export interface AuditCheckpointExportTable {
  sink: string;
  exported_through: ColumnType<number, number, number>;
  lease_until: Timestamp | null;
  lease_token: string | null;
  updated_at: Timestamp;
}

/** Entries per UTC day, agent ('' for none) and action, for the console's start screen (flagger.ts). */
export interface AuditActivityDayTable {
  day: ColumnType<string, string, string>;
  actor_key: string;
  action: string;
  actor_email: string | null;
  n: ColumnType<string, number | string, number | string>;
}

/** Agents' writes per UTC quarter hour, for the start screen's outside-hours count (flagger.ts). */
export interface AuditStaffWritesQuarterTable {
  bucket: Timestamp;
  n: ColumnType<string, number | string, number | string>;
}

/** A console flag raised by an entry (server/src/console/flagger.ts). */
export interface AuditFlagTable {
  flag: string;
  flagged_at: Timestamp;
  entry_seq: ColumnType<number, number, never>;
}

export interface AuditCheckpointTable {
  chain_seq: ColumnType<number, number, never>;
  head_hash: ColumnType<string, string, never>;
  entry_count: ColumnType<number, number, never>;
  created_at: ColumnType<Date, Date | string, never>;
  key_id: ColumnType<string, string, never>;
  signature: ColumnType<string, string, never>;
}

export interface AuditVerifiedTable {
  chain_seq: ColumnType<number, number, never>;
  head_hash: ColumnType<string, string, never>;
  verified_at: ColumnType<Date, Date | string, never>;
  mac: ColumnType<string, string, never>;
}

export interface AuditLegacyTable {
  head_seq: ColumnType<number, never, never>;
}

export interface IdempotencyKeysTable {
  staff_id: string;
  key: string;
  action: string;
  request_hash: string;
  status: "in_progress" | "completed";
  response: unknown;
  created_at: CreatedAt;
  completed_at: Timestamp | null;
  /** While in progress: the holder renews this; once past, the holder is gone and the key may be taken over. */
  lease_expires_at: Timestamp | null;
  /** The external operation this key started, when there was one (its outcome answers a replay). */
  operation_id: string | null;
}

export interface TargetLeasesTable {
  lease_key: string;
  holder: string;
  expires_at: Timestamp;
}

/** `needs_review`: the reconciler could not settle it (see migration 016); it blocks the account until resolved. */
export type ProviderOperationStatus = "pending" | "unknown" | "needs_review" | "succeeded" | "failed";

export interface ProviderOperationsTable {
  operation_id: string;
  action: string;
  target_type: "user" | "account";
  target_id: string;
  account_id: string;
  key_owner: string;
  idempotency_key: string | null;
  provider_key: string;
  /** What is needed to finish the command: actor, ticket, reason, input, request id, now. */
  request: unknown;
  /** The provider reading the command worked from (billing summary), so a retry sends the same request. */
  provider_before: unknown;
  status: ProviderOperationStatus;
  lease_expires_at: Timestamp;
  /** The reconciler holding the lease (its claim); null while only the request holds it. */
  claimed_by: Generated<string | null>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Timestamp;
  closed_at: Timestamp | null;
}

export interface MailOutboxTable {
  id: string;
  to_address: string;
  subject: string;
  body_text: string;
  kind: string;
  account_id: string | null;
  user_id: string | null;
  ticket_id: string | null;
  operation_id: string | null;
  status: "queued" | "sent" | "held" | "failed";
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_error: string | null;
  created_at: CreatedAt;
  sent_at: Timestamp | null;
  /** The unfinished delivery attempt holding this mail (migration 012); null when none is. */
  lease_token: Generated<string | null>;
  /** Bearer secrets of this mail (reset link), AES-GCM sealed; erased once delivered. */
  secret_sealed: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ZafTokenUsesTable {
  token_key: string;
  zendesk_user_id: string;
  expires_at: Timestamp;
  used_at: Timestamp;
}

/** rate-limiter-flexible's PostgreSQL store (migration 017): `expire` is epoch milliseconds. */
export interface RateLimitsTable {
  key: string;
  points: number;
  expire: number | null;
}

export interface CapUsageTable {
  id: string;
  staff_id: string;
  action: string;
  target_id: string;
  amount: number;
  created_at: Timestamp;
}

export interface RoleElevationsTable {
  id: string;
  user_id: string;
  account_id: string;
  previous_role: UsersTable["role"];
  elevated_role: UsersTable["role"];
  expires_at: Timestamp;
  ticket_id: string;
  granted_by_staff_id: string;
  created_at: CreatedAt;
  reverted_at: Timestamp | null;
  /** Failed sweep reverts so far and the last one's time: the sweep backs off (migration 007). */
  revert_failures: Generated<number>;
  revert_failed_at: Timestamp | null;
  /** When the sweep first sent its keyed revert: a replayed answer is no newer (migration 046). */
  revert_key_opened_at: Timestamp | null;
}

export interface SeatExpansionsTable {
  id: string;
  account_id: string;
  seats: number;
  expires_at: Timestamp;
  ticket_id: string;
  granted_by_staff_id: string;
  created_at: CreatedAt;
  reverted_at: Timestamp | null;
  revert_failures: Generated<number>;
  revert_failed_at: Timestamp | null;
  /** When the sweep first sent its keyed revert: a replayed answer is no newer (migration 046). */
  revert_key_opened_at: Timestamp | null;
}

/** An account-level suspension/deactivation/deletion: what it replaced and exactly whom it blocked. */
export interface AccountAccessHoldsTable {
  id: string;
  account_id: string;
  kind: "suspension" | "deactivation" | "deletion";
  previous_status: AccountsTable["status"];
  blocked_user_ids: Generated<string[]>;
  ticket_id: string;
  operation_id: string | null;
  created_at: CreatedAt;
  released_at: Timestamp | null;
  /** Migration 039: the subscription this deactivation set to end (null: it set none, or the customer's own cancel replaced it). */
  subscription_set_to_end: ColumnType<string | null, string | null | undefined, string | null>;
  /** Migration 039 (jsonb): the billing snapshot the deactivation worked from; written as a JSON string. */
  subscription_before: ColumnType<unknown, string | null | undefined, never>;
  /** Migration 043: when the provider says that cancel was asked for (Stripe's canceled_at); null on older holds. */
  subscription_cancel_requested_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

/** Built-in identity: one-time password reset links (only the hash is stored). */
export interface PasswordResetTokensTable {
  id: string;
  user_id: string;
  token_sha256: string;
  expires_at: Timestamp;
  ticket_id: string | null;
  created_at: CreatedAt;
  used_at: Timestamp | null;
}

export interface ImpersonationProductsTable {
  id: string;
  name: string;
  url: string;
  secret_sha256: string;
  created_at: CreatedAt;
  revoked_at: Timestamp | null;
}

export interface ImpersonationSessionsTable {
  id: string;
  staff_id: string;
  agent_zendesk_user_id: string;
  agent_email: string | null;
  agent_name: string | null;
  agent_panel_role: StaffTable["panel_role"];
  user_id: string;
  account_id: string;
  product_id: string;
  ticket_id: string;
  reason: string;
  mode: "read_only" | "full";
  started_at: Timestamp;
  last_activity_at: Timestamp;
  idle_deadline: Timestamp;
  absolute_deadline: Timestamp;
  grant_jti: string;
  grant_expires_at: Timestamp;
  redeemed_at: Timestamp | null;
  ended_at: Timestamp | null;
  end_reason: "agent" | "admin_revoked" | "idle_timeout" | "absolute_timeout" | "target_changed" | "staff_deactivated" | null;
  ended_by: string | null;
  action_count: Generated<number>;
  refused_count: Generated<number>;
}

export interface ImpersonationEventsTable {
  session_id: string;
  event_id: string;
  method: string;
  route: string;
  object: string | null;
  outcome: "succeeded" | "refused" | "failed";
  status: number | null;
  detail: string | null;
  occurred_at: Timestamp;
  received_at: Timestamp;
  after_end: Generated<boolean>;
  audit_entry_id: string;
}

export interface StewardSettingsTable {
  key: string;
  value: ColumnType<unknown, string, string>;
  updated_at: UpdatedAt;
  updated_by: string | null;
}

/** Internal notes to write on Zendesk tickets, sent by the note delivery pass (server/src/zendesk/). */
export interface TicketNotesTable {
  id: string;
  ticket_id: string;
  body: string;
  kind: string;
  session_id: string | null;
  operation_id: string | null;
  status: "queued" | "sent" | "failed" | "unknown";
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: CreatedAt;
  sent_at: Timestamp | null;
}

/** An agent's pick of the user a ticket is about (migration 033). */
export interface TicketRequesterPicksTable {
  ticket_id: string;
  requester_email: string;
  user_id: string;
  picked_by_staff_id: string;
  picked_at: Timestamp;
}

/** Migration 048: single-use console export links (console/exportLinks.ts). */
export interface ConsoleExportLinksTable {
  id: string;
  /** Null for a header export's stream (migration 050): no link, only its progress and heartbeat. */
  token_hash: string | null;
  staff_id: string;
  zendesk_user_id: string;
  ticket_id: string | null;
  query: ColumnType<unknown, string, string>;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  total: number | null;
  rows_sent: Generated<number>;
  finished_at: Timestamp | null;
  complete: boolean | null;
  /** Why a used link gave no file, or why its file is incomplete (fixed wording, shown in the console). */
  error: string | null;
  /** Migration 049: the last progress write of a streaming export (its heartbeat). */
  progress_at: Timestamp | null;
  /** The export's audit.export entry, once it started. */
  export_entry_seq: ColumnType<number | null, number | null, number | null>;
  /** Settled as stopped: its process died or stalled mid-stream (no progress within EXPORT_STALLED_AFTER_MS). */
  interrupted: Generated<boolean>;
}

export interface DB {
  console_export_links: ConsoleExportLinksTable;
  ticket_requester_picks: TicketRequesterPicksTable;
  accounts: AccountsTable;
  users: UsersTable;
  user_sessions: UserSessionsTable;
  billing_customers: BillingCustomersTable;
  billing_subscriptions: BillingSubscriptionsTable;
  billing_subscription_hints: BillingSubscriptionHintsTable;
  billing_invoices: BillingInvoicesTable;
  billing_balance_transactions: BillingBalanceTransactionsTable;
  activity_events: ActivityEventsTable;
  staff: StaffTable;
  panel_caps: PanelCapsTable;
  demo_tickets: DemoTicketsTable;
  audit_log: AuditLogTable;
  audit_seal: AuditSealTable;
  audit_seal_state: AuditSealStateTable;
  audit_flag: AuditFlagTable;
  audit_activity_day: AuditActivityDayTable;
  audit_staff_writes_quarter: AuditStaffWritesQuarterTable;
  audit_checkpoint: AuditCheckpointTable;
  audit_checkpoint_export: AuditCheckpointExportTable;
  audit_verified: AuditVerifiedTable;
  audit_legacy: AuditLegacyTable;
  idempotency_keys: IdempotencyKeysTable;
  target_leases: TargetLeasesTable;
  provider_operations: ProviderOperationsTable;
  mail_outbox: MailOutboxTable;
  role_elevations: RoleElevationsTable;
  seat_expansions: SeatExpansionsTable;
  account_access_holds: AccountAccessHoldsTable;
  password_reset_tokens: PasswordResetTokensTable;
  zaf_token_uses: ZafTokenUsesTable;
  cap_usage: CapUsageTable;
  rate_limits: RateLimitsTable;
  impersonation_products: ImpersonationProductsTable;
  impersonation_sessions: ImpersonationSessionsTable;
  impersonation_events: ImpersonationEventsTable;
  steward_settings: StewardSettingsTable;
  ticket_notes: TicketNotesTable;
  demo_organizations: DemoOrganizationsTable;
  approval_requests: ApprovalRequestsTable;
  approval_policy: ApprovalPolicyTable;
}

/** Two-person approval (migration 020). */
export interface ApprovalRequestsTable {
  id: string;
  action: string;
  target_type: "user" | "account";
  target_id: string;
  account_id: string | null;
  ticket_id: string;
  reason: string;
  input: ColumnType<unknown, string, string>;
  preview: ColumnType<unknown, string | null, string | null>;
  status: "pending" | "approved" | "rejected" | "expired" | "failed";
  requested_by_staff_id: string;
  requested_by_email: string;
  requested_by_name: string | null;
  requested_by_role: string;
  decided_by_staff_id: string | null;
  decided_by_email: string | null;
  decided_by_name: string | null;
  decision_reason: string | null;
  result: ColumnType<unknown, string | null, string | null>;
  /** Who is running the approved action right now (a lease: a crashed approver's claim lapses). */
  claimed_by: string | null;
  claimed_until: ColumnType<Date | null, Date | null, Date | null>;
  created_at: ColumnType<Date, Date, Date>;
  expires_at: ColumnType<Date, Date, Date>;
  decided_at: ColumnType<Date | null, Date | null, Date | null>;
}

export interface ApprovalPolicyTable {
  action: string;
  requires_approval: boolean;
  updated_by: string;
  updated_at: ColumnType<Date, Date, Date>;
}

export type Account = Selectable<AccountsTable>;
export type NewAccount = Insertable<AccountsTable>;
export type AccountUpdate = Updateable<AccountsTable>;
export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type Staff = Selectable<StaffTable>;
