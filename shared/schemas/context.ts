import { z } from "zod";
import { AccountStatus, ProductRole, SubscriptionStatus, UserStatus } from "../roles.js";
import { SettingValue } from "../directory/contract.js";

/**
 * The ticket requester's context, as the sidebar shows it. Each part says which provider answered
 * it; a part whose provider failed carries the error instead of data, and the rest still comes back.
 */
export const ProviderName = z.enum(["builtin", "auth0", "stripe", "steward", "product"]);
export type ProviderName = z.infer<typeof ProviderName>;

export const PartError = z.object({ code: z.string(), message: z.string(), provider: ProviderName });
export function part<T extends z.ZodType>(data: T) {
  return z.discriminatedUnion("status", [
    z.object({ status: z.literal("ok"), source: ProviderName, data }),
    z.object({ status: z.literal("error"), source: ProviderName, error: PartError }),
  ]);
}

/**
 * DIRECTORY_PROVIDER=http, only on what a read served from Steward's cache because the product did not
 * answer it: when the product's answer that last changed the cached copy was asked (null: no answer of
 * the product wrote it). The product's state may be newer; a read that found it unchanged does not move it.
 */
export const CachedAsOf = z.string().nullable().optional();

/** The user as the product knows them (membership, product role, status). */
export const UserSummary = z.object({
  id: z.string(),
  accountId: z.string(),
  email: z.string(),
  name: z.string(),
  role: ProductRole,
  status: UserStatus,
  idpId: z.string().nullable(),
  /** The settings support may change (the directory's declaration says which), as the directory has them. */
  settings: z.record(z.string(), SettingValue),
  /** The product marks the user as never to be impersonated (user.impersonation_protect sets it). */
  impersonationProtected: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number().int(),
  asOf: CachedAsOf,
});
export type UserSummary = z.infer<typeof UserSummary>;

/** Sign-in state as the identity provider knows it. */
export const AuthEvent = z.object({ type: z.string(), at: z.string(), ip: z.string().nullable(), detail: z.string().nullable() });
export const IdentitySummary = z.object({
  providerUserId: z.string(),
  email: z.string(),
  blocked: z.boolean(),
  locked: z.boolean(),
  lockedUntil: z.string().nullable(),
  failedLoginCount: z.number().int(),
  mfaEnrolled: z.boolean(),
  mfaMethods: z.array(z.string()),
  lastLoginAt: z.string().nullable(),
  activeSessions: z.number().int(),
  recentAuthEvents: z.array(AuthEvent),
});
export type IdentitySummary = z.infer<typeof IdentitySummary>;

export const AccountSummary = z.object({
  id: z.string(),
  name: z.string(),
  domain: z.string().nullable(),
  status: AccountStatus,
  plan: z.string(),
  seatsLicensed: z.number().int(),
  /** Active and invited users: what occupies a seat. */
  seatsUsed: z.number().int(),
  temporarySeats: z.number().int(),
  overSeatLimit: z.boolean(),
  userCount: z.number().int(),
  activeAdminCount: z.number().int(),
  billingCustomerId: z.string().nullable(),
  retentionUntil: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number().int(),
});
export type AccountSummary = z.infer<typeof AccountSummary>;

