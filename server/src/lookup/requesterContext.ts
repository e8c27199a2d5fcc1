import type { Kysely } from "kysely";
import type { ContextQuery, ProviderName, RequesterContext, SearchHit } from "../../../shared/schemas/context.js";
import type { Clock } from "../clock.js";
import type { DB } from "../db/schema.js";
import type { Logger } from "../logger.js";
import type { BillingPort, IdentityPort } from "../providers/ports.js";
import { billingSummaryOf, BuiltinBilling } from "../providers/builtin/builtinBilling.js";
import { builtinNotFound } from "../providers/builtin/builtinCall.js";
import { BuiltinIdentity, identitySummaryOf } from "../providers/builtin/builtinIdentity.js";
import { isProviderError, ProviderError } from "../providers/providerError.js";
import { openOperationsOf } from "../reconcile/providerOperations.js";
import { settle, unsettle } from "../settled.js";
import { loadAccountAuditLines, loadRecentActivity, toActivityEvent, toAuditLine } from "./accountHistory.js";
import { accountSummaryOf, loadAccountSummary, toUserSummary } from "./accountSummary.js";
import { loadBuiltinContextRows, loadStewardContextRows, type BuiltinContextRows, type StewardRows } from "./builtinContext.js";
import { candidateHits, resolveRequester, type RequesterUser, type Resolution } from "./resolveRequester.js";
import { searchDirectory } from "./search.js";
import type { DirectoryPort, DirectoryReader } from "../directory/port.js";
import { isCached, markServedFromCache, mirrorAnswers, refreshAccount } from "../directory/readThrough.js";
import type { DirectoryAnswer } from "../directory/mirror.js";

/**
 * Everything the sidebar shows about a ticket's requester, in one response. The parts come from
 * different places (our tables, the identity provider, the billing provider) and are fetched at the
 * same time; a part that fails or is too slow carries its error, and the others still come back.
 */
export interface ContextSources {
  db: Kysely<DB>;
  identity: Pick<IdentityPort, "name" | "getIdentity">;
  billing: Pick<BillingPort, "name" | "getBilling">;
  /** Accounts and users: with the product's (http), the requester and their account are read from it first. */
  directory: DirectoryPort;
  clock: Clock;
  /** Who reads, from which ticket: named in the product's request token (DIRECTORY_PROVIDER=http). */
  reader?: DirectoryReader;
  /** The longest any one part is waited for. */
  partTimeoutMs: number;
  logger: Logger;
}

export const PART_NAMES = ["identity", "account", "billing", "activity", "audit"] as const;
export type PartName = (typeof PART_NAMES)[number];
type Parts = Pick<RequesterContext, PartName>;
type PartError = { code: string; message: string; provider: ProviderName };

export type OpenOperationRow = BuiltinContextRows["openOperations"][number];

export type ContextResult =
  | {
      match: "exact" | "ambiguous";
      context: RequesterContext;
      user: RequesterUser | null;
      failedParts: PartName[];
      /** The account's unsettled provider operations, read with the parts (none for an ambiguous requester). */
      openOperations: OpenOperationRow[];
      /** The stored pick decided the user (false without one, or when it named a user since deleted: the email decided). */
      pickApplied: boolean;
    }
  /** unanswered: the product's directory did not answer the lookups, so "no such user" is not known. */
  | { match: "unknown"; candidates: SearchHit[]; unanswered: ProviderError | null };

class PartTimeout extends Error {}

/** Rejects with PartTimeout after `ms`; the late answer, if it ever comes, is ignored. */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PartTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function partError(reason: unknown, source: ProviderName, sources: ContextSources, part: PartName): PartError {
  if (isProviderError(reason)) return reason.toPartError();
  if (reason instanceof PartTimeout) return { code: "timeout", message: reason.message, provider: source };
  sources.logger.error({ err: reason, part }, "requester context part failed");
  return { code: "unavailable", message: "could not be read; the request id identifies it in the logs", provider: source };
}

function errorPart(source: ProviderName, error: PartError) {
  return { status: "error" as const, source, error };
}

/** Where the user and account come from: Steward's tables, or the product's directory. */
const directorySource = (sources: ContextSources): ProviderName => (isCached(sources) ? "product" : "steward");

function originOf(sources: ContextSources): Record<PartName, ProviderName> {
  return { identity: sources.identity.name, account: directorySource(sources), billing: sources.billing.name, activity: "steward", audit: "steward" };
}

/**
 * Built-in identity and billing on the same database: every part comes from one statement
 * (builtinContext.ts) — with the product's directory too, once its account is in the cache.
 */
function isBuiltinProviders(sources: ContextSources): boolean {
  return sources.identity instanceof BuiltinIdentity && sources.billing instanceof BuiltinBilling;
}

