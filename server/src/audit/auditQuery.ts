import { createHash } from "node:crypto";
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from "kysely";
import type { AuditEntry } from "../../../shared/audit.js";
import { roleAtLeast, type PanelRole } from "../../../shared/roles.js";
import { AuditFilters, storableInstant } from "../../../shared/schemas/audit.js";
import type { DB } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import { emailKey } from "../lookup/resolveRequester.js";
import { toAuditSeal, toSealedAuditEntry, type AuditRow } from "./auditRow.js";

/**
 * Audit log search: every filter is an equality on an indexed column, ordered newest first by
 * (occurred_at, seq), and pages continue below the last (occurred_at, seq) seen (keyset). Each filter's
 * index is (column, occurred_at desc, seq desc) in every monthly partition, and partitions are read
 * newest first, so a page costs the same at any depth. An entry committing while someone pages either
 * sorts above the cursor (they see it on a fresh first page) or below it (they reach it): no page ever
 * repeats or skips an entry that was there when paging started.
 */
/**
 * Which entries a reader may see: operations and admin see all; support agents (read-only and full)
 * see entries of their own actions and of tickets they acted on. "Acted on" counts only a ticket Steward
 * itself read from Zendesk for one of their writes (the entry's ticket snapshot, of that same ticket, see ACTED_ON_MATCHES):
 * a lookup's, a refusal's or a log read's ticket is whatever the client sent (X-Ticket-Id), unchecked,
 * so counting it would open any ticket's history to one lookup naming it.
 */
export type AuditVisibility = { kind: "all" } | { kind: "own"; staffId: string };

/**
 * Snapshot matches that come from a Zendesk read of the ticket (`unverified`, verification off, does not).
 * Migration 041 spells this list out in its index predicate: change both together (security/auditVisibility.test.ts).
 */
export const ACTED_ON_MATCHES = ["email", "external_id", "organization", "domain", "override"] as const;

/**
 * The snapshot must be of the entry's own ticket: the write path takes both from one request today, but a
 * snapshot of another ticket confirms neither. Spelled as in migration 041's index predicate, so the planner
 * matches it there.
 */
const SNAPSHOT_OF_OWN_TICKET = sql<SqlBool>`(mine.ticket_snapshot ->> 'id') = mine.ticket_id`;

export function auditVisibilityFor(actor: { staffId: string; panelRole: PanelRole }): AuditVisibility {
  return roleAtLeast(actor.panelRole, "operations") ? { kind: "all" } : { kind: "own", staffId: actor.staffId };
}

export function visible(eb: ExpressionBuilder<DB, "audit_log">, visibility: AuditVisibility): Expression<SqlBool>[] {
  if (visibility.kind === "all") return [];
  // The reader's checked tickets, read from the small partial index of migration 041 (writes with a checked snapshot of their ticket).
  const myTickets = eb
    .selectFrom("audit_log as mine")
    .select("mine.ticket_id")
    .where("mine.actor_staff_id", "=", visibility.staffId)
    .where("mine.ticket_id", "is not", null)
    // Literals, not parameters: the planner matches them against the index predicate.
    .where(sql<SqlBool>`(mine.ticket_snapshot ->> 'match') in (${sql.join(ACTED_ON_MATCHES.map((m) => sql.lit(m)))})`)
    .where(SNAPSHOT_OF_OWN_TICKET);
  return [eb.or([eb("actor_staff_id", "=", visibility.staffId), eb("ticket_id", "in", myTickets)])];
}

/**
 * The `pending` filter means still open: an intent (written before a provider call) whose outcome entry,
 * same operation id, is not in the log yet. Once that entry exists the intent is history, not pending.
 */
export function stillOpen(eb: ExpressionBuilder<DB, "audit_log">): Expression<SqlBool> {
  return eb.not(eb.exists(eb.selectFrom("audit_log as settled").select("settled.seq").whereRef("settled.operation_id", "=", "audit_log.operation_id").where("settled.outcome", "<>", "pending")));
}

interface Keyset {
  below?: { occurredAt: Date; seq: number };
  throughSeq?: number;
}

