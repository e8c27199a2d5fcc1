import { sql, type Expression, type ExpressionBuilder, type Kysely, type SelectQueryBuilder, type SqlBool } from "kysely";
import { actionNames } from "../../../shared/actions.js";
import type { AuditEntry } from "../../../shared/audit.js";
import { actionGroupOf, flagIds, type FlagId } from "../../../shared/flags.js";
import { ConsoleFilters, type ActivitySeries, type ConsoleEntryView, type ConsoleOverview, type ConsolePage, type FlaggedEntry } from "../../../shared/schemas/console.js";
import { contentOf, entryMac, verifiedMac } from "../audit/auditHash.js";
import { actorCondition, comparedInstant, cursorBinding, decodeCursor, encodeCursor, stillOpen, visible, withSeals, type AuditVisibility } from "../audit/auditQuery.js";
import type { AuditKeys } from "../audit/sealKey.js";
import type { DB } from "../db/schema.js";
import { diffEntry } from "./diff.js";
import { flagCondition, outsideHoursAt } from "./flagSql.js";
import { isStoredFlag } from "./flagger.js";
import type { WorkingHours } from "./workingHours.js";

/**
 * The console's audit explorer: the audit search's filters plus action group and flag, newest first
 * (explorer) or oldest first (timelines), keyset-paged on (occurred_at, seq) like the audit search,
 * always inside the reader's audit visibility.
 */
export interface ExplorerScope {
  visibility: AuditVisibility;
  hours: WorkingHours;
}

export type Keyset = { after: { occurredAt: Date; seq: number }; order: "asc" | "desc" } | null;

function conditions(eb: ExpressionBuilder<DB, "audit_log">, f: ConsoleFilters, scope: ExplorerScope, keyset: Keyset, throughSeq?: number): Expression<SqlBool>[] {
  const where: Expression<SqlBool>[] = [...visible(eb, scope.visibility)];
  if (f.actor) where.push(...actorCondition(eb, f.actor));
  if (f.action) where.push(eb("action", "=", f.action));
  if (f.group) where.push(eb("action", "in", actionNames.filter((a) => actionGroupOf(a) === f.group)));
  if (f.outcome) where.push(eb("outcome", "=", f.outcome));
  if (f.outcome === "pending") where.push(stillOpen(eb));
  if (f.ticketId) where.push(eb("ticket_id", "=", f.ticketId));
  if (f.targetAccountId) where.push(eb("target_account_id", "=", f.targetAccountId));
  if (f.targetUserId) where.push(eb("target_id", "=", f.targetUserId), eb("target_type", "=", "user"));
  if (f.from) where.push(eb("occurred_at", ">=", comparedInstant(f.from)));
  if (f.to) where.push(eb("occurred_at", "<", comparedInstant(f.to)));
  // A stored flag is the join in matching() instead.
  if (f.flag && !isStoredFlag(f.flag)) where.push(flagCondition(f.flag, scope.hours));
  if (keyset) {
    const { occurredAt, seq } = keyset.after;
    // The plain bound lets the planner skip partitions; the row comparison is the exact keyset.
    if (keyset.order === "desc") where.push(eb("occurred_at", "<=", occurredAt), sql<SqlBool>`(occurred_at, seq) < (${occurredAt}, ${seq})`);
    else where.push(eb("occurred_at", ">=", occurredAt), sql<SqlBool>`(occurred_at, seq) > (${occurredAt}, ${seq})`);
  }
  if (throughSeq !== undefined) where.push(eb("seq", "<=", throughSeq));
  return where;
}

/**
 * The entries matching the filters. With a stored flag the walk starts from that flag's rows, newest (or
 * oldest) first by their own index, and joins each to its entry: a flag a small share of the log has no
 * scan of the log to wait for. The keyset is repeated on the flag's columns so that index scan starts there.
 */
