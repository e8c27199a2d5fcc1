import { sql, type Kysely, type RawBuilder, type SqlBool } from "kysely";
import { flagParams, LOOKUP_ACTIONS, type FlagId } from "../../../shared/flags.js";
import type { DB } from "../db/schema.js";
import { entryFlagCondition, staffWrite } from "./flagSql.js";

/**
 * Writes the console's stored flags and daily counts (migration 035) for entries as they are sealed, in chain order from
 * `audit_seal_state.flagged_through`. The seal chain is a list of every committed entry, each once, so
 * every entry is flagged exactly once whatever process wrote it and in whatever order entries committed.
 *
 * Entry flags are decided by the entry alone. Window flags ("N of these by one agent within M minutes, up
 * to and including this one") also change for the agent's later entries when an earlier one arrives late
 * (commit order is not time order): for each new matching entry at t, the agent's entries in [t, t + M)
 * are recounted. Counts only grow as entries arrive, so a raised flag is never taken back.
 */
export const STORED_FLAGS = ["ticket_mismatch", "lookup_burst", "repeated_denials", "cap_edge", "long_impersonation"] as const satisfies readonly FlagId[];
export type StoredFlag = (typeof STORED_FLAGS)[number];
const ENTRY_FLAGS = ["ticket_mismatch", "cap_edge", "long_impersonation"] as const satisfies readonly StoredFlag[];

export function isStoredFlag(flag: FlagId): flag is StoredFlag {
  return (STORED_FLAGS as readonly FlagId[]).includes(flag);
}

/** Advisory lock key ("STFL"): one flagger at a time across processes (each round is one transaction). */
const FLAGGER_LOCK = 0x5354464c;

const lookupActions = sql.join(LOOKUP_ACTIONS.map((a) => sql.lit(a)));

const WINDOWS = {
  lookup_burst: { ...flagParams.lookupBurst, matches: (e: Row) => LOOKUP_ACTIONS.includes(e.action as (typeof LOOKUP_ACTIONS)[number]), where: sql<SqlBool>`a.action in (${lookupActions})` },
  repeated_denials: { ...flagParams.repeatedDenials, matches: (e: Row) => e.outcome === "denied", where: sql<SqlBool>`a.outcome = 'denied'` },
} as const;

interface Row {
  chain_seq: number;
  seq: number;
  occurred_at: Date;
  actor_staff_id: string | null;
  action: string;
  outcome: string;
}

export interface FlagRound {
  leader: boolean;
  flagged: number;
  more: boolean;
}

async function windowFlag(trx: Kysely<DB>, flag: keyof typeof WINDOWS, rows: Row[]): Promise<void> {
  const rule = WINDOWS[flag];
  const ranges = new Map<string, { agent: string; tmin: Date; tmax: Date }>();
  for (const row of rows) {
    if (!row.actor_staff_id || !rule.matches(row)) continue;
    const r = ranges.get(row.actor_staff_id);
    if (!r) ranges.set(row.actor_staff_id, { agent: row.actor_staff_id, tmin: row.occurred_at, tmax: row.occurred_at });
    else {
      if (row.occurred_at < r.tmin) r.tmin = row.occurred_at;
      if (row.occurred_at > r.tmax) r.tmax = row.occurred_at;
    }
  }
  if (ranges.size === 0) return;
  const window = sql.lit(`${rule.minutes} minutes`);
  const json = JSON.stringify([...ranges.values()].map((r) => ({ agent: r.agent, tmin: r.tmin.toISOString(), tmax: r.tmax.toISOString() })));
  // Candidates: the agent's matching entries from this round's first on, up to M minutes past its last, not
  // flagged yet. Each is flagged when its window (t - M, t] holds at least `count` matching entries; the
  // count stops there, so an agent's long burst costs a few index rows per entry, not a recount of the burst.
  await sql`
    insert into audit_flag (flag, flagged_at, entry_seq)
    select ${flag}, c.occurred_at, c.seq
    from jsonb_to_recordset(${json}::jsonb) as r(agent text, tmin timestamptz, tmax timestamptz)
    cross join lateral (
      select a.seq, a.occurred_at from audit_log a
      where a.actor_staff_id = r.agent and ${rule.where} and a.occurred_at >= r.tmin and a.occurred_at < r.tmax + ${window}::interval
        and not exists (select 1 from audit_flag f where f.flag = ${flag} and f.entry_seq = a.seq)
      offset 0) c
    where (select count(*) from (
        select 1 from audit_log a
        where a.actor_staff_id = r.agent and ${rule.where} and a.occurred_at > c.occurred_at - ${window}::interval and a.occurred_at <= c.occurred_at
        order by a.occurred_at desc
        limit ${sql.lit(rule.count)}) n) >= ${sql.lit(rule.count)}
    on conflict do nothing`.execute(trx);
}

