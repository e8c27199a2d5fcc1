import { sql, type Kysely, type Selectable, type Transaction } from "kysely";
import type { DB } from "../db/schema.js";
import { chainLink, GENESIS_HASH, sealedEntryHash } from "./auditHash.js";
import { toAuditEntry } from "./auditRow.js";
import { signCheckpoint, type AuditCheckpoint } from "./checkpoints.js";
import type { AuditKeys } from "./sealKey.js";

/** Advisory lock key ("STES"): the one sealer at a time, across every Steward process on the database. */
export const AUDIT_SEALER_LOCK = 0x53544553;

export interface SealOptions {
  /** Entries sealed per round at most (the rest follow in the next round, at once). */
  batchSize?: number;
  /** A checkpoint after this many entries… */
  checkpointEvery?: number;
  /** …or this long after the last one, if the chain grew. */
  checkpointIntervalMs?: number;
  now?: () => Date;
  /** Where the previous round of a catch-up stopped (its SealRound.resume): see sealRound. */
  resume?: SealResume;
}

/**
 * A full round's last sealed seq and its snapshot xmin. Every entry still unsealed after that round was
 * either visible to it and after its last seq (it took the visible ones in seq order), or invisible to it
 * and so written by a transaction at or above its xmin. The next round reads only those two ranges.
 */
export interface SealResume {
  afterSeq: number;
  xmin: string;
}

export interface SealRound {
  /** False when another sealer held the lock: this round did nothing. */
  leader: boolean;
  sealed: number;
  headSeq: number;
  /** More entries are waiting (the batch was full). */
  more: boolean;
  checkpoint: AuditCheckpoint | null;
  /** With `more`: where the next round may start (pass it as SealOptions.resume). */
  resume?: SealResume;
}

const INSERT_CHUNK = 1000;

/**
 * One sealing round, in one transaction, only by the holder of the advisory lock (the others return at
 * once): chains every entry committed since the last round, as read back from the database.
 *
 * Finding them without a scan: each row carries its inserting transaction id (tx). A row not visible to
 * the previous round belonged to a transaction that had not finished then, so its tx is at or above that
 * round's snapshot xmin (the horizon kept in audit_seal_state). Rows at or above the horizon that are not
 * sealed yet are exactly the new ones; they are chained in the order they became visible (round by round,
 * i.e. commit order), and within a round by seq.
 */