/**
 * The actor filter as compared: a staff email (contains @) as one address in any case and either Unicode
 * form, a staff id exactly. actor_email is stored as the token spelled it (composed or decomposed, any
 * case) and is MACed so, so both sides go through the same SQL, NFC then lower case (emailKey's steps),
 * which is also migration 044's index expression: the planner matches it there.
 */
export function actorCondition(eb: ExpressionBuilder<DB, "audit_log">, actor: string): Expression<SqlBool>[] {
  if (!actor.includes("@")) return [eb("actor_staff_id", "=", actor)];
  return [eb("actor_email", "is not", null), eb(sql<string>`lower(normalize(actor_email, NFC))`, "=", sql<string>`lower(normalize(${actor}, NFC))`)];
}

/** (emailKey keeps the @, so an email never comes to equal a staff id.) */
function comparedActor(actor: string): string {
  return actor.includes("@") ? emailKey(actor) : actor;
}

/** A from/to bound as compared: the instant (the same instant in another offset or precision is the same bound). */
export function comparedInstant(text: string): Date {
  return new Date(text);
}

function conditions(eb: ExpressionBuilder<DB, "audit_log">, filters: AuditFilters, keyset: Keyset): Expression<SqlBool>[] {
  const where: Expression<SqlBool>[] = [];
  if (filters.actor) where.push(...actorCondition(eb, filters.actor));
  if (filters.action) where.push(eb("action", "=", filters.action));
  if (filters.targetAccountId) where.push(eb("target_account_id", "=", filters.targetAccountId));
  if (filters.targetUserId) where.push(eb("target_id", "=", filters.targetUserId), eb("target_type", "=", "user"));
  if (filters.ticketId) where.push(eb("ticket_id", "=", filters.ticketId));
  if (filters.outcome) where.push(eb("outcome", "=", filters.outcome));
  if (filters.outcome === "pending") where.push(stillOpen(eb));
  if (filters.from) where.push(eb("occurred_at", ">=", comparedInstant(filters.from)));
  if (filters.to) where.push(eb("occurred_at", "<", comparedInstant(filters.to)));
  if (keyset.below) {
    const { occurredAt, seq } = keyset.below;
    // The row comparison matches the index order; the plain bound lets the planner skip newer partitions.
    where.push(eb("occurred_at", "<=", occurredAt), sql<SqlBool>`(occurred_at, seq) < (${occurredAt}, ${seq})`);
  }
  if (keyset.throughSeq !== undefined) where.push(eb("seq", "<=", keyset.throughSeq));
  return where;
}

/** "at2": bound to its query (at: cursors, from before binding, are refused as unknown). */
const CURSOR_PREFIX = "at2:";

/**
 * What a cursor is bound to: the route, the sort order and the filters it was issued for (not the page
 * size). A position in one answer means nothing in another, so a cursor reused with other filters or
 * another order is refused rather than answering "entries after this position" of a different list.
 */
export function cursorBinding(route: "audit" | "console", order: "asc" | "desc", filters: Record<string, unknown>, filterKeys: readonly string[]): string {
  const given = [...filterKeys].sort().flatMap((key) => (filters[key] === undefined ? [] : [[key, compared(key, filters[key])]]));
  return createHash("sha256").update(JSON.stringify([route, order, given])).digest("base64url").slice(0, 16);
}

/**
 * A filter in the form the search compares it (both searches read actor, from and to alike), so that
 * spellings the search treats as one filter (an email in another case or Unicode form, an instant in another offset)
 * bind alike, and ones it tells apart do not: an email and a staff id stay distinct, as do two instants.
 */
function compared(key: string, value: unknown): unknown {
  if (typeof value !== "string") return value;
  if (key === "actor") return comparedActor(value);
  if (key === "from" || key === "to") {
    const at = comparedInstant(value);
    // (Text that is no instant never reaches a search: the filter schema refuses it.)
    return Number.isNaN(at.getTime()) ? value : at.toISOString();
  }
  return value;
}

