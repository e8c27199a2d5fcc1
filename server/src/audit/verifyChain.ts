import type { Kysely } from "kysely";
import type { AuditVerification, ChainBreakReason } from "../../../shared/schemas/audit.js";
import type { DB } from "../db/schema.js";
import { GENESIS_HASH, hashAuditEntry } from "./auditHash.js";
import { toAuditEntry, type AuditRow } from "./auditRow.js";

export interface VerifyOptions {
  /** Called after each batch with entries checked so far and the head seq (seq is gap-free, so it is the total). */
  onProgress?: (checked: number, total: number) => void;
  batchSize?: number;
  /** A head recorded earlier ({seq, hash} from a previous verify): catches the tail being cut off or rewritten. */
  anchor?: { seq: number; hash: string };
}

type Break = { brokenAt: number; entryId: string | null; reason: ChainBreakReason; detail: string };

/** Where a link points: the seq of the entry whose hash a row's prev_hash names (scan, on the failure path only). */
async function seqWithHash(db: Kysely<DB>, hash: string): Promise<{ seq: number; id: string } | undefined> {
  if (hash === GENESIS_HASH) return { seq: 0, id: "genesis" };
  return db.selectFrom("audit_log").select(["seq", "id"]).where("hash", "=", hash).limit(1).executeTakeFirst();
}

interface Checked {
  row: AuditRow;
  /** The stored hash matches the row's content. */
  intact: boolean;
}

/**
 * Works out what happened at the first link that does not hold, from the row, the previous row
 * (which verified) and, when needed, the next row and the entry the link points at.
 */
async function classify(db: Kysely<DB>, current: Checked, previous: Checked | null, expectedSeq: number): Promise<Break> {
  const { row, intact } = current;
  const expectedPrev = previous?.row.hash ?? GENESIS_HASH;
  const at = (seq: number, id: string | null, reason: ChainBreakReason, detail: string): Break => ({ brokenAt: seq, entryId: id, reason, detail });

  if (row.seq < expectedSeq) return at(row.seq, row.id, "inserted", `entry ${row.seq} comes before the first entry of the chain`);
  if (row.prev_hash !== expectedPrev) {
    const target = await seqWithHash(db, row.prev_hash);
    if (row.seq > expectedSeq) {
      if (target && target.seq > row.seq) {
        return at(expectedSeq, target.id, "reordered", `entry ${row.seq} links to entry ${target.seq}, which was moved there from seq ${expectedSeq}`);
      }
      const missing = row.seq - 1 === expectedSeq ? `entry ${expectedSeq} is missing` : `entries ${expectedSeq}–${row.seq - 1} are missing`;
      return at(expectedSeq, null, "deleted", `${missing}: entry ${row.seq} links to an entry no longer in the log`);
    }
    if (target && target.seq > row.seq) {
      return at(row.seq, row.id, "reordered", `entry ${row.seq} links to entry ${target.seq}, which now comes after it`);
    }
    if (target && previous && target.seq < previous.row.seq) {
      return at(previous.row.seq, previous.row.id, "inserted", `entry ${row.seq} links to entry ${target.seq}: entry ${previous.row.seq} was not in the chain`);
    }
    if (intact && previous) {
      return at(previous.row.seq, previous.row.id, "changed", `entry ${previous.row.seq} was rewritten (hash recomputed): entry ${row.seq} recorded a different hash for it`);
    }
    return at(row.seq, row.id, "changed", `entry ${row.seq} does not link to entry ${row.seq - 1} and its hash does not match its content`);
  }
  if (row.seq > expectedSeq) return at(expectedSeq, null, "changed", `entry ${row.seq} links to entry ${expectedSeq - 1} but its seq skips ${expectedSeq}`);
  // Linked correctly, but the content no longer matches the hash.
  const next = await db.selectFrom("audit_log").select(["seq", "prev_hash"]).where("seq", ">", row.seq).orderBy("seq", "asc").limit(1).executeTakeFirst();
  if (next && next.prev_hash === expectedPrev && next.prev_hash !== row.hash) {
    return at(row.seq, row.id, "inserted", `entry ${next.seq} links past entry ${row.seq}, which was not in the chain`);
  }
  return at(row.seq, row.id, "changed", `entry ${row.seq} was changed after it was written: its content no longer matches its hash`);
}

/** Walks the whole chain in seq order, in keyset batches, and reports the first broken link. */
export async function verifyAuditChain(db: Kysely<DB>, options: VerifyOptions = {}): Promise<AuditVerification> {
  const batchSize = options.batchSize ?? 2000;
  const head = await db.selectFrom("audit_log").select(({ fn }) => fn.max("seq").as("seq")).executeTakeFirst();
  const total = Number(head?.seq ?? 0);
  let previous: Checked | null = null;
  let checked = 0;
  let anchorSeen = false;
  // Counts only entries before the break (a rewrite is sometimes seen one entry later).
  const broken = (b: Break): AuditVerification => ({ ok: false, entries: Math.min(checked, b.brokenAt - 1), ...b });

  for (;;) {
    const rows = await db
      .selectFrom("audit_log")
      .selectAll()
      .where("seq", ">", previous?.row.seq ?? Number.MIN_SAFE_INTEGER)
      .orderBy("seq", "asc")
      .limit(batchSize)
      .execute();
    for (const row of rows) {
      const current: Checked = { row, intact: hashAuditEntry(toAuditEntry(row)) === row.hash };
      const expectedSeq = (previous?.row.seq ?? 0) + 1;
      if (!current.intact || row.prev_hash !== (previous?.row.hash ?? GENESIS_HASH) || row.seq !== expectedSeq) {
        return broken(await classify(db, current, previous, expectedSeq));
      }
      if (options.anchor && row.seq === options.anchor.seq) {
        if (row.hash !== options.anchor.hash) {
          return broken({ brokenAt: row.seq, entryId: row.id, reason: "changed", detail: `entry ${row.seq} no longer has the anchored hash ${options.anchor.hash}` });
        }
        anchorSeen = true;
      }
      previous = current;
      checked++;
    }
    options.onProgress?.(checked, Math.max(total, checked));
    if (rows.length < batchSize) break;
  }
  if (options.anchor && !anchorSeen) {
    const last = previous?.row.seq ?? 0;
    return broken({ brokenAt: last + 1, entryId: null, reason: "deleted", detail: `the log ends at entry ${last}, before the anchored entry ${options.anchor.seq}` });
  }
  return { ok: true, entries: checked, headSeq: previous?.row.seq ?? null, headHash: previous?.row.hash ?? GENESIS_HASH };
}
