import { sql } from "kysely";
import type { DirectoryAccount, DirectoryUser } from "../../../shared/directory/contract.js";
import type { Executor } from "../commands/targets.js";
import type { Logger } from "../logger.js";

/**
 * With DIRECTORY_PROVIDER=http, Steward's `accounts` and `users` are a read cache of the product's:
 * every answer from the product is written here as the product gave it, its version kept in
 * `directory_version` (what a write sends back as expectedVersion). Steward's own `version` is bumped
 * when the product's copy changed, so an agent who saw the old one gets stale_version from Steward
 * too (not at the first sight of a row Steward held before, whose version nobody saw from the product).
 * A row whose values did not change is not rewritten (no search-word reindex).
 * `bump: false` is for a command's apply, where the runner has bumped the version already.
 */
export interface MirrorOptions {
  now: Date;
  bump?: boolean;
}

export async function mirrorAccounts(db: Executor, accounts: readonly DirectoryAccount[], options: MirrorOptions): Promise<void> {
  if (accounts.length === 0) return;
  const { now } = options;
  await db
    .insertInto("accounts")
    .values(
      accounts.map((a) => ({ id: a.id, name: a.name, domain: a.domain, status: a.status, plan: a.plan, seats_licensed: a.seatsLicensed, billing_customer_id: a.billingCustomerId, directory_version: a.version, created_at: now, updated_at: now })),
    )
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
          directory_version: eb.ref("excluded.directory_version"),
          ...(options.bump === false ? {} : { version: sql<number>`case when accounts.directory_version is null then accounts.version else accounts.version + 1 end` }),
          updated_at: now,
        }))
        .where(
          sql<boolean>`(accounts.name, accounts.domain, accounts.status, accounts.plan, accounts.seats_licensed, accounts.billing_customer_id, accounts.directory_version)
            is distinct from (excluded.name, excluded.domain, excluded.status, excluded.plan, excluded.seats_licensed, excluded.billing_customer_id, excluded.directory_version)`,
        ),
    )
    .execute();
}

export async function mirrorUsers(db: Executor, users: readonly DirectoryUser[], options: MirrorOptions): Promise<void> {
  if (users.length === 0) return;
  const { now } = options;
  await db
    .insertInto("users")
    .values(
      users.map((u) => ({
        id: u.id,
        account_id: u.accountId,
        email: u.email,
        name: u.name,
        role: u.role,
        status: u.status,
        idp_id: u.idpId,
        impersonation_protected: u.protected,
        directory_version: u.version,
        directory_staff: u.staff,
        directory_settings: JSON.stringify(u.settings) as never,
        created_at: now,
        updated_at: now,
      })),
    )
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
          directory_version: eb.ref("excluded.directory_version"),
          directory_staff: eb.ref("excluded.directory_staff"),
          directory_settings: eb.ref("excluded.directory_settings"),
          ...(options.bump === false ? {} : { version: sql<number>`case when users.directory_version is null then users.version else users.version + 1 end` }),
          updated_at: now,
        }))
        .where(
          sql<boolean>`(users.account_id, users.email, users.name, users.role, users.status, users.idp_id, users.impersonation_protected, users.directory_version)
            is distinct from (excluded.account_id, excluded.email, excluded.name, excluded.role, excluded.status, excluded.idp_id, excluded.impersonation_protected, excluded.directory_version)`,
        ),
    )
    .execute();
}

/** Accounts first (users reference them); a user whose account the product did not send and the cache lacks is skipped. */
export async function mirrorDirectory(db: Executor, answer: { accounts: readonly DirectoryAccount[]; users: readonly DirectoryUser[] }, options: MirrorOptions & { logger?: Logger }): Promise<void> {
  await mirrorAccounts(db, answer.accounts, options);
  const sent = new Set(answer.accounts.map((a) => a.id));
  const missing = [...new Set(answer.users.map((u) => u.accountId).filter((id) => !sent.has(id)))];
  const known = missing.length ? new Set((await db.selectFrom("accounts").select("id").where("id", "in", missing).execute()).map((r) => r.id)) : new Set<string>();
  const users = answer.users.filter((u) => sent.has(u.accountId) || known.has(u.accountId));
  if (users.length < answer.users.length) options.logger?.warn({ skipped: answer.users.length - users.length }, "the product sent users without their account; not cached");
  await mirrorUsers(db, users, options);
}

/** Users the cache holds for an account that the product no longer lists are gone there: marked deleted here. */
export async function markMissingUsersDeleted(db: Executor, accountId: string, listed: readonly string[], now: Date): Promise<void> {
  let q = db.updateTable("users").set({ status: "deleted", version: sql<number>`version + 1`, updated_at: now }).where("account_id", "=", accountId).where("status", "<>", "deleted");
  if (listed.length) q = q.where("id", "not in", [...listed]);
  await q.execute();
}