/**
 * DIRECTORY_PROVIDER=http: the requester's account read from the product with the requester lookups
 * (same round trip), already in the cache; `error` when the product did not give it (the account part's error).
 */
interface AccountRead {
  accountId: string;
  failure: { error: unknown } | null;
}

async function fetchPartsAtOnce(sources: ContextSources, user: RequesterUser): Promise<{ parts: Parts; failed: PartName[]; openOperations: OpenOperationRow[] } | null> {
  const origin = originOf(sources);
  const now = sources.clock.now();
  let rows: BuiltinContextRows;
  try {
    rows = await withDeadline(loadBuiltinContextRows(sources.db, user, now), sources.partTimeoutMs);
  } catch (err) {
    // Too slow: every part waited on the same database, so every part timed out.
    if (err instanceof PartTimeout) {
      const timedOut = (name: PartName) => errorPart(origin[name], partError(err, origin[name], sources, name));
      return { parts: { identity: timedOut("identity"), account: timedOut("account"), billing: timedOut("billing"), activity: timedOut("activity"), audit: timedOut("audit") }, failed: [...PART_NAMES], openOperations: [] };
    }
    // Anything else: the per-part readers say which parts fail and why.
    sources.logger.warn({ err }, "requester context statement failed; reading the parts one by one");
    return null;
  }
  const failed: PartName[] = [];
  const part = <T>(name: PartName, read: () => T) => {
    try {
      return { status: "ok" as const, source: origin[name], data: read() };
    } catch (err) {
      failed.push(name);
      return errorPart(origin[name], partError(err, origin[name], sources, name));
    }
  };
  const parts: Parts = {
    identity: part("identity", () => {
      if (!rows.identity) throw builtinNotFound("identity.get", `no product user ${user.id}`);
      return identitySummaryOf(rows.identity, rows.activeSessions, rows.authEvents, now);
    }),
    account: part("account", () => {
      if (!rows.account) throw new Error(`account ${user.account_id} of user ${user.id} is missing`);
      return accountSummaryOf(rows.account);
    }),
    billing: part("billing", () => {
      if (!rows.customer && user.billing_customer_id) throw builtinNotFound("billing.get", `no billing customer ${user.billing_customer_id}`);
      return rows.customer ? billingSummaryOf(rows.customer, rows.subscription ?? undefined, rows.invoices) : null;
    }),
    activity: part("activity", () => rows.activity.map(toActivityEvent)),
    audit: part("audit", () => rows.audit.map(toAuditLine)),
  };
  return { parts, failed, openOperations: rows.openOperations };
}

/** The account part as the product failed to give it, in place of what the cache holds. */
function withAccountError(sources: ContextSources, result: { parts: Parts; failed: PartName[] }, error: unknown): void {
  const origin = originOf(sources);
  result.parts.account = errorPart(origin.account, partError(error, origin.account, sources, "account"));
  if (!result.failed.includes("account")) result.failed.push("account");
}

