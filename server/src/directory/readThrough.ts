import type { ActionTarget } from "../../../shared/schemas/actions.js";
import type { SearchHit } from "../../../shared/schemas/context.js";
import type { Kysely, Transaction, Updateable } from "kysely";
import type { Clock } from "../clock.js";
import type { DirectoryAccount, DirectoryUser } from "../../../shared/directory/contract.js";
import type { AccountsTable, DB, UsersTable } from "../db/schema.js";
import type { AppDeps } from "../deps.js";
import type { Logger } from "../logger.js";
import { askedAtOf } from "./askedAt.js";
import { isMirrored, markMissingUsersDeleted, mergeAnswers, mirrorAccounts, mirrorDirectory, mirrorUsers, type DirectoryAnswer } from "./mirror.js";
import type { DirectoryPort, DirectoryReader, UserLookup } from "./port.js";

/**
 * Reads that fill the cache (DIRECTORY_PROVIDER=http) before Steward reads its own tables as it
 * always has; with the built-in directory the tables are the directory and these do nothing.
 */
export interface ReadDeps {
  directory: DirectoryPort;
  db: Kysely<DB>;
  clock: Clock;
  logger?: Logger;
  /** Who reads, from which ticket (named in the product's request token). */
  reader?: DirectoryReader;
}

/** The app's dependencies as the read-through needs them. */
export const readDepsOf = (deps: AppDeps, reader?: DirectoryReader): ReadDeps => ({ directory: deps.directory, db: deps.database.db, clock: deps.clock, logger: deps.logger, ...(reader ? { reader } : {}) });

export const isCached = (deps: { directory: DirectoryPort }) => deps.directory.name !== "builtin";

/**
 * The product's answers of one read into the cache, together: nothing is written when the cache holds
 * them already (one read), else one transaction. `complete`: the answer lists every user of that
 * account, so a user the cache holds there and the product no longer lists is marked deleted.
 * `asked`: the product's answers as returned (or objects they were noted on); the earliest one's send
 * time is what the rows record, and a row written by an answer asked later keeps its values.
 * Resolves to whether the cache was written (false: it held the answers already).
 */
export async function mirrorAnswers(deps: ReadDeps, answers: readonly DirectoryAnswer[], complete?: { accountId: string; userIds: readonly string[] }, asked: readonly object[] = answers): Promise<boolean> {
  const merged = mergeAnswers(answers);
  if (await isMirrored(deps.db, merged, complete)) return false;
  const now = deps.clock.now();
  const askedAt = askedAtOf(asked, now);
  await deps.db.transaction().execute(async (trx) => {
    await mirrorDirectory(trx, merged, { now, askedAt, ...(deps.logger ? { logger: deps.logger } : {}) });
    if (complete) await markMissingUsersDeleted(trx, complete.accountId, complete.userIds, { now, askedAt });
  });
  return true;
}

/** An account with all its users, as the product has them now (what a write is decided on). */
export async function refreshAccount(deps: ReadDeps, accountId: string): Promise<void> {
  if (!isCached(deps)) return;
  const answer = await deps.directory.getAccount(accountId, deps.reader);
  const { account, users } = answer;
  await mirrorAnswers(deps, [{ accounts: [account], users }], { accountId: account.id, userIds: users.map((u) => u.id) }, [answer]);
}

/** The target of a write and everything on its account, fresh from the product. */
export async function refreshTarget(deps: ReadDeps, target: ActionTarget): Promise<void> {
  if (!isCached(deps)) return;
  if (target.type === "account") return refreshAccount(deps, target.id);
  const cached = await deps.db.selectFrom("users").select("account_id").where("id", "=", target.id).executeTakeFirst();
  const accountId = cached?.account_id ?? (await deps.directory.getUser(target.id, deps.reader)).accountId;
  await refreshAccount(deps, accountId);
}

export async function refreshLookup(deps: ReadDeps, query: UserLookup): Promise<void> {
  if (!isCached(deps)) return;
  await mirrorAnswers(deps, [await deps.directory.lookupUsers(query, deps.reader)]);
}

/** Resolves to whether the cache changed (always false with the built-in directory). */
export async function refreshSearch(deps: ReadDeps, q: string, limit: number): Promise<boolean> {
  if (!isCached(deps)) return false;
  return mirrorAnswers(deps, [await deps.directory.search(q, limit, deps.reader)]);
}