export function encodeCursor(entry: { occurredAt: string; seq: number }, binding: string): string {
  return Buffer.from(`${CURSOR_PREFIX}${entry.occurredAt}|${entry.seq}|${binding}`).toString("base64url");
}

export function decodeCursor(cursor: string, binding: string): { occurredAt: Date; seq: number } {
  const text = Buffer.from(cursor, "base64url").toString();
  const [at, seqText, bound, ...rest] = text.slice(CURSOR_PREFIX.length).split("|");
  const seq = Number(seqText);
  const occurredAt = new Date(at ?? "");
  if (!text.startsWith(CURSOR_PREFIX) || rest.length > 0 || !bound || !Number.isSafeInteger(seq) || seq < 1 || !storableInstant(occurredAt.getTime()) || occurredAt.toISOString() !== at) {
    throw Problem.badRequest("The cursor is not one this API returned", [{ field: "query.cursor", reason: "unknown cursor; pass nextCursor from the previous page" }]);
  }
  if (bound !== binding) {
    throw Problem.badRequest("The cursor was issued for other filters or another order", [{ field: "query.cursor", reason: "belongs to another query; repeat the filters and order it came with, or start again without a cursor" }]);
  }
  return { occurredAt, seq };
}

/** The seals of these entries (null where not sealed yet), in one indexed lookup. */
export async function withSeals(db: Kysely<DB>, rows: AuditRow[]): Promise<AuditEntry[]> {
  if (rows.length === 0) return [];
  const seals = await db.selectFrom("audit_seal").selectAll().where("entry_seq", "in", rows.map((r) => r.seq)).execute();
  const bySeq = new Map(seals.map((s) => [s.entry_seq, s]));
  return rows.map((row) => {
    const seal = bySeq.get(row.seq);
    return toSealedAuditEntry(row, seal && seal.entry_id === row.id ? toAuditSeal(seal) : null);
  });
}

function page(db: Kysely<DB>, filters: AuditFilters, keyset: Keyset, limit: number, visibility: AuditVisibility) {
  return db
    .selectFrom("audit_log")
    .selectAll()
    .where((eb) => eb.and([...conditions(eb, filters, keyset), ...visible(eb, visibility)]))
    .orderBy("occurred_at", "desc")
    .orderBy("seq", "desc")
    .limit(limit)
    .execute();
}

/** One page, newest first. `nextCursor` is null when nothing older matches. */
export async function searchAudit(
  db: Kysely<DB>,
  filters: AuditFilters,
  options: { cursor?: string; limit: number },
  visibility: AuditVisibility = { kind: "all" },
): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
  const binding = cursorBinding("audit", "desc", filters, Object.keys(AuditFilters.shape));
  const below = options.cursor === undefined ? undefined : decodeCursor(options.cursor, binding);
  const rows = await page(db, filters, { below }, options.limit + 1, visibility);
  const entries = await withSeals(db, rows.slice(0, options.limit));
  const last = entries.at(-1);
  return { entries, nextCursor: rows.length > options.limit && last ? encodeCursor(last, binding) : null };
}

/** The matching entries at or below `throughSeq`, newest first, one keyset batch at a time (for streaming export). */
export async function* auditBatches(
  db: Kysely<DB>,
  filters: AuditFilters,
  options: { throughSeq: number; batchSize?: number; visibility?: AuditVisibility },
): AsyncGenerator<AuditEntry[]> {
  const batchSize = options.batchSize ?? 1000;
  let below: Keyset["below"];
  for (;;) {
    const rows = await page(db, filters, { below, throughSeq: options.throughSeq }, batchSize, options.visibility ?? { kind: "all" });
    const last = rows.at(-1);
    if (last) {
      yield await withSeals(db, rows);
      below = { occurredAt: last.occurred_at, seq: last.seq };
    }
    if (rows.length < batchSize) return;
  }
}

/** The newest seq right now (0 for an empty log): an export's snapshot bound. */
export async function auditHeadSeq(db: Kysely<DB>): Promise<number> {
  const head = await db.selectFrom("audit_log").select("seq").orderBy("seq", "desc").limit(1).executeTakeFirst();
  return head?.seq ?? 0;
}
