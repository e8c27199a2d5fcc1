import { sql, type Kysely } from "kysely";
import type { AuditVerification, ChainBreak, ChainBreakReason } from "../../../shared/schemas/audit.js";
import type { DB } from "../db/schema.js";
import { chainLink, entryMac, GENESIS_HASH, sealedEntryHash, verifiedMac } from "./auditHash.js";
import { toAuditEntry, type AuditRow, type AuditSealRow } from "./auditRow.js";
import { checkpointSignatureValid, toCheckpoint } from "./checkpoints.js";
import type { AuditKeys } from "./sealKey.js";

export interface VerifyOptions {
  /** incremental (default): from the head the last intact verify recorded; full: from the first entry. */
  mode?: "full" | "incremental";
  /** Called after each batch with sealed entries checked so far and how many there are to check. */
  onProgress?: (checked: number, total: number) => void;
  batchSize?: number;
  /** Heads recorded elsewhere (exported checkpoints, an earlier verify): the chain must still pass through them. */
  anchors?: { chainSeq: number; hash: string }[];
  /** Breaks listed at most (the rest are counted as truncated). */
  maxBreaks?: number;
  /** Record an intact result as the next incremental verify's starting point (default true). */
  record?: boolean;
  now?: () => Date;
}

const MARK_CANDIDATES = 20;

/** The newest head an earlier verify found intact, if its MAC holds and the chain still has it. */
async function lastGoodHead(db: Kysely<DB>, keys: AuditKeys): Promise<{ chainSeq: number; hash: string } | null> {
  const marks = await db.selectFrom("audit_verified").selectAll().orderBy("chain_seq", "desc").limit(MARK_CANDIDATES).execute();
  for (const mark of marks) {
    if (verifiedMac(keys, { chainSeq: mark.chain_seq, headHash: mark.head_hash, verifiedAt: mark.verified_at.toISOString() }) !== mark.mac) continue;
    const seal = await db.selectFrom("audit_seal").select("hash").where("chain_seq", "=", mark.chain_seq).executeTakeFirst();
    if (seal?.hash === mark.head_hash) return { chainSeq: mark.chain_seq, hash: mark.head_hash };
  }
  return null;
}

/** The audit_log rows a batch of seals points at, by seq (a range when the seqs are close, else a list). */
async function rowsFor(db: Kysely<DB>, seals: AuditSealRow[]): Promise<Map<number, AuditRow>> {
  const seqs = seals.map((s) => s.entry_seq);
  const min = Math.min(...seqs);
  const max = Math.max(...seqs);
  const query = db.selectFrom("audit_log").selectAll();
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: range or list is the planner's choice; the map by seq holds the same rows either way
  const rows = max - min < seqs.length * 4 ? await query.where("seq", ">=", min).where("seq", "<=", max).execute() : await query.where("seq", "in", seqs).execute();
  return new Map(rows.map((r) => [r.seq, r]));
}

/**
 * Walks the sealed chain in keyset batches (memory stays flat at any size) and checks, for every position:
 * the link MAC (a rewritten or re-linked seal needs the key), the link to the position before (removed or
 * moved seals), the entry the seal names (deleted, moved, or changed since it was sealed), and the entry's
 * own MAC (a row inserted by someone without the key). It does not stop at a break: the next position is
 * checked against what is stored, so every break is listed. Afterwards, rows outside the chain are either
 * waiting for the sealer or, without a valid MAC, inserted by someone else.
 */