export async function sealRound(db: Kysely<DB>, keys: AuditKeys, options: SealOptions = {}): Promise<SealRound> {
  const batchSize = options.batchSize ?? 5000;
  const now = options.now ?? (() => new Date());
  return db.transaction().execute(async (trx) => {
    const lock = await sql<{ leader: boolean }>`select pg_try_advisory_xact_lock(${sql.lit(AUDIT_SEALER_LOCK)}) as leader`.execute(trx);
    if (!lock.rows[0]?.leader) return { leader: false, sealed: 0, headSeq: 0, more: false, checkpoint: null };
    // One round trip for where the round starts. Only after the lock: a statement's snapshot predates what
    // it locks, so a head read in the locking statement could miss the previous leader's last seals.
    // The xmin is taken before the rows are read: anything not visible to that read is from a transaction at or above it.
    const start = await sql<{ xmin: string; plan: string; horizon: string | null; head_seq: number | null; head_hash: string | null; checkpoint_seq: number | null; checkpoint_at: Date | null }>`
      select pg_snapshot_xmin(pg_current_snapshot())::text as xmin,
        -- The new entries are few and found through the tx index; without fresh statistics on the month's
        -- partition (autovacuum off, or behind) the planner would scan the whole month and hash every
        -- seal instead; and starting parallel workers, or compiling the plan (JIT, which a catch-up's
        -- estimates would trigger: ~70 ms a round), would cost more than the few rows. All for this
        -- transaction only.
        set_config('enable_seqscan', 'off', true) || set_config('max_parallel_workers_per_gather', '0', true) || set_config('jit', 'off', true) as plan,
        (select horizon::text from audit_seal_state where id = 1) as horizon,
        h.chain_seq as head_seq, h.hash as head_hash, c.chain_seq as checkpoint_seq, c.created_at as checkpoint_at
      from (select 1) as one
      left join lateral (select chain_seq, hash from audit_seal order by chain_seq desc limit 1) h on true
      left join lateral (select chain_seq, created_at from audit_checkpoint order by chain_seq desc limit 1) c on true`.execute(trx);
    const first = start.rows[0];
    if (!first?.horizon) throw new Error("audit_seal_state has no row (migration 010 creates it)");
    const horizonNow = first.xmin;
    const state = { horizon: first.horizon };
    const head = first.head_seq !== null && first.head_hash !== null ? { chain_seq: Number(first.head_seq), hash: first.head_hash } : undefined;
    const lastCheckpoint = first.checkpoint_seq !== null && first.checkpoint_at !== null ? { chain_seq: Number(first.checkpoint_seq), created_at: new Date(first.checkpoint_at) } : undefined;
    const read = options.resume ? await resumedRead(trx, state.horizon, options.resume, batchSize) : { rows: await unsealed(trx, state.horizon, batchSize), more: undefined, afterSeq: undefined };
    const rows = read.rows;

    let chainSeq = head?.chain_seq ?? 0;
    let prevHash = head?.hash ?? GENESIS_HASH;
    const seals = rows.map((row) => {
      const entry = toAuditEntry(row);
      chainSeq += 1;
      const entryHash = sealedEntryHash(entry);
      const hash = chainLink(keys, { chainSeq, prevHash, entrySeq: entry.seq, entryId: entry.id, entryHash });
      const seal = { chain_seq: chainSeq, entry_seq: entry.seq, entry_id: entry.id, occurred_at: row.occurred_at, entry_hash: entryHash, prev_hash: prevHash, hash };
      prevHash = hash;
      return seal;
    });
    for (let i = 0; i < seals.length; i += INSERT_CHUNK) await trx.insertInto("audit_seal").values(seals.slice(i, i + INSERT_CHUNK)).execute();
    const more = read.more ?? rows.length === batchSize;
    // A full batch may have left visible rows behind: keep the old horizon until a round takes them all.
    if (!more && horizonNow !== state.horizon) await trx.updateTable("audit_seal_state").set({ horizon: horizonNow }).where("id", "=", 1).execute();
    const checkpoint = chainSeq > 0 ? await maybeCheckpoint(trx, keys, lastCheckpoint, { chainSeq, headHash: prevHash }, now(), options) : null;
    const afterSeq = read.afterSeq ?? rows.at(-1)?.seq;
    return { leader: true, sealed: seals.length, headSeq: chainSeq, more, checkpoint, ...(more && afterSeq !== undefined ? { resume: { afterSeq, xmin: horizonNow } } : {}) };
  });
}

type AuditLogRow = Selectable<DB["audit_log"]>;

/** Unsealed entries at or above the horizon (found through the tx index), in seq order; `upTo`: only those with seq at most `seq` and tx at or above `xmin`. */
async function unsealed(trx: Transaction<DB>, horizon: string, batchSize: number, upTo?: { seq: number; xmin: string }): Promise<AuditLogRow[]> {
  // In tx order first: that order can only come from the tx index, so the read costs the new rows, whatever
  // the statistics. In seq order, a month's partition never analyzed (autovacuum off or behind) was planned
  // as a walk of its whole seq index, filtering tx: ~0.9 s a round at 400k entries, growing all month.
  const byTx = await unsealedQuery(trx, { horizon, batchSize, upTo, order: "tx" }).execute();
  if (byTx.length < batchSize) return byTx.sort((x, y) => x.seq - y.seq);
  // A full batch must be the lowest seqs (a resumed round relies on it): a backlog, read in seq order.
  return unsealedQuery(trx, { horizon, batchSize, upTo, order: "seq" }).execute();
}

/** The read of unsealed entries, in the given order (exported for the plan test). */
export function unsealedQuery(trx: Transaction<DB>, options: { horizon: string; batchSize: number; upTo?: { seq: number; xmin: string } | undefined; order: "tx" | "seq" }) {
  let query = trx.selectFrom("audit_log as a").selectAll("a").where(sql<boolean>`a.tx >= ${options.horizon}::xid8`);
  if (options.upTo) query = query.where("a.seq", "<=", options.upTo.seq).where(sql<boolean>`a.tx >= ${options.upTo.xmin}::xid8`);
  return query
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom("audit_seal as s").select("s.chain_seq").whereRef("s.entry_seq", "=", "a.seq"))))
    .orderBy(`a.${options.order}`)
    .limit(options.batchSize);
}