function matching(db: Kysely<DB>, f: ConsoleFilters, scope: ExplorerScope, keyset: Keyset, throughSeq?: number): { query: SelectQueryBuilder<DB, "audit_log", object>; by: [string, string] } {
  const flag = f.flag && isStoredFlag(f.flag) ? f.flag : null;
  if (!flag) return { query: db.selectFrom("audit_log").where((eb) => eb.and(conditions(eb, f, scope, keyset, throughSeq))), by: ["occurred_at", "seq"] };
  let query = db
    .selectFrom("audit_flag")
    .innerJoin("audit_log", (j) => j.onRef("audit_log.seq", "=", "audit_flag.entry_seq").onRef("audit_log.occurred_at", "=", "audit_flag.flagged_at"))
    .where("audit_flag.flag", "=", flag)
    .where((eb) => eb.and(conditions(eb as unknown as ExpressionBuilder<DB, "audit_log">, f, scope, keyset, throughSeq)));
  if (keyset) {
    const { occurredAt, seq } = keyset.after;
    query =
      keyset.order === "desc"
        ? query.where("flagged_at", "<=", occurredAt).where(sql<SqlBool>`(flagged_at, entry_seq) < (${occurredAt}, ${seq})`)
        : query.where("flagged_at", ">=", occurredAt).where(sql<SqlBool>`(flagged_at, entry_seq) > (${occurredAt}, ${seq})`);
  }
  // (Typed as the log alone: every column read from it is audit_log's, and the flag's names differ.)
  return { query: query as unknown as SelectQueryBuilder<DB, "audit_log", object>, by: ["flagged_at", "entry_seq"] };
}

export function explorerQuery(db: Kysely<DB>, f: ConsoleFilters, scope: ExplorerScope, order: "asc" | "desc", keyset: Keyset, limit: number, throughSeq?: number) {
  const { query, by } = matching(db, f, scope, keyset, throughSeq);
  return query.selectAll("audit_log").orderBy(sql.ref(by[0]), order).orderBy(sql.ref(by[1]), order).limit(limit);
}

function rows(db: Kysely<DB>, f: ConsoleFilters, scope: ExplorerScope, order: "asc" | "desc", keyset: Keyset, limit: number, throughSeq?: number) {
  return explorerQuery(db, f, scope, order, keyset, limit, throughSeq).execute();
}

/** Which flags each of these entries raises: every rule as a column of one query on the given seqs. */
export async function flagsOf(db: Kysely<DB>, seqs: number[], hours: WorkingHours): Promise<Map<number, FlagId[]>> {
  const out = new Map<number, FlagId[]>(seqs.map((s) => [s, []]));
  if (seqs.length === 0) return out;
  const rows = await db
    .selectFrom("audit_log")
    .select("seq")
    .select(flagIds.map((flag, i) => sql<boolean | null>`${flagCondition(flag, hours)}`.as(`f${i}`)))
    .where("seq", "in", seqs)
    .execute();
  for (const row of rows) {
    const hits = row as unknown as Record<string, boolean | null>;
    out.set(row.seq, flagIds.filter((_, i) => hits[`f${i}`] === true));
  }
  return out;
}

async function flagged(db: Kysely<DB>, entries: AuditEntry[], hours: WorkingHours): Promise<FlaggedEntry[]> {
  const flags = await flagsOf(db, entries.map((e) => e.seq), hours);
  return entries.map((e) => ({ ...e, flags: flags.get(e.seq) ?? [] }));
}

export async function explorerPage(db: Kysely<DB>, f: ConsoleFilters, options: { order: "asc" | "desc"; cursor?: string; limit: number }, scope: ExplorerScope): Promise<ConsolePage> {
  const binding = cursorBinding("console", options.order, f, Object.keys(ConsoleFilters.shape));
  const keyset: Keyset = options.cursor === undefined ? null : { after: decodeCursor(options.cursor, binding), order: options.order };
  const found = await rows(db, f, scope, options.order, keyset, options.limit + 1);
  const entries = await flagged(db, await withSeals(db, found.slice(0, options.limit)), scope.hours);
  const last = entries.at(-1);
  return { entries, nextCursor: found.length > options.limit && last ? encodeCursor(last, binding) : null };
}

/** Matching entries at or below `throughSeq`, newest first, a keyset batch at a time (streamed export). */
export async function* explorerBatches(db: Kysely<DB>, f: ConsoleFilters, scope: ExplorerScope, options: { throughSeq: number; batchSize?: number }): AsyncGenerator<AuditEntry[]> {
  const size = options.batchSize ?? 1000;
  let keyset: Keyset = null;
  for (;;) {
    const batch = await rows(db, f, scope, "desc", keyset, size, options.throughSeq);
    const last = batch.at(-1);
    if (last) {
      yield await withSeals(db, batch);
      keyset = { after: { occurredAt: last.occurred_at, seq: last.seq }, order: "desc" };
    }
    if (batch.length < size) return;
  }
}