async function fetchParts(sources: ContextSources, user: RequesterUser, accountRead?: AccountRead): Promise<{ parts: Parts; failed: PartName[]; openOperations: OpenOperationRow[] }> {
  // With the product's directory, only when its account has been read (or failed) already: the statement reads the cache.
  if (isBuiltinProviders(sources) && (!isCached(sources) || accountRead)) {
    const atOnce = await fetchPartsAtOnce(sources, user);
    if (atOnce) {
      if (accountRead?.failure) withAccountError(sources, atOnce, accountRead.failure.error);
      return atOnce;
    }
  }
  const { db, identity, billing, partTimeoutMs } = sources;
  const origin = originOf(sources);
  // Steward's own parts in one statement, beside the provider calls (with the product's directory, once
  // its account is in the cache). Too slow: those parts time out together. Any other failure: the
  // per-part readers below say which parts fail and why.
  const stewardRows: Promise<StewardRows | null> =
    !isCached(sources) || accountRead
      ? withDeadline(loadStewardContextRows(db, user, sources.clock.now()), partTimeoutMs).catch((err: unknown) => {
          if (err instanceof PartTimeout) throw err;
          sources.logger.warn({ err }, "requester context statement failed; reading the parts one by one");
          return null;
        })
      : Promise.resolve(null);
  const fromRows = <T>(read: (rows: StewardRows) => T, alone: () => Promise<T>) => async () => {
    const rows = await stewardRows;
    return rows ? read(rows) : alone();
  };
  const account = fromRows(
    (rows) => {
      if (accountRead?.failure) throw accountRead.failure.error;
      if (!rows.account) throw new Error(`account ${user.account_id} of user ${user.id} is missing`);
      return accountSummaryOf(rows.account);
    },
    async () => {
      if (accountRead?.failure) throw accountRead.failure.error;
      // The product's account with all its users (seats, admins), into the cache the summary reads (unless read with the lookups).
      if (!accountRead) await refreshAccount(sources, user.account_id);
      const summary = await loadAccountSummary(db, user.account_id, sources.clock.now());
      if (!summary) throw new Error(`account ${user.account_id} of user ${user.id} is missing`);
      return summary;
    },
  );
  const start = <T>(work: () => Promise<T>) => withDeadline(Promise.resolve().then(work), partTimeoutMs);
  // The account's unsettled provider operations, read while the providers answer (not after them).
  // Not a part: the statement too slow, they are read on their own (and a failure fails the request, as before).
  const alone = () => openOperationsOf(db, user.account_id);
  const openOperations = settle(stewardRows.then((rows) => rows?.openOperations ?? alone(), alone));
  // Started together: the slowest provider, not the sum of them, sets the response time.
  const [identityResult, accountResult, billingResult, activityResult, auditResult] = await Promise.allSettled([
    start(() => identity.getIdentity({ id: user.id, idpId: user.idp_id, email: user.email })),
    start(account),
    start(() => billing.getBilling({ id: user.account_id, billingCustomerId: user.billing_customer_id, subscriptionHint: user.billing_subscription_hint })),
    start(fromRows((rows) => rows.activity.map(toActivityEvent), () => loadRecentActivity(db, user.account_id))),
    start(fromRows((rows) => rows.audit.map(toAuditLine), () => loadAccountAuditLines(db, user.account_id))),
  ]);
  const failed: PartName[] = [];
  const toPart = <T>(name: PartName, result: PromiseSettledResult<T>) => {
    if (result.status === "fulfilled") return { status: "ok" as const, source: origin[name], data: result.value };
    failed.push(name);
    return errorPart(origin[name], partError(result.reason, origin[name], sources, name));
  };
  const parts: Parts = {
    identity: toPart("identity", identityResult),
    account: toPart("account", accountResult),
    billing: toPart("billing", billingResult),
    activity: toPart("activity", activityResult),
    audit: toPart("audit", auditResult),
  };
  return { parts, failed, openOperations: unsettle(await openOperations) };
}

/** For an ambiguous requester nothing is fetched until the agent picks one of the candidates. */
function unpickedParts(): Parts {
  const pending = errorPart("steward", { code: "requester_ambiguous", message: "Several users have this email; pick one", provider: "steward" });
  return { identity: pending, account: pending, billing: pending, activity: pending, audit: pending };
}

/**
 * DIRECTORY_PROVIDER=http: the requester as the product knows them now, in one round trip. The lookups
 * (email, external id) and — when the cache already knows which account the requester is on — that
 * account with all its users are asked at the same time, under one deadline, and their answers go into
 * the cache together (nothing written when it holds them already). The product down or slow leaves what
 * the cache held: the account part then says the product did not answer, the other parts come back as usual.
 */
async function readRequesterFromProduct(sources: ContextSources, query: ContextQuery, pickedUserId: string | null): Promise<{ accountRead: AccountRead | undefined; unanswered: ProviderError | null }> {
  const { directory, reader } = sources;
  const lookups = [{ email: query.email }, ...(query.externalId ? [{ externalId: query.externalId }] : [])];
  const asked = settle(withDeadline(Promise.all(lookups.map((lookup) => directory.lookupUsers(lookup, reader))), sources.partTimeoutMs));
  const guess = await resolvePicked(sources.db, query, pickedUserId).then((r) => r.resolution, () => null);
  const accountId = guess?.match === "exact" ? guess.user.account_id : null;
  const account = accountId ? settle(withDeadline(directory.getAccount(accountId, reader), sources.partTimeoutMs)) : null;
  const [found, read] = await Promise.all([asked, account]);
  if (!found.ok) sources.logger.warn({ err: found.error }, "the product's directory did not answer the requester lookup");
  const answers: DirectoryAnswer[] = [...(found.ok ? found.value : []), ...(read?.ok ? [{ accounts: [read.value.account], users: read.value.users }] : [])];
  let failure = read && !read.ok ? { error: read.error } : null;
  let unanswered = found.ok ? null : asDirectoryError(found.error, "directory.lookup");
  try {
    if (answers.length) await mirrorAnswers(sources, answers, read?.ok ? { accountId: read.value.account.id, userIds: read.value.users.map((u) => u.id) } : undefined, [...(found.ok ? found.value : []), ...(read?.ok ? [read.value] : [])]);
  } catch (err) {
    // The cache could not take the answers: what it held stands, and the account part says it is not fresh.
    sources.logger.warn({ err }, "the product's answers could not be cached");
    failure ??= { error: err };
    unanswered ??= asDirectoryError(err, "directory.lookup");
  }
  return { accountRead: accountId ? { accountId, failure } : undefined, unanswered };
}