/**
 * A catch-up round's read. The horizon stays put until the backlog is gone, so "unsealed at or above the
 * horizon" would step over every entry already sealed since, on every round (quadratic: hours for a 10M
 * backlog). It reads on instead:
 * - the next batchSize entries by seq after the last round's, each marked whether it still needs a seal
 *   (a plain ordered index read, whatever the statistics say: with the check inside the LIMIT, a backlog
 *   without fresh statistics was planned as a scan and sort of every entry, 30 s a round at 10M);
 * - the entries committed since the last round's snapshot with a seq at or below where it stopped.
 * `more` is true while the window was full, even if everything in it was sealed already, and the next
 * round goes on after the last entry read, or taken when the batch filled first.
 */
async function resumedRead(trx: Transaction<DB>, horizon: string, resume: SealResume, batchSize: number): Promise<{ rows: AuditLogRow[]; more: boolean; afterSeq: number }> {
  const window = await trx
    .selectFrom(trx.selectFrom("audit_log as a").selectAll("a").where("a.seq", ">", resume.afterSeq).orderBy("a.seq").limit(batchSize).as("c"))
    .selectAll("c")
    .select(sql<boolean>`c.tx >= ${horizon}::xid8 and not exists (select 1 from audit_seal s where s.entry_seq = c.seq)`.as("pending"))
    .orderBy("c.seq")
    .execute();
  const since = await unsealed(trx, horizon, batchSize, { seq: resume.afterSeq, xmin: resume.xmin });
  const later = window.filter((r) => r.pending).map(({ pending: _, ...row }) => row as AuditLogRow);
  // Late commits first: every one of them has a lower seq than the window's.
  const all = [...since, ...later];
  if (all.length >= batchSize) {
    const rows = all.slice(0, batchSize);
    // Possibly below where the last round stopped (late commits filled the batch): the window then reads
    // those left over again, as it reads every entry after afterSeq.
    return { rows, more: true, afterSeq: rows.at(-1)?.seq ?? resume.afterSeq };
  }
  return { rows: all, more: window.length === batchSize, afterSeq: window.at(-1)?.seq ?? resume.afterSeq };
}

/** `last` is the newest checkpoint, read with the round's start (only the lock holder writes checkpoints). */
async function maybeCheckpoint(
  trx: Transaction<DB>,
  keys: AuditKeys,
  last: { chain_seq: number; created_at: Date } | undefined,
  head: { chainSeq: number; headHash: string },
  at: Date,
  options: SealOptions,
): Promise<AuditCheckpoint | null> {
  if (last && last.chain_seq >= head.chainSeq) return null;
  const due = !last || head.chainSeq - last.chain_seq >= (options.checkpointEvery ?? 10_000) || at.getTime() - last.created_at.getTime() >= (options.checkpointIntervalMs ?? 60_000);
  if (!due) return null;
  const cp = signCheckpoint(keys, { chainSeq: head.chainSeq, headHash: head.headHash, entryCount: head.chainSeq, createdAt: at.toISOString() });
  await trx
    .insertInto("audit_checkpoint")
    .values({ chain_seq: cp.chainSeq, head_hash: cp.headHash, entry_count: cp.entryCount, created_at: cp.createdAt, key_id: cp.keyId, signature: cp.signature })
    .execute();
  return cp;
}

/** Seals until nothing committed is left unsealed (or another sealer holds the lock). */
export async function sealPending(db: Kysely<DB>, keys: AuditKeys, options: SealOptions = {}): Promise<{ sealed: number; checkpoints: AuditCheckpoint[]; leader: boolean }> {
  let sealed = 0;
  const checkpoints: AuditCheckpoint[] = [];
  let resume = options.resume;
  for (;;) {
    const round = await sealRound(db, keys, { ...options, resume });
    resume = round.resume;
    sealed += round.sealed;
    if (round.checkpoint) checkpoints.push(round.checkpoint);
    if (!round.leader || !round.more) return { sealed, checkpoints, leader: round.leader };
  }
}

/** Keeps this month's and next month's partitions ready, so no append has to create one (there is no default partition). */
export async function ensureAuditPartitions(db: Kysely<DB>, at: Date): Promise<void> {
  const next = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
  for (const month of [at, next]) await sql`select audit_log_add_month(${month.toISOString().slice(0, 10)}::date)`.execute(db);
}