/**
 * In a command's apply: the product's answer to the write, into the cache (the runner has bumped the
 * version), ordered by when the write was sent like any answer: a read asked after it and cached first stands.
 */
export async function mirrorWritten(trx: Transaction<DB>, deps: { directory: DirectoryPort }, answer: { user?: DirectoryUser; account?: DirectoryAccount }, now: Date): Promise<void> {
  if (!isCached(deps)) return;
  if (answer.account) await mirrorAccounts(trx, [answer.account], { now, askedAt: askedAtOf([answer.account], now), bump: false });
  if (answer.user) await mirrorUsers(trx, [answer.user], { now, askedAt: askedAtOf([answer.user], now), bump: false });
}

/** What the directory owns in Steward's rows, as a command changes it (the rest, e.g. `blocked`, is Steward's own). */
export type DirectoryUserChanges = Pick<Updateable<UsersTable>, "status" | "role" | "impersonation_protected" | "directory_settings">;
export type DirectoryAccountChanges = Pick<Updateable<AccountsTable>, "status" | "plan" | "seats_licensed">;

/** The write a change records: the product's answer to it (its send time orders it), or without one (operation.resolve) `now`. */
export interface WrittenAt {
  answer?: object | undefined;
  now: Date;
}

const askedAtOfWrite = (written: WrittenAt) => askedAtOf(written.answer ? [written.answer] : [], written.now);

/**
 * In a command's apply (or operation.resolve's record of one): the command's change to what the directory
 * owns in Steward's row. Built-in directory: the row is the directory and takes it. http: the row caches the
 * product, and this is the product's state when the write was sent, so like any answer it changes nothing
 * where one asked later was cached first (mirror.ts); it records its time for the answers after it.
 */
export async function recordUserWrite(trx: Transaction<DB>, deps: { directory: DirectoryPort }, id: string, changes: DirectoryUserChanges, written: WrittenAt): Promise<void> {
  if (!isCached(deps)) return void (await trx.updateTable("users").set(changes).where("id", "=", id).execute());
  const askedAt = askedAtOfWrite(written);
  await trx
    .updateTable("users")
    .set({ ...changes, directory_asked_at: askedAt })
    .where("id", "=", id)
    .where((eb) => eb.or([eb("directory_asked_at", "is", null), eb("directory_asked_at", "<=", askedAt)]))
    .execute();
}

/** As recordUserWrite, for an account. */
export async function recordAccountWrite(trx: Transaction<DB>, deps: { directory: DirectoryPort }, id: string, changes: DirectoryAccountChanges, written: WrittenAt): Promise<void> {
  if (!isCached(deps)) return void (await trx.updateTable("accounts").set(changes).where("id", "=", id).execute());
  const askedAt = askedAtOfWrite(written);
  await trx
    .updateTable("accounts")
    .set({ ...changes, directory_asked_at: askedAt })
    .where("id", "=", id)
    .where((eb) => eb.or([eb("directory_asked_at", "is", null), eb("directory_asked_at", "<=", askedAt)]))
    .execute();
}

/**
 * Hits a read served from the cache because the product did not answer it, each marked with when the
 * answer that last changed its row was asked (SearchHit.asOf): the agent sees it may be out of date.
 */
export async function markServedFromCache(db: Kysely<DB>, hits: readonly SearchHit[]): Promise<SearchHit[]> {
  const idsOf = (kind: SearchHit["kind"]) => [...new Set(hits.filter((h) => h.kind === kind).map((h) => h.id))];
  const [users, accounts] = [idsOf("user"), idsOf("account")];
  const [userRows, accountRows] = await Promise.all([
    users.length ? db.selectFrom("users").select(["id", "directory_asked_at"]).where("id", "in", users).execute() : [],
    accounts.length ? db.selectFrom("accounts").select(["id", "directory_asked_at"]).where("id", "in", accounts).execute() : [],
  ]);
  const asOf = { user: new Map(userRows.map((r) => [r.id, r.directory_asked_at])), account: new Map(accountRows.map((r) => [r.id, r.directory_asked_at])) };
  return hits.map((hit) => ({ ...hit, asOf: asOf[hit.kind].get(hit.id)?.toISOString() ?? null }));
}
