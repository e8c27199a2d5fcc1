import { sql } from "kysely";
import type { DirectoryAccount, DirectoryUser } from "../../../shared/directory/contract.js";
import type { Executor } from "../commands/targets.js";
import type { Logger } from "../logger.js";

/**
 * With DIRECTORY_PROVIDER=http, Steward's `accounts` and `users` are a read cache of the product's:
 * every read from the product is written here as the product answered it, version included, so
 * search ranks, the sidebar shows and the runner's stale check compares against what the product
 * said last. A row whose values did not change is not rewritten (no search-word reindex).
 */
export async function mirrorAccounts(db: Executor, accounts: readonly DirectoryAccount[], now: Date): Promise<void> {
  if (accounts.length === 0) return;
  await db
    .insertInto("accounts")
    .values(accounts.map((a) => ({ id: a.id, name: a.name, domain: a.domain, status: a.status, plan: a.plan, seats_licensed: a.seatsLicensed, billing_customer_id: a.billingCustomerId, version: a.version, created_at: now, updated_at: now })))
    .onConflict((oc) =>
      oc
        .column("id")
        .doUpdateSet((eb) => ({
          name: eb.ref("excluded.name"),
          domain: eb.ref("excluded.domain"),
          status: eb.ref("excluded.status"),
          plan: eb.ref("excluded.plan"),
          seats_licensed: eb.ref("excluded.seats_licensed"),
          billing_customer_id: eb.ref("excluded.billing_customer_id"),
          version: eb.ref("excluded.version"),
          updated_at: now,
        }))
        .where(
          sql<boolean>`(accounts.name, accounts.domain, accounts.status, accounts.plan, accounts.seats_licensed, accounts.billing_customer_id, accounts.version)
            is distinct from (excluded.name, excluded.domain, excluded.status, excluded.plan, excluded.seats_licensed, excluded.billing_customer_id, excluded.version)`,
        ),
    )
    .execute();
}

export async function mirrorUsers(db: Executor, users: readonly DirectoryUser[], now: Date): Promise<void> {
  if (users.length === 0) return;
  await db
    .insertInto("users")
    .values(users.map((u) => ({ id: u.id, account_id: u.accountId, email: u.email, name: u.name, role: u.role, status: u.status, idp_id: u.idpId, impersonation_protected: u.protected, version: u.version, created_at: now, updated_at: now })))
    .onConflict((oc) =>
      oc
        .column("id")
        .doUpdateSet((eb) => ({
          account_id: eb.ref("excluded.account_id"),
          email: eb.ref("excluded.email"),
          name: eb.ref("excluded.name"),
          role: eb.ref("excluded.role"),
          status: eb.ref("excluded.status"),
          idp_id: eb.ref("excluded.idp_id"),
          impersonation_protected: eb.ref("excluded.impersonation_protected"),
          version: eb.ref("excluded.version"),
          updated_at: now,
        }))
        .where(
          sql<boolean>`(users.account_id, users.email, users.name, users.role, users.status, users.idp_id, users.impersonation_protected, users.version)
            is distinct from (excluded.account_id, excluded.email, excluded.name, excluded.role, excluded.status, excluded.idp_id, excluded.impersonation_protected, excluded.version)`,
        ),
    )
    .execute();
}

/** Accounts first (users reference them); a user whose account the product did not send and the cache lacks is skipped. */
export async function mirrorDirectory(db: Executor, answer: { accounts: readonly DirectoryAccount[]; users: readonly DirectoryUser[] }, now: Date, logger?: Logger): Promise<void> {
  await mirrorAccounts(db, answer.accounts, now);
  const sent = new Set(answer.accounts.map((a) => a.id));
  const missing = [...new Set(answer.users.map((u) => u.accountId).filter((id) => !sent.has(id)))];
  const known = missing.length ? new Set((await db.selectFrom("accounts").select("id").where("id", "in", missing).execute()).map((r) => r.id)) : new Set<string>();
  const users = answer.users.filter((u) => sent.has(u.accountId) || known.has(u.accountId));
  if (users.length < answer.users.length) logger?.warn({ skipped: answer.users.length - users.length }, "the product sent users without their account; not cached");
  await mirrorUsers(db, users, now);
}
