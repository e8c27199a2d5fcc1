import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from "kysely";
import type { AuditEntry } from "../../../shared/audit.js";
import type { AuditFilters } from "../../../shared/schemas/audit.js";
import { roleAtLeast, type PanelRole } from "../../../shared/roles.js";
import type { DB } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import { toAuditEntry } from "./auditRow.js";

/**
 * Audit log search: every filter is an equality on an indexed column, always ordered by seq desc, and
 * pages continue below the last seq seen (keyset). New entries only ever get higher seqs, so paging
 * down never repeats or skips an entry while others are being written.
 */
/**
 * Which entries a reader may see: operations and admin see all; support agents (read-only and full)
 * see entries of their own actions and of tickets they acted on.
 */
export type AuditVisibility = { kind: "all" } | { kind: "own"; staffId: string };

export function auditVisibilityFor(actor: { staffId: string; panelRole: PanelRole }): AuditVisibility {
  return roleAtLeast(actor.panelRole, "operations") ? { kind: "all" } : { kind: "own", staffId: actor.staffId };
}

function visible(eb: ExpressionBuilder<DB, "audit_log">, visibility: AuditVisibility): Expression<SqlBool>[] {
  if (visibility.kind === "all") return [];
  const myTickets = eb.selectFrom("audit_log as mine").select("mine.ticket_id").where("mine.actor_staff_id", "=", visibility.staffId).where("mine.ticket_id", "is not", null);
  return [eb.or([eb("actor_staff_id", "=", visibility.staffId), eb("ticket_id", "in", myTickets)])];
}

interface SeqBounds {
  belowSeq?: number;
  minSeq?: number;
  maxSeq?: number;
}

function conditions(eb: ExpressionBuilder<DB, "audit_log">, filters: AuditFilters, bounds: SeqBounds): Expression<SqlBool>[] {
  const where: Expression<SqlBool>[] = [];
  if (filters.actor) {
    if (filters.actor.includes("@")) {
      where.push(eb("actor_email", "is not", null), eb(sql<string>`lower(actor_email)`, "=", filters.actor.toLowerCase()));
    } else {
      where.push(eb("actor_staff_id", "=", filters.actor));
    }
  }
  if (filters.action) where.push(eb("action", "=", filters.action));
  if (filters.targetAccountId) where.push(eb("target_account_id", "=", filters.targetAccountId));
  if (filters.targetUserId) where.push(eb("target_id", "=", filters.targetUserId), eb("target_type", "=", "user"));
  if (filters.ticketId) where.push(eb("ticket_id", "=", filters.ticketId));
  if (filters.outcome) where.push(eb("outcome", "=", filters.outcome));
  if (filters.from) where.push(eb("occurred_at", ">=", new Date(filters.from)));
  if (filters.to) where.push(eb("occurred_at", "<", new Date(filters.to)));
  if (bounds.belowSeq !== undefined) where.push(eb("seq", "<", bounds.belowSeq));
  if (bounds.minSeq !== undefined) where.push(eb("seq", ">=", bounds.minSeq));
  if (bounds.maxSeq !== undefined) where.push(eb("seq", "<=", bounds.maxSeq));
  return where;
}

/**
 * occurred_at never decreases along seq (appendAudit guarantees it), so a time window is a seq range:
 * two index probes turn it into bounds every filter's (column, seq) index can use. null: nothing in the window.
 */
async function timeWindowSeqs(db: Kysely<DB>, filters: AuditFilters): Promise<Pick<SeqBounds, "minSeq" | "maxSeq"> | null> {
  const bounds: Pick<SeqBounds, "minSeq" | "maxSeq"> = {};
  if (filters.from) {
    const first = await db.selectFrom("audit_log").select("seq").where("occurred_at", ">=", new Date(filters.from)).orderBy("occurred_at", "asc").orderBy("seq", "asc").limit(1).executeTakeFirst();
    if (!first) return null;
    bounds.minSeq = first.seq;
  }
  if (filters.to) {
    const last = await db.selectFrom("audit_log").select("seq").where("occurred_at", "<", new Date(filters.to)).orderBy("occurred_at", "desc").orderBy("seq", "desc").limit(1).executeTakeFirst();
    if (!last) return null;
    bounds.maxSeq = last.seq;
  }
  return bounds;
}

const CURSOR_PREFIX = "seq:";

export function encodeCursor(seq: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${seq}`).toString("base64url");
}

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, "base64url").toString();
  const seq = Number(text.slice(CURSOR_PREFIX.length));
  if (!text.startsWith(CURSOR_PREFIX) || !Number.isSafeInteger(seq) || seq < 1) {
    throw Problem.badRequest("The cursor is not one this API returned", [{ field: "query.cursor", reason: "unknown cursor; pass nextCursor from the previous page" }]);
  }
  return seq;
}

/** One page, newest first. `nextCursor` is null when nothing older matches. */
export async function searchAudit(
  db: Kysely<DB>,
  filters: AuditFilters,
  page: { cursor?: string; limit: number },
  visibility: AuditVisibility = { kind: "all" },
): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
  const belowSeq = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const window = await timeWindowSeqs(db, filters);
  if (!window) return { entries: [], nextCursor: null };
  const rows = await db
    .selectFrom("audit_log")
    .selectAll()
    .where((eb) => eb.and([...conditions(eb, filters, { belowSeq, ...window }), ...visible(eb, visibility)]))
    .orderBy("seq", "desc")
    .limit(page.limit + 1)
    .execute();
  const entries = rows.slice(0, page.limit).map(toAuditEntry);
  const last = entries.at(-1);
  return { entries, nextCursor: rows.length > page.limit && last ? encodeCursor(last.seq) : null };
}

/** The matching entries at or below `throughSeq`, newest first, one keyset batch at a time (for streaming export). */
export async function* auditBatches(
  db: Kysely<DB>,
  filters: AuditFilters,
  options: { throughSeq: number; batchSize?: number; visibility?: AuditVisibility },
): AsyncGenerator<AuditEntry[]> {
  const batchSize = options.batchSize ?? 1000;
  const window = await timeWindowSeqs(db, filters);
  if (!window) return;
  let belowSeq = options.throughSeq + 1;
  for (;;) {
    const rows = await db
      .selectFrom("audit_log")
      .selectAll()
      .where((eb) => eb.and([...conditions(eb, filters, { belowSeq, ...window }), ...visible(eb, options.visibility ?? { kind: "all" })]))
      .orderBy("seq", "desc")
      .limit(batchSize)
      .execute();
    const last = rows.at(-1);
    if (last) {
      yield rows.map(toAuditEntry);
      belowSeq = last.seq;
    }
    if (rows.length < batchSize) return;
  }
}

/** The newest seq right now (0 for an empty log): an export's snapshot bound. */
export async function auditHeadSeq(db: Kysely<DB>): Promise<number> {
  const head = await db.selectFrom("audit_log").select("seq").orderBy("seq", "desc").limit(1).executeTakeFirst();
  return head?.seq ?? 0;
}