/**
 * This round's entries: the chain positions (through, last], each looked up by its (seq, occurred_at).
 * The LATERAL with its LIMIT keeps that join order: without fresh statistics (autovacuum off, or behind)
 * the planner would otherwise walk the whole log and probe the seals for each entry.
 */
function roundEntries(through: number, last: number) {
  return sql`audit_seal s cross join lateral (select * from audit_log a where a.seq = s.entry_seq and a.occurred_at = s.occurred_at limit 1) audit_log
    where s.chain_seq > ${sql.lit(through)} and s.chain_seq <= ${sql.lit(last)}`;
}

async function entryFlags(trx: Kysely<DB>, through: number, last: number): Promise<void> {
  const arms: RawBuilder<unknown>[] = ENTRY_FLAGS.map((flag) => sql`select ${sql.lit(flag)}, audit_log.occurred_at, audit_log.seq from ${roundEntries(through, last)} and ${entryFlagCondition(flag)}`);
  await sql`insert into audit_flag (flag, flagged_at, entry_seq) ${sql.join(arms, sql` union all `)} on conflict do nothing`.execute(trx);
}

/** The start screen's daily counts (migration 035): added once per entry, as the entry's flags are. */
async function activityCounts(trx: Kysely<DB>, through: number, last: number): Promise<void> {
  await sql`
    insert into audit_activity_day (day, actor_key, action, actor_email, n)
    select (audit_log.occurred_at at time zone 'UTC')::date, coalesce(audit_log.actor_staff_id, ''), audit_log.action, max(audit_log.actor_email), count(*)
    from ${roundEntries(through, last)}
    group by 1, 2, 3
    on conflict (day, actor_key, action) do update
      set n = audit_activity_day.n + excluded.n, actor_email = coalesce(excluded.actor_email, audit_activity_day.actor_email)`.execute(trx);
  await sql`
    insert into audit_staff_writes_quarter (bucket, n)
    select date_bin('15 minutes', audit_log.occurred_at, timestamptz '2000-01-01 00:00:00+00'), count(*)
    from ${roundEntries(through, last)} and ${staffWrite}
    group by 1
    on conflict (bucket) do update set n = audit_staff_writes_quarter.n + excluded.n`.execute(trx);
}

/** One round: the next `batchSize` sealed entries not yet flagged. Only the lock holder works. */
export async function flagRound(db: Kysely<DB>, options: { batchSize?: number } = {}): Promise<FlagRound> {
  const batchSize = options.batchSize ?? 5000;
  return db.transaction().execute(async (trx) => {
    const lock = await sql<{ leader: boolean }>`select pg_try_advisory_xact_lock(${sql.lit(FLAGGER_LOCK)}) as leader`.execute(trx);
    if (!lock.rows[0]?.leader) return { leader: false, flagged: 0, more: false };
    const state = await trx.selectFrom("audit_seal_state").select("flagged_through").where("id", "=", 1).executeTakeFirstOrThrow();
    // Few rows, each found through an index: no parallel workers, no scans on stale statistics, and no JIT
    // (the window flags' estimates, a row per agent taken as a hundred, made it compile for 280 ms a round).
    await sql`select set_config('max_parallel_workers_per_gather', '0', true), set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)`.execute(trx);
    const through = Number(state.flagged_through);
    const end = await sql<{ last: number | null }>`select max(chain_seq) as last from (select chain_seq from audit_seal where chain_seq > ${sql.lit(through)} order by chain_seq limit ${sql.lit(batchSize)}) c`.execute(trx);
    if (end.rows[0]?.last === null || end.rows[0]?.last === undefined) return { leader: true, flagged: 0, more: false };
    const upTo = Number(end.rows[0].last);
    const rows = (
      await sql<Row>`select s.chain_seq, audit_log.seq, audit_log.occurred_at, audit_log.actor_staff_id, audit_log.action, audit_log.outcome
        from ${roundEntries(through, upTo)} order by s.chain_seq`.execute(trx)
    ).rows;
    if (rows.length > 0) {
      await entryFlags(trx, through, upTo);
      await activityCounts(trx, through, upTo);
      await windowFlag(trx, "lookup_burst", rows);
      await windowFlag(trx, "repeated_denials", rows);
    }
    // Past the whole range even where a sealed entry is gone from the log (audit verify reports that): a
    // missing entry has nothing to flag, and must not hold up the flags of every entry after it.
    await trx.updateTable("audit_seal_state").set({ flagged_through: upTo }).where("id", "=", 1).execute();
    return { leader: true, flagged: rows.length, more: upTo - through >= batchSize };
  });
}

/** Flags every sealed entry not flagged yet (or returns when another process holds the flagger's lock). */
export async function flagPending(db: Kysely<DB>, options: { batchSize?: number } = {}): Promise<number> {
  let flagged = 0;
  for (;;) {
    const round = await flagRound(db, options);
    flagged += round.flagged;
    if (!round.leader || !round.more) return flagged;
  }
}