/** How many entries an export will hold (for its progress bar), counted up to `cap`. */
export async function countMatching(db: Kysely<DB>, f: ConsoleFilters, scope: ExplorerScope, throughSeq: number, cap: number): Promise<number> {
  const inner = matching(db, f, scope, null, throughSeq).query.select(sql<number>`1`.as("one")).limit(cap);
  const row = await db.selectFrom(inner.as("m")).select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
  return Number(row.n);
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : null;
}

/** One entry with what changed, its ticket and where it stands in the chain; null when missing or not visible. */
/**
 * The first intact-verify mark at or after this chain position whose MAC holds and whose head is
 * still in the chain: the entry was inside a verify that passed. A forged mark does not count.
 */
async function verifiedMark(db: Kysely<DB>, keys: Pick<AuditKeys, "chainKey">, chainSeq: number): Promise<{ verified_at: Date } | null> {
  const marks = await db.selectFrom("audit_verified").selectAll().where("chain_seq", ">=", chainSeq).orderBy("chain_seq").limit(5).execute();
  for (const mark of marks) {
    const at = new Date(mark.verified_at);
    if (verifiedMac(keys, { chainSeq: mark.chain_seq, headHash: mark.head_hash, verifiedAt: at.toISOString() }) !== mark.mac) continue;
    const seal = await db.selectFrom("audit_seal").select("hash").where("chain_seq", "=", mark.chain_seq).executeTakeFirst();
    if (seal?.hash === mark.head_hash) return { verified_at: at };
  }
  return null;
}

export async function entryView(db: Kysely<DB>, keys: Pick<AuditKeys, "entryKey" | "chainKey">, seq: number, scope: ExplorerScope): Promise<ConsoleEntryView | null> {
  const row = await db
    .selectFrom("audit_log")
    .selectAll()
    .select(sql<unknown>`to_jsonb(audit_log.*) -> 'ticket_snapshot'`.as("snapshot_json"))
    .where("seq", "=", seq)
    .where((eb) => eb.and(visible(eb, scope.visibility)))
    .executeTakeFirst();
  if (!row) return null;
  const { snapshot_json: snapshot, ...auditRow } = row;
  const [sealed] = await withSeals(db, [auditRow]);
  if (!sealed) return null;
  const [entry] = await flagged(db, [sealed], scope.hours);
  if (!entry) return null;
  const mac = entry.mac === null ? "none" : entryMac(keys, contentOf(entry)) === entry.mac ? "valid" : "invalid";
  const verified = entry.seal ? await verifiedMark(db, keys, entry.seal.chainSeq) : null;
  const snap = snapshot && typeof snapshot === "object" ? (snapshot as Record<string, unknown>) : null;
  const requester = snap?.requester && typeof snap.requester === "object" ? (snap.requester as Record<string, unknown>) : null;
  return {
    entry,
    diff: diffEntry(entry.before, entry.after),
    ticket: entry.ticketId
      ? {
          id: entry.ticketId,
          subject: text(snap?.subject),
          status: text(snap?.status),
          requester: requester ? { name: text(requester.name), email: text(requester.email) } : null,
          match: text(snap?.match),
          fromSnapshot: snap !== null,
        }
      : null,
    chain: {
      mac,
      status: !entry.seal ? "unsealed" : verified ? "verified" : "sealed",
      chainSeq: entry.seal?.chainSeq ?? null,
      verifiedAt: verified ? new Date(verified.verified_at).toISOString() : null,
    },
  };
}

const DAY_MS = 86_400_000;

/** Entries per UTC day, agent and action, counted from the log (for a restricted view). */
function liveActivity(db: Kysely<DB>, inRange: (eb: ExpressionBuilder<DB, "audit_log">) => Expression<SqlBool>) {
  const day = sql<string>`to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD')`;
  return db
    .selectFrom("audit_log")
    .select([day.as("day"), "actor_staff_id", "action", sql<string | null>`max(actor_email)`.as("email"), sql<string>`count(*)`.as("n")])
    .where(inRange)
    .groupBy([day, "actor_staff_id", "action"])
    .execute();
}

