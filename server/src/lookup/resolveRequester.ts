import { sql, type Kysely } from "kysely";
import type { ContextQuery, SearchHit } from "../../../shared/schemas/context.js";
import { preparedStatement } from "../db/database.js";
import type { DB, User } from "../db/schema.js";
import { userHit } from "./search.js";

/**
 * Which product user a ticket's requester is. An explicit pick (`userId`) wins; then the Zendesk
 * external id when it names a user with the requester's email; then the email itself, which can
 * belong to several users (one person in several accounts) — the agent then picks. Deleted users are
 * none of these.
 */
export interface RequesterUser extends User {
  account_name: string;
  billing_customer_id: string | null;
  /** The billing customer's current subscription id as last kept (providers/subscriptionHints.ts), read in the same statement. */
  billing_subscription_hint: string | null;
}

export type Resolution =
  /** others: users with the requester's email besides the one matched (other workspaces), to warn about. */
  | { match: "exact"; user: RequesterUser; via: "user_id" | "external_id" | "email"; others: RequesterUser[] }
  | { match: "ambiguous"; users: RequesterUser[] }
  | { match: "unknown" };

/** More than this many users behind one email is a data problem; the agent gets the first ones. */
const MAX_CANDIDATES = 20;

/**
 * The users columns by name, not `u.*`: the requester is read by a named statement (planned once per
 * connection), and a column a later migration adds must not change its result type under it. The build
 * fails while one is missing here: the rows are typed as RequesterUser, which has every column of User.
 */
const USER_COLUMNS = [
  "u.id", "u.account_id", "u.email", "u.name", "u.role", "u.status", "u.idp_id", "u.last_login_at", "u.failed_login_count",
  "u.locked_until", "u.blocked", "u.mfa_enrolled", "u.mfa_methods", "u.impersonation_protected", "u.created_at", "u.updated_at",
  "u.version", "u.steward_writes", "u.directory_version", "u.directory_staff", "u.directory_settings", "u.directory_asked_at",
] as const;

function usersQuery(db: Kysely<DB>, statement: string) {
  return db
    .selectFrom("users as u")
    .modifyFront(preparedStatement(statement))
    .innerJoin("accounts as a", "a.id", "u.account_id")
    // No round trip of its own: the billing part can ask Stripe's invoice preview beside the subscription list.
    .leftJoin("billing_subscription_hints as h", "h.customer_id", "a.billing_customer_id")
    .select(USER_COLUMNS)
    .select(["a.name as account_name", "a.billing_customer_id", "h.subscription_id as billing_subscription_hint"]);
}

/**
 * The one spelling two emails are compared in: NFC, then lower case (full Unicode, locale-independent).
 * The users table keeps emails as the product wrote them (any case, composed or decomposed, e.g.
 * `José@Example.com`), Zendesk sends the ticket's as typed, and a local part is case-insensitive in
 * practice as everywhere else in Steward (lower()), so `josé@example.com`, `JOSÉ@EXAMPLE.COM` and
 * `jose\u0301@example.com` are one address. Lower case, not full case folding: folding would also make
 * `ß` and `ss` one address, which they are not, and lower() is what the users and search indexes use.
 * Accents are kept (`jose@` is another mailbox than `josé@`), unlike search's steward_fold().
 */
export function emailKey(email: string): string {
  return email.normalize("NFC").toLowerCase();
}

export async function resolveRequester(db: Kysely<DB>, requester: ContextQuery): Promise<Resolution> {
  const email = emailKey(requester.email);
  // One statement: the users with the requester's email, and the picked user (first) when there is one;
  // two shapes, so two named statements (a named statement's text never varies).
  const userId = requester.userId || undefined;
  const rows: RequesterUser[] = await usersQuery(db, userId ? "requester_by_email_or_user" : "requester_by_email")
    // steward_fold (lower case without accents, search's index) finds every spelling of the address,
    // stored composed or decomposed, and a few accent variants besides: emailKey below decides. The
    // spelling as sent too, so an address spelt as stored is found where the database's ctype lowers
    // ASCII alone (as search: other scripts' case is then told apart).
    .where((eb) =>
      eb.or([
        eb(eb.fn("steward_fold", ["u.email"]), "in", [eb.fn<string>("steward_fold", [eb.val(email)]), eb.fn<string>("steward_fold", [eb.val(requester.email)])]),
        ...(userId ? [eb("u.id", "=", userId)] : []),
      ]),
    )
    // A deleted user is no one's requester: not matched, not a candidate, not picked (as the pick route refuses).
    .where("u.status", "<>", "deleted")
    .$if(userId !== undefined, (q) => q.orderBy(sql`u.id = ${userId ?? ""}`, "desc"))
    .orderBy("u.account_id", "asc")
    .orderBy("u.id", "asc")
    .limit(MAX_CANDIDATES + 1)
    .execute();
  const byEmail = rows.filter((u) => emailKey(u.email) === email).slice(0, MAX_CANDIDATES);
  const othersThan = (user: RequesterUser) => byEmail.filter((u) => u.id !== user.id);
  if (requester.userId) {
    const picked = rows.find((u) => u.id === requester.userId);
    return picked ? { match: "exact", user: picked, via: "user_id", others: othersThan(picked) } : { match: "unknown" };
  }
  const external = requester.externalId ? byEmail.find((u) => u.id === requester.externalId) : undefined;
  if (external) return { match: "exact", user: external, via: "external_id", others: othersThan(external) };
  const [only] = byEmail;
  if (byEmail.length === 1 && only) return { match: "exact", user: only, via: "email", others: [] };
  return byEmail.length > 1 ? { match: "ambiguous", users: byEmail } : { match: "unknown" };
}

export function candidateHits(users: RequesterUser[]): SearchHit[] {
  return users.map((u) => userHit({ id: u.id, accountId: u.account_id, name: u.name, email: u.email, status: u.status, accountName: u.account_name }, "email", 3));
}