export const InvoiceSummary = z.object({
  id: z.string(),
  number: z.string().nullable(),
  status: z.string(),
  amountDueCents: z.number().int(),
  amountRemainingCents: z.number().int(),
  attemptCount: z.number().int(),
  nextPaymentAttempt: z.string().nullable(),
  createdAt: z.string(),
});
export const BillingSummary = z.object({
  customerId: z.string(),
  subscriptionId: z.string().nullable(),
  plan: z.string().nullable(),
  interval: z.enum(["month", "year"]).nullable(),
  status: SubscriptionStatus.nullable(),
  trialEnd: z.string().nullable(),
  seats: z.number().int().nullable(),
  currency: z.string(),
  /** Monthly recurring revenue in cents (yearly plans divided by 12). */
  mrrCents: z.number().int(),
  /** The subscription is set to end on its own: at the period end, or at `cancelAt`. */
  cancelAtPeriodEnd: z.boolean(),
  /** When a subscription set to end will end (Stripe's cancel_at); null when it renews. */
  cancelAt: z.string().nullable(),
  /**
   * When the cancellation in place was last asked for (Stripe's canceled_at: the latest update that set it to
   * end, or the cancel-now); null when none is. Tells one request to end it from a later one: the customer's,
   * after renewing in the portal. Absent in readings stored before it existed: read as null.
   */
  cancelRequestedAt: z.string().nullable().optional(),
  /** The earliest period end among the subscription's items: the next renewal. */
  currentPeriodEnd: z.string().nullable(),
  /** What the subscription's other items (add-ons beside the plan's seats) cost per interval; 0 when there are none. */
  addOnCents: z.number().int(),
  nextInvoice: z.object({ amountCents: z.number().int(), date: z.string().nullable() }).nullable(),
  balanceCents: z.number().int(),
  recentInvoices: z.array(InvoiceSummary),
  dunning: z.object({ failedAttempts: z.number().int(), nextRetryAt: z.string().nullable(), amountDueCents: z.number().int() }).nullable(),
});
export type BillingSummary = z.infer<typeof BillingSummary>;

/** userName: the product user's name, so the sidebar shows who rather than an id. */
export const ActivityEvent = z.object({ type: z.string(), userId: z.string().nullable(), userName: z.string().nullable(), detail: z.string().nullable(), ip: z.string().nullable(), at: z.string() });
export type ActivityEvent = z.infer<typeof ActivityEvent>;

export const AuditLine = z.object({
  id: z.string(),
  seq: z.number().int(),
  occurredAt: z.string(),
  action: z.string(),
  actorEmail: z.string().nullable(),
  /** The staff member's name when Steward knows it (the sidebar shows names, not addresses). */
  actorName: z.string().nullable(),
  ticketId: z.string().nullable(),
  outcome: z.string(),
  reason: z.string().nullable(),
});
export type AuditLine = z.infer<typeof AuditLine>;

export const SearchHit = z.object({
  kind: z.enum(["user", "account"]),
  id: z.string(),
  accountId: z.string(),
  title: z.string(),
  subtitle: z.string(),
  status: z.string(),
  /** Why it matched: exact id/email, prefix, fuzzy… and a score for ranking. */
  matchedOn: z.string(),
  score: z.number(),
  asOf: CachedAsOf,
});
export type SearchHit = z.infer<typeof SearchHit>;

/** A provider call on the account whose outcome is not known yet: the reconciler is finishing or closing it. */
export const UnresolvedOperation = z.object({
  operationId: z.string(),
  action: z.string(),
  target: z.object({ type: z.enum(["user", "account"]), id: z.string() }),
  /**
   * pending: the request stopped during its provider call; unknown: the provider's answer was lost;
   * needs_review: the reconciler could not settle it (past the key horizon) and operations must resolve it.
   */
  status: z.enum(["pending", "unknown", "needs_review"]),
  since: z.string(),
  lastError: z.string().nullable(),
});
export type UnresolvedOperation = z.infer<typeof UnresolvedOperation>;

export const RequesterContext = z.object({
  requester: z.object({ email: z.string(), zendeskUserId: z.string().nullable(), externalId: z.string().nullable() }),
  /** exact: one user (candidates: others with the same email, warned about); ambiguous: several users share the email (pick from candidates). */
  match: z.enum(["exact", "ambiguous"]),
  candidates: z.array(SearchHit),
  user: UserSummary.nullable(),
  identity: part(IdentitySummary),
  account: part(AccountSummary),
  /** data is null when the account has no billing customer. */
  billing: part(BillingSummary.nullable()),
  activity: part(z.array(ActivityEvent)),
  audit: part(z.array(AuditLine)),
  sources: z.record(z.string(), ProviderName),
  /** The user an agent picked for this ticket (kept on the server per ticket), shown as "picked by <name>". */
  pick: z.object({ userId: z.string(), pickedBy: z.string(), pickedAt: z.string() }).nullable().optional(),
  /** Actions on the requester's account whose outcome is not known yet (writes to the account wait for them). */
  unresolvedOperations: z.array(UnresolvedOperation).optional(),
});
export type RequesterContext = z.infer<typeof RequesterContext>;