export async function verifyAuditChain(db: Kysely<DB>, keys: AuditKeys, options: VerifyOptions = {}): Promise<AuditVerification> {
  const batchSize = options.batchSize ?? 2000;
  const maxBreaks = options.maxBreaks ?? 1000;
  const start = options.mode === "full" ? null : await lastGoodHead(db, keys);
  const mode = start ? "incremental" : "full";
  const fromSeq = start?.chainSeq ?? 0;
  const legacy = await db.selectFrom("audit_legacy").select("head_seq").executeTakeFirst();
  const legacyHead = legacy?.head_seq ?? 0;
  // An aggregate always returns its one row (seq null on an empty chain).
  const head = await db.selectFrom("audit_seal").select(({ fn }) => fn.max("chain_seq").as("seq")).executeTakeFirstOrThrow();
  const headSeq = Number(head.seq ?? 0);
  const total = Math.max(0, headSeq - fromSeq);

  const anchors = new Map<number, { hash: string; source: string }>();
  for (const a of options.anchors ?? []) anchors.set(a.chainSeq, { hash: a.hash, source: "the anchor given" });
  const breaks: ChainBreak[] = [];
  let truncated = false;
  const report = (b: { brokenAt: number | null; chainSeq: number | null; entryId: string | null }, reason: ChainBreakReason, detail: string) => {
    if (breaks.length < maxBreaks) breaks.push({ ...b, reason, detail });
    else truncated = true;
  };
  // The database's own checkpoints: a bad signature is a forged checkpoint; a good one is one more anchor.
  for (const row of await db.selectFrom("audit_checkpoint").selectAll().where("chain_seq", ">", fromSeq).orderBy("chain_seq").execute()) {
    const cp = toCheckpoint(row);
    if (checkpointSignatureValid(keys.publicKey, cp)) {
      if (!anchors.has(cp.chainSeq)) anchors.set(cp.chainSeq, { hash: cp.headHash, source: `checkpoint ${cp.chainSeq}` });
    } else {
      report({ brokenAt: null, chainSeq: cp.chainSeq, entryId: null }, "inserted", `checkpoint at chain position ${cp.chainSeq} does not carry a valid signature`);
    }
  }

  // Anchors at or before the starting head are not walked past: each is checked against its seal directly.
  for (const [chainSeq, anchor] of anchors) {
    if (chainSeq > fromSeq) continue;
    const seal = await db.selectFrom("audit_seal").select(["hash", "entry_seq", "entry_id"]).where("chain_seq", "=", chainSeq).executeTakeFirst();
    if (!seal) report({ brokenAt: null, chainSeq, entryId: null }, "deleted", `chain position ${chainSeq}, recorded by ${anchor.source}, is missing`);
    else if (seal.hash !== anchor.hash) report({ brokenAt: seal.entry_seq, chainSeq, entryId: seal.entry_id }, "changed", `chain position ${chainSeq} no longer has the head recorded by ${anchor.source}`);
  }

  let prevSeq = fromSeq;
  let prevHash = start?.hash ?? GENESIS_HASH;
  let checked = 0;
  let present = 0;
  let previousBroken = false;
  for (;;) {
    const seals = await db.selectFrom("audit_seal").selectAll().where("chain_seq", ">", prevSeq).orderBy("chain_seq").limit(batchSize).execute();
    if (seals.length === 0) break;
    const rows = await rowsFor(db, seals);
    for (const seal of seals) {
      const at = { brokenAt: seal.entry_seq, chainSeq: seal.chain_seq, entryId: seal.entry_id };
      const expected = prevSeq + 1;
      if (seal.chain_seq > expected) {
        const span = seal.chain_seq - 1 === expected ? `chain position ${expected} is` : `chain positions ${expected}–${seal.chain_seq - 1} are`;
        report({ brokenAt: null, chainSeq: expected, entryId: null }, "deleted", `${span} missing: sealed entries were removed with their seals`);
      }
      const breaksBefore = breaks.length;
      // One break per position, the most telling first: the seal itself, its link, an anchor, then its entry.
      const anchor = anchors.get(seal.chain_seq);
      if (!linkValid(keys, seal)) {
        const from = originalPosition(keys, seal);
        if (from !== null) report(at, "reordered", `the seal of entry ${seal.entry_seq} was moved from chain position ${from} to ${seal.chain_seq}`);
        else report(at, "changed", `the seal of entry ${seal.entry_seq} at chain position ${seal.chain_seq} was rewritten: its MAC does not verify`);
      } else if (seal.prev_hash !== prevHash && seal.chain_seq === expected && !previousBroken) {
        report(at, "reordered", `entry ${seal.entry_seq} was sealed after a different entry than the one now before it at chain position ${seal.chain_seq}`);
      } else if (anchor && anchor.hash !== seal.hash) {
        report(at, "changed", `chain position ${seal.chain_seq} no longer has the head recorded by ${anchor.source}`);
      } else if (await checkEntry(db, keys, seal, rows.get(seal.entry_seq), legacyHead, at, report)) {
        present++;
      }
      // A link to a broken position says nothing new about this one.
      previousBroken = breaks.length > breaksBefore || seal.chain_seq > expected;
      prevSeq = seal.chain_seq;
      prevHash = seal.hash;
      checked++;
    }
    options.onProgress?.(checked, Math.max(total, checked));
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a short batch is the last; without this the next query finds none and ends the walk
    if (seals.length < batchSize) break;
  }
  for (const [chainSeq, anchor] of anchors) {
    if (chainSeq > prevSeq) report({ brokenAt: null, chainSeq, entryId: null }, "deleted", `the chain ends at position ${prevSeq}, before position ${chainSeq} recorded by ${anchor.source}`);
  }

  const unsealed = await outsideTheChain(db, keys, mode === "full" ? { present } : null, legacyHead, report);
  const result: AuditVerification = { ok: breaks.length === 0 && !truncated, mode, fromSeq, entries: checked, headSeq: prevSeq || null, headHash: prevHash, unsealed, breaks, truncated };
  if (result.ok && prevSeq > 0 && options.record !== false) {
    const verifiedAt = (options.now?.() ?? new Date()).toISOString();
    await db.insertInto("audit_verified").values({ chain_seq: prevSeq, head_hash: prevHash, verified_at: verifiedAt, mac: verifiedMac(keys, { chainSeq: prevSeq, headHash: prevHash, verifiedAt }) }).execute();
  }
  return result;
}

