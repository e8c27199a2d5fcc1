import { sql, type Kysely, type Transaction } from "kysely";
import type { Account, DB, User } from "../db/schema.js";
import { Problem } from "../http/problem.js";

/**
 * What a command acts on, loaded as it is now. `version` is the optimistic-concurrency check: the
 * agent sends the version they saw, and every command bumps it.
 */
export type Executor = Kysely<DB> | Transaction<DB>;

export interface UserTarget {
  type: "user";
  id: string;
  accountId: string;
  version: number;
  user: User;
  account: Account;
}

export interface AccountTarget {
  type: "account";
  id: string;
  accountId: string;
  version: number;
  account: Account;
}

export type CommandTarget = UserTarget | AccountTarget;

/** `lock` takes a row lock so two commands on the same target run one after the other. */
export async function loadUserTarget(db: Executor, userId: string, options: { lock?: boolean } = {}): Promise<UserTarget> {
  let q = db.selectFrom("users").selectAll().where("id", "=", userId);
  if (options.lock) q = q.forUpdate();
  const user = await q.executeTakeFirst();
  if (!user || user.status === "deleted") throw Problem.notFound(`No user ${userId}`);
  const account = await db.selectFrom("accounts").selectAll().where("id", "=", user.account_id).executeTakeFirstOrThrow();
  return { type: "user", id: user.id, accountId: user.account_id, version: user.version, user, account };
}

export async function loadAccountTarget(db: Executor, accountId: string, options: { lock?: boolean } = {}): Promise<AccountTarget> {
  let q = db.selectFrom("accounts").selectAll().where("id", "=", accountId);
  if (options.lock) q = q.forUpdate();
  const account = await q.executeTakeFirst();
  if (!account) throw Problem.notFound(`No account ${accountId}`);
  return { type: "account", id: account.id, accountId: account.id, version: account.version, account };
}

export function loadTarget(db: Executor, type: "user" | "account", id: string, options: { lock?: boolean } = {}): Promise<CommandTarget> {
  return type === "user" ? loadUserTarget(db, id, options) : loadAccountTarget(db, id, options);
}

/** The parts of a user that support actions change, as recorded in audit before/after. */
export function userSnapshot(user: User): Record<string, unknown> {
  return {
    role: user.role,
    status: user.status,
    blocked: user.blocked,
    lockedUntil: user.locked_until ? new Date(user.locked_until).toISOString() : null,
    failedLoginCount: user.failed_login_count,
    mfaEnrolled: user.mfa_enrolled,
    mfaMethods: user.mfa_methods,
    version: user.version,
  };
}

export function accountSnapshot(account: Account): Record<string, unknown> {
  return {
    status: account.status,
    plan: account.plan,
    seatsLicensed: account.seats_licensed,
    retentionUntil: account.retention_until ? new Date(account.retention_until).toISOString() : null,
    version: account.version,
  };
}

export function snapshotOf(target: CommandTarget): Record<string, unknown> {
  return target.type === "user" ? userSnapshot(target.user) : accountSnapshot(target.account);
}

/** How many of Steward's own writes the target has had: unlike `version`, a directory read leaves it alone. */
export function stewardWritesOf(target: CommandTarget): number {
  return target.type === "user" ? target.user.steward_writes : target.account.steward_writes;
}

/** Every command ends by bumping its target's version (inside its transaction). */
export async function bumpVersion(trx: Transaction<DB>, target: CommandTarget, now: Date): Promise<void> {
  if (target.type === "user") {
    await trx.updateTable("users").set({ version: sql`version + 1`, steward_writes: sql`steward_writes + 1`, updated_at: now }).where("id", "=", target.id).execute();
  } else {
    await trx.updateTable("accounts").set({ version: sql`version + 1`, steward_writes: sql`steward_writes + 1`, updated_at: now }).where("id", "=", target.id).execute();
  }
}

/** Users who hold a seat: active and invited. */
export async function seatsUsed(db: Executor, accountId: string, options: { except?: string } = {}): Promise<number> {
  let query = db
    .selectFrom("users")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("account_id", "=", accountId)
    .where("status", "in", ["active", "invited"]);
  if (options.except) query = query.where("id", "!=", options.except);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}