/** The start screen: flag counts and daily activity per agent and per action group over the last `days` UTC days. */
export async function overview(db: Kysely<DB>, scope: ExplorerScope, now: Date, days: number): Promise<ConsoleOverview> {
  const todayStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const from = new Date(todayStart - (days - 1) * DAY_MS);
  const to = new Date(todayStart + DAY_MS);
  const dayList = Array.from({ length: days }, (_, i) => new Date(from.getTime() + i * DAY_MS).toISOString().slice(0, 10));
  const inRange = (eb: ExpressionBuilder<DB, "audit_log">) => eb.and([eb("occurred_at", ">=", from), eb("occurred_at", "<", to), ...visible(eb, scope.visibility)]);

  const flags: ConsoleOverview["flags"] = [];
  for (const id of flagIds) {
    if (id === "outside_hours" && scope.visibility.kind === "all" && scope.hours.startMinute % 15 === 0 && scope.hours.endMinute % 15 === 0) {
      // Quarter-hour buckets (the flagger keeps them): exact while the hours start and end on a quarter hour.
      const row = await db
        .selectFrom("audit_staff_writes_quarter")
        .select(sql<string | null>`sum(n)`.as("n"))
        .where("bucket", ">=", from)
        .where("bucket", "<", to)
        .where(outsideHoursAt(sql`bucket`, scope.hours))
        .executeTakeFirstOrThrow();
      flags.push({ id, count: Number(row.n ?? 0) });
      continue;
    }
    if (isStoredFlag(id)) {
      const row = await db
        .selectFrom("audit_flag")
        .innerJoin("audit_log", (j) => j.onRef("audit_log.seq", "=", "audit_flag.entry_seq").onRef("audit_log.occurred_at", "=", "audit_flag.flagged_at"))
        .select((eb) => eb.fn.countAll<string>().as("n"))
        .where("audit_flag.flag", "=", id)
        .where("flagged_at", ">=", from)
        .where("flagged_at", "<", to)
        .where((eb) => eb.and(visible(eb as unknown as ExpressionBuilder<DB, "audit_log">, scope.visibility)))
        .executeTakeFirstOrThrow();
      flags.push({ id, count: Number(row.n) });
      continue;
    }
    const row = await db
      .selectFrom("audit_log")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where(inRange)
      .where(flagCondition(id, scope.hours))
      .executeTakeFirstOrThrow();
    flags.push({ id, count: Number(row.n) });
  }

  // Everything visible: the daily counts the flagger keeps. A support role's own view: counted here.
  const counts =
    scope.visibility.kind === "all"
      ? (
          await db
            .selectFrom("audit_activity_day")
            .select([sql<string>`to_char(day, 'YYYY-MM-DD')`.as("day"), "actor_key", "action", "actor_email as email", "n"])
            .where("day", ">=", dayList[0] ?? "")
            .where("day", "<=", dayList.at(-1) ?? "")
            .execute()
        ).map((r) => ({ ...r, actor_staff_id: r.actor_key === "" ? null : r.actor_key }))
      : await liveActivity(db, inRange);
  const series = (map: Map<string, ActivitySeries>, key: string, label: string, dayText: string, n: number) => {
    const s = map.get(key) ?? { key, label, counts: dayList.map(() => 0) };
    const i = dayList.indexOf(dayText);
    if (i >= 0) s.counts[i] = (s.counts[i] ?? 0) + n;
    map.set(key, s);
  };
  const byAgent = new Map<string, ActivitySeries>();
  const byGroup = new Map<string, ActivitySeries>();
  for (const r of counts) {
    const n = Number(r.n);
    if (r.actor_staff_id) series(byAgent, r.actor_staff_id, r.email ?? r.actor_staff_id, r.day, n);
    const group = actionGroupOf(r.action);
    series(byGroup, group, group, r.day, n);
  }
  const total = (s: ActivitySeries) => s.counts.reduce((a, b) => a + b, 0);
  const sorted = (m: Map<string, ActivitySeries>) => [...m.values()].sort((a, b) => total(b) - total(a) || a.key.localeCompare(b.key));
  return { from: from.toISOString(), to: to.toISOString(), flags, days: dayList, byAgent: sorted(byAgent), byGroup: sorted(byGroup) };
}
