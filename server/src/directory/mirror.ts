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
 * Answers can land out of order (two reads in flight, two Steward processes): a row records when the
 * answer that wrote it was asked (`directory_asked_at`), and an answer asked before that changes nothing
 * there (ties write). Compared inside the upsert, so it holds across processes; Steward's clock, not the
 * product's versions, orders them (those may go backwards, and a cache ordered by them would stick).
 * `bump: false` is for a command's apply, where the runner has bumped the version already.
 */
export interface MirrorOptions {
  now: Date;
  /** When the request whose answer this is was sent (askedAt.ts). */
  askedAt: Date;
  bump?: boolean;
}

/** The upsert's guard: the row was last written by an answer asked no later than this one (or by none). */
const askedNoLater = (table: "accounts" | "users") => sql<boolean>`(${sql.ref(`${table}.directory_asked_at`)} is null or ${sql.ref(`${table}.directory_asked_at`)} <= excluded.directory_asked_at)`;

export async function mirrorAccounts(db: Executor, accounts: readonly DirectoryAccount[], options: MirrorOptions): Promise<void> {
  if (accounts.length === 0) return;
  const { now, askedAt } = options;
  await db
    .insertInto("accounts")
    .values(
      accounts.map((a) => ({ id: a.id, name: a.name, domain: a.domain, status: a.status, plan: a.plan, seats_licensed: a.seatsLicensed, billing_customer_id: a.billingCustomerId, directory_version: a.version, directory_asked_at: askedAt, created_at: now, updated_at: now })),
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
          directory_asked_at: eb.ref("excluded.directory_asked_at"),
          ...(options.bump === false ? {} : { version: sql<number>`case when accounts.directory_version is null then accounts.version else accounts.version + 1 end` }),
          updated_at: now,
        }))
        .where(
          sql<boolean>`(accounts.name, accounts.domain, accounts.status, accounts.plan, accounts.seats_licensed, accounts.billing_customer_id, accounts.directory_version)
            is distinct from (excluded.name, excluded.domain, excluded.status, excluded.plan, excluded.seats_licensed, excluded.billing_customer_id, excluded.directory_version)
            and ${askedNoLater("accounts")}`,
        ),
    )
    .execute();
}

export async function mirrorUsers(db: Executor, users: readonly DirectoryUser[], options: MirrorOptions): Promise<void> {
  if (users.length === 0) return;
  const { now, askedAt } = options;
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
        directory_asked_at: askedAt,
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
          directory_asked_at: eb.ref("excluded.directory_asked_at"),
          ...(options.bump === false ? {} : { version: sql<number>`case when users.directory_version is null then users.version else users.version + 1 end` }),
          updated_at: now,
        }))
        .where(
          sql<boolean>`(users.account_id, users.email, users.name, users.role, users.status, users.idp_id, users.impersonation_protected, users.directory_version, users.directory_staff, users.directory_settings)
            is distinct from (excluded.account_id, excluded.email, excluded.name, excluded.role, excluded.status, excluded.idp_id, excluded.impersonation_protected, excluded.directory_version, excluded.directory_staff, excluded.directory_settings)
            and ${askedNoLater("users")}`,
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

/**
 * Users the cache holds for an account that the product no longer lists are gone there: marked deleted
 * here, unless an answer asked after this list wrote the user (one created or moved there since).
 */
export async function markMissingUsersDeleted(db: Executor, accountId: string, listed: readonly string[], options: { now: Date; askedAt: Date }): Promise<void> {
  const { now, askedAt } = options;
  let q = db
    .updateTable("users")
    .set({ status: "deleted", version: sql<number>`version + 1`, directory_asked_at: askedAt, updated_at: now })
    .where("account_id", "=", accountId)
    .where("status", "<>", "deleted")
    .where((eb) => eb.or([eb("directory_asked_at", "is", null), eb("directory_asked_at", "<=", askedAt)]));
  if (listed.length) q = q.where("id", "not in", [...listed]);
  await q.execute();
}

export interface DirectoryAnswer {
  accounts: readonly DirectoryAccount[];
  users: readonly DirectoryUser[];
}

/**
 * Several answers of one read (the requester lookups, the account's users) as one: each account and
 * user once, the highest version when two answers carry the same one (one upsert may not touch a row twice).
 */
export function mergeAnswers(answers: readonly DirectoryAnswer[]): DirectoryAnswer {
  const newest = <T extends { id: string; version: number }>(rows: T[]) => [
    ...rows.reduce((byId, row) => {
      const held = byId.get(row.id);
      if (!held || row.version > held.version) byId.set(row.id, row);
      return byId;
    }, new Map<string, T>()).values(),
  ];
  return { accounts: newest(answers.flatMap((a) => a.accounts)), users: newest(answers.flatMap((a) => a.users)) };
}

/**
 * Whether the cache holds the answer as it is: every account and user with the same values (the ones
 * the upserts compare) and, for `complete`, no other live user on that account. One read, no row
 * locks: the common case of a lookup (nothing changed at the product since the last one) writes
 * nothing and waits on nobody. The answer must not repeat an id (mergeAnswers).
 */
export async function isMirrored(db: Executor, answer: DirectoryAnswer, complete?: { accountId: string; userIds: readonly string[] }): Promise<boolean> {
  const accounts = answer.accounts.map((a) => ({ id: a.id, name: a.name, domain: a.domain, status: a.status, plan: a.plan, seats_licensed: a.seatsLicensed, billing_customer_id: a.billingCustomerId, directory_version: a.version }));
  const users = answer.users.map((u) => ({
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
    directory_settings: u.settings,
  }));
  const row = await sql<{ accounts: number | string; users: number | string; others: number | string }>`
    select
      (select count(*) from jsonb_to_recordset(${JSON.stringify(accounts)}::jsonb)
         as v(id text, name text, domain text, status text, plan text, seats_licensed int, billing_customer_id text, directory_version int)
         join accounts a on a.id = v.id
         where (a.name, a.domain, a.status, a.plan, a.seats_licensed, a.billing_customer_id, a.directory_version)
           is not distinct from (v.name, v.domain, v.status, v.plan, v.seats_licensed, v.billing_customer_id, v.directory_version)) as accounts,
      (select count(*) from jsonb_to_recordset(${JSON.stringify(users)}::jsonb)
         as v(id text, account_id text, email text, name text, role text, status text, idp_id text, impersonation_protected boolean, directory_version int, directory_staff boolean, directory_settings jsonb)
         join users u on u.id = v.id
         where (u.account_id, u.email, u.name, u.role, u.status, u.idp_id, u.impersonation_protected, u.directory_version, u.directory_staff, u.directory_settings)
           is not distinct from (v.account_id, v.email, v.name, v.role, v.status, v.idp_id, v.impersonation_protected, v.directory_version, v.directory_staff, v.directory_settings)) as users,
      (select count(*) from users u where u.account_id = ${complete?.accountId ?? null}::text and u.status <> 'deleted' and u.id <> all(${[...(complete?.userIds ?? [])]}::text[])) as others`.execute(db);
  const counts = row.rows[0];
  if (!counts) return false;
  return Number(counts.accounts) === accounts.length && Number(counts.users) === users.length && Number(counts.others) === 0;
}
