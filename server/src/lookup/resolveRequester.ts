import type { Kysely } from "kysely";
import type { ContextQuery, SearchHit } from "../../../shared/schemas/context.js";
import type { DB, User } from "../db/schema.js";
import { userHit } from "./search.js";

/**
 * Which product user a ticket's requester is. An explicit pick (`userId`) wins; then the Zendesk
 * external id when it names a user with the requester's email; then the email itself, which can
 * belong to several users (one person in several accounts) — the agent then picks.
 */
export interface RequesterUser extends User {
  account_name: string;
  billing_customer_id: string | null;
}

export type Resolution =
  | { match: "exact"; user: RequesterUser; via: "user_id" | "external_id" | "email" }
  | { match: "ambiguous"; users: RequesterUser[] }
  | { match: "unknown" };

/** More than this many users behind one email is a data problem; the agent gets the first ones. */
const MAX_CANDIDATES = 20;

function usersQuery(db: Kysely<DB>) {
  return db
    .selectFrom("users as u")
    .innerJoin("accounts as a", "a.id", "u.account_id")
    .selectAll("u")
    .select(["a.name as account_name", "a.billing_customer_id"]);
}

export async function resolveRequester(db: Kysely<DB>, requester: ContextQuery): Promise<Resolution> {
  if (requester.userId) {
    const picked = await usersQuery(db).where("u.id", "=", requester.userId).executeTakeFirst();
    return picked ? { match: "exact", user: picked, via: "user_id" } : { match: "unknown" };
  }
  const byEmail = await usersQuery(db)
    .where((eb) => eb(eb.fn("lower", ["u.email"]), "=", requester.email.toLowerCase()))
    .orderBy("u.account_id", "asc")
    .orderBy("u.id", "asc")
    .limit(MAX_CANDIDATES)
    .execute();
  const external = requester.externalId ? byEmail.find((u) => u.id === requester.externalId) : undefined;
  if (external) return { match: "exact", user: external, via: "external_id" };
  const [only] = byEmail;
  if (byEmail.length === 1 && only) return { match: "exact", user: only, via: "email" };
  return byEmail.length > 1 ? { match: "ambiguous", users: byEmail } : { match: "unknown" };
}

export function candidateHits(users: RequesterUser[]): SearchHit[] {
  return users.map((u) => userHit({ id: u.id, accountId: u.account_id, name: u.name, email: u.email, status: u.status, accountName: u.account_name }, "email", 3));
}