/** A lookup the product did not answer (or whose answer could not be cached), as the provider error a client sees. */
function asDirectoryError(err: unknown, operation: string): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof PartTimeout) return new ProviderError({ provider: "product", code: "timeout", operation, message: `${operation}: ${err.message}` });
  return new ProviderError({ provider: "product", code: "unavailable", operation, message: `${operation}: the answer could not be read into Steward's cache`, cause: err });
}

/**
 * The user a ticket's agent picked, when the query names none: read beside the requester's statement, so
 * the usual case (no pick) costs no round trip of its own; a pick (several users share the email) costs a
 * second read of the requester by the picked id.
 */
export type PickedUser = Promise<string | null>;

async function resolveWithPick(sources: ContextSources, query: ContextQuery, picked: PickedUser): Promise<PickedResolution> {
  const [userId, byQuery] = await Promise.all([picked, resolveRequester(sources.db, query)]);
  return resolvePicked(sources.db, query, userId, byQuery);
}

interface PickedResolution {
  resolution: Resolution;
  pickApplied: boolean;
}

/**
 * The requester by the stored pick when it names a live user. A pick to a user since deleted (or gone)
 * names no one, as a deleted user is never the requester: the email decides, as if there were no pick.
 * The pick itself stays stored (a read changes nothing); an agent replaces or forgets it.
 */
async function resolvePicked(db: Kysely<DB>, query: ContextQuery, pickedUserId: string | null, byQuery?: Resolution): Promise<PickedResolution> {
  if (pickedUserId) {
    const byPick = await resolveRequester(db, { ...query, userId: pickedUserId });
    if (byPick.match !== "unknown") return { resolution: byPick, pickApplied: true };
  }
  return { resolution: byQuery ?? (await resolveRequester(db, query)), pickApplied: false };
}

export async function buildRequesterContext(sources: ContextSources, asked: ContextQuery, picked: PickedUser = Promise.resolve(null)): Promise<ContextResult> {
  // With the product's directory its round trip dominates: the pick is awaited first, as its lookups use it.
  const pickFirst = isCached(sources) ? await picked : null;
  const { accountRead, unanswered } = isCached(sources) ? await readRequesterFromProduct(sources, asked, pickFirst) : { accountRead: undefined, unanswered: null };
  // A user the request names itself wins over the ticket's pick.
  const { resolution, pickApplied } = asked.userId
    ? { resolution: await resolveRequester(sources.db, asked), pickApplied: false }
    : isCached(sources)
      ? await resolvePicked(sources.db, asked, pickFirst)
      : await resolveWithPick(sources, asked, picked);
  const requester = { email: asked.email, zendeskUserId: asked.zendeskUserId ?? null, externalId: asked.externalId ?? null };
  if (resolution.match === "unknown") {
    const closest = await searchDirectory(sources.db, { q: asked.email.slice(0, 200), limit: 10 });
    // Offered to pick from: a deleted user cannot be picked (the pick route refuses it), so it is not offered.
    const candidates = closest.hits.filter((hit) => !(hit.kind === "user" && hit.status === "deleted"));
    return { match: "unknown", candidates, unanswered };
  }
  // The product did not answer the lookups: the users shown are the cache's, marked with their age.
  const candidatesOf = (users: RequesterUser[]) => (unanswered ? markServedFromCache(sources.db, candidateHits(users)) : candidateHits(users));
  if (resolution.match === "ambiguous") {
    const context: RequesterContext = {
      requester,
      match: "ambiguous",
      candidates: await candidatesOf(resolution.users),
      user: null,
      ...unpickedParts(),
      sources: {},
    };
    return { match: "ambiguous", context, user: null, failedParts: [], openOperations: [], pickApplied };
  }
  const { user } = resolution;
  // The account read with the lookups is the requester's unless the product moved them meanwhile (then it is read now).
  const ownAccountRead = accountRead?.accountId === user.account_id ? accountRead : undefined;
  const { parts, failed, openOperations } = await fetchParts(sources, user, ownAccountRead);
  // Neither the lookups nor the account's read (which lists its users) brought the user: it is the cache's.
  const userUnanswered = unanswered !== null && !(ownAccountRead && !ownAccountRead.failure);
  const context: RequesterContext = {
    requester,
    match: "exact",
    // Others with the requester's email (other workspaces): the sidebar warns that this may not be the one.
    candidates: await candidatesOf(resolution.others),
    user: userUnanswered ? { ...toUserSummary(user), asOf: user.directory_asked_at?.toISOString() ?? null } : toUserSummary(user),
    ...parts,
    sources: { user: directorySource(sources), identity: sources.identity.name, account: directorySource(sources), billing: sources.billing.name, activity: "steward", audit: "steward" },
  };
  return { match: "exact", context, user, failedParts: failed, openOperations, pickApplied };
}