/** `GET /api/search`: one query string over emails, names, ids, domains and billing customer ids. */
export const SEARCH_QUERY_MAX = 200;
export const SearchQuery = z.object({
  q: z
    .string()
    .trim()
    .min(1, "enter something to search for")
    .max(SEARCH_QUERY_MAX, `must be at most ${SEARCH_QUERY_MAX} characters`)
    .describe("Email, name, account, domain, user id, identity-provider id or billing customer id; partial and misspelt input is fine"),
  limit: z.coerce.number().int().min(1).max(50).default(20).describe("Hits per page (1-50)"),
  cursor: z.string().max(512).optional().describe("nextCursor from the previous page"),
});
export type SearchQuery = z.infer<typeof SearchQuery>;

export const SearchResults = z.object({ hits: z.array(SearchHit), nextCursor: z.string().nullable() });
export type SearchResults = z.infer<typeof SearchResults>;

/** `GET /api/accounts/:accountId/users`: an account's users to pick from (a search that found the account, not a user). */
export const AccountUsersParams = z.object({ accountId: z.string().trim().min(1).max(255) });
export const AccountUsersQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(50).describe("Users per answer (1-100), by name") });
export const AccountUsers = z.object({
  account: SearchHit,
  users: z.array(SearchHit),
  /** The account has more users than `limit` (search for one by name or email). */
  more: z.boolean(),
});
export type AccountUsers = z.infer<typeof AccountUsers>;

/**
 * A requester email as Zendesk accepts it: ASCII or internationalised (RFC 6531: UTF-8 in the local part
 * and the domain, e.g. `josé@example.com`, `用户@例子.广告`), which zod's default (ASCII) pattern refused.
 * One @, no whitespace or control characters, none of the characters that delimit an address in a
 * header, and a domain with a dot. NUL and lone surrogates are refused before this, naming the field
 * (server/src/http/textGuard.ts). How two spellings are compared: server/src/lookup/resolveRequester.ts.
 */
const ADDRESS_CHAR = String.raw`[^\s@"<>()\[\]\\,;:\p{Cc}]`;
const LABEL_CHAR = String.raw`[^\s@"<>()\[\]\\,;:.\p{Cc}]`;
export const REQUESTER_EMAIL = new RegExp(`^${ADDRESS_CHAR}{1,64}@(?:${LABEL_CHAR}+\\.)+${LABEL_CHAR}{2,}$`, "u");
const RequesterEmail = z.email({ pattern: REQUESTER_EMAIL, message: "must be an email address" }).max(320);

/** `POST /api/context/pick`: the user this ticket is about, picked by the agent (null forgets the pick). */
export const RequesterPickBody = z
  .object({
    ticketId: z.string().regex(/^[1-9][0-9]{0,18}$/, "must be a Zendesk ticket id"),
    email: RequesterEmail.describe("The requester email the pick is for"),
    userId: z.string().trim().min(1).max(255).nullable(),
  })
  .strict();
export type RequesterPickBody = z.infer<typeof RequesterPickBody>;

/** `GET /api/context`: who the ticket requester is, as Zendesk knows them. */
export const ContextQuery = z.object({
  email: RequesterEmail.describe("The ticket requester's email"),
  zendeskUserId: z.string().regex(/^[1-9][0-9]{0,18}$/, "must be a Zendesk user id").optional(),
  externalId: z.string().trim().min(1).max(255).optional().describe("The requester's external id in Zendesk (the product user id when synced)"),
  userId: z.string().trim().min(1).max(255).optional().describe("The user the agent picked among candidates"),
});
export type ContextQuery = z.infer<typeof ContextQuery>;