function linkValid(keys: AuditKeys, seal: AuditSealRow, chainSeq = seal.chain_seq): boolean {
  return chainLink(keys, { chainSeq, prevHash: seal.prev_hash, entrySeq: seal.entry_seq, entryId: seal.entry_id, entryHash: seal.entry_hash }) === seal.hash;
}

const MOVED_SEARCH = 256;

/** Where a seal whose MAC fails at its position was made, if it was made nearby (failure path only). */
function originalPosition(keys: AuditKeys, seal: AuditSealRow): number | null {
  for (let d = 1; d <= MOVED_SEARCH; d++) {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: no link is valid at a position below 1 (its MAC covers the position), so the bound only saves MACs
    for (const at of [seal.chain_seq - d, seal.chain_seq + d]) if (at > 0 && linkValid(keys, seal, at)) return at;
  }
  return null;
}

type Report = (at: { brokenAt: number | null; chainSeq: number | null; entryId: string | null }, reason: ChainBreakReason, detail: string) => void;

/** The entry a (valid) seal names must still be there, unchanged, at that seq, with a MAC made by Steward. */
/** Returns whether the sealed entry is present at its seq (for the full verify's count of rows outside the chain). */
async function checkEntry(db: Kysely<DB>, keys: AuditKeys, seal: AuditSealRow, row: AuditRow | undefined, legacyHead: number, at: Parameters<Report>[0], report: Report): Promise<boolean> {
  if (!row || row.id !== seal.entry_id) {
    const moved = await db.selectFrom("audit_log").select("seq").where("id", "=", seal.entry_id).executeTakeFirst();
    if (moved) report(at, "reordered", `entry ${seal.entry_seq} (sealed at chain position ${seal.chain_seq}) was moved to seq ${moved.seq}`);
    else report(at, "deleted", `entry ${seal.entry_seq} was sealed at chain position ${seal.chain_seq} and is no longer in the log`);
    return false;
  }
  const entry = toAuditEntry(row);
  if (sealedEntryHash(entry) !== seal.entry_hash) {
    report(at, "changed", `entry ${entry.seq} was changed after it was sealed: its content no longer matches its seal`);
    return true;
  }
  const forged = macProblem(keys, entry, legacyHead);
  if (forged) report(at, "inserted", `entry ${entry.seq} ${forged}: it was not written by Steward`);
  return true;
}

function macProblem(keys: AuditKeys, entry: ReturnType<typeof toAuditEntry>, legacyHead: number): string | null {
  if (entry.mac === null) return entry.seq <= legacyHead ? null : "carries no MAC";
  return entryMac(keys, entry) === entry.mac ? null : "carries a MAC that does not verify";
}

const OUTSIDE_LISTED = 1000;

/**
 * Rows no seal names. A full verify compares the row count with the sealed rows it found first and only then looks for them (an anti-join over
 * the whole table); an incremental one looks only at rows the sealer has not passed yet.
 */
async function outsideTheChain(db: Kysely<DB>, keys: AuditKeys, full: { present: number } | null, legacyHead: number, report: Report): Promise<number> {
  let query = db
    .selectFrom("audit_log as a")
    .selectAll("a")
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom("audit_seal as s").select("s.chain_seq").whereRef("s.entry_seq", "=", "a.seq"))));
  if (full) {
    // Every row the walk found under its seal is accounted for; only a surplus needs the anti-join.
    const count = await db.selectFrom("audit_log").select(({ fn }) => fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    if (Number(count.n) === full.present) return 0;
  } else {
    const state = await db.selectFrom("audit_seal_state").select("horizon").executeTakeFirstOrThrow();
    query = query.where(sql<boolean>`a.tx >= ${state.horizon}::xid8`);
  }
  const rows = await query.orderBy("a.seq").limit(OUTSIDE_LISTED).execute();
  let unsealed = 0;
  for (const row of rows) {
    const entry = toAuditEntry(row);
    const forged = macProblem(keys, entry, legacyHead);
    if (forged) report({ brokenAt: entry.seq, chainSeq: null, entryId: entry.id }, "inserted", `entry ${entry.seq} ${forged}: it was not written by Steward`);
    else unsealed++;
  }
  return unsealed;
}
