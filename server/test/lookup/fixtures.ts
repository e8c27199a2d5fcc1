import type { Kysely } from "kysely";
import type { DB, NewAccount, NewUser } from "../../src/db/schema.js";

/** Targeted rows next to the demo data, with sensible defaults for what a test does not care about. */
export async function addAccount(db: Kysely<DB>, account: Partial<NewAccount> & Pick<NewAccount, "id" | "name">): Promise<void> {
  await db
    .insertInto("accounts")
    .values({ domain: null, status: "active", plan: "team", seats_licensed: 10, billing_customer_id: null, ...account })
    .execute();
}

export async function addUser(db: Kysely<DB>, user: Partial<NewUser> & Pick<NewUser, "id" | "account_id" | "email" | "name">): Promise<void> {
  await db
    .insertInto("users")
    .values({ role: "member", status: "active", idp_id: null, last_login_at: null, locked_until: null, ...user })
    .execute();
}
