import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import type { StaffActor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import { toAuditEntry } from "../audit/auditRow.js";
import type { Clock } from "../clock.js";
import type { DB } from "../db/schema.js";
import { Problem } from "../http/problem.js";

/** An unused link stops working after this: long enough for the browser to follow it, too short to pass around. */
export const EXPORT_LINK_TTL_MS = 60_000;
/** Links (used or not) and header exports' rows are kept this long for the console's progress, then removed when a new one is made. */
const EXPORT_LINK_KEEP_MS = 24 * 3_600_000;
/** A streaming export writes its progress (rows so far, and its heartbeat) this often, whether rows move or not. */
export const EXPORT_PROGRESS_EVERY_MS = 1_000;
/**
 * A used link whose last progress write is older than this stopped without an end (its process was killed or
 * lost the database): thirty missed heartbeats, and twice the default statement timeout a slow write may take.
 * Processes compare their own clocks with the heartbeat: their skew must stay well below this.
 */
export const EXPORT_STALLED_AFTER_MS = 30_000;

const hashOf = (token: string) => createHash("sha256").update(token).digest("hex");

export interface IssuedExportLink {
  id: string;
  /** The secret part of the link: 256 random bits, shown once; only its hash is stored. */
  token: string;
  expiresAt: Date;
}

const removeOldExportRows = (db: Kysely<DB>, now: Date) => db.deleteFrom("console_export_links").where("expires_at", "<", new Date(now.getTime() - EXPORT_LINK_KEEP_MS)).execute();

/** Makes a link for one export of `query` by `actor`; the filters were validated by the caller. */
export async function issueExportLink(db: Kysely<DB>, input: { actor: StaffActor; ticketId: string | null; query: unknown; now: Date }): Promise<IssuedExportLink> {
  const token = randomBytes(32).toString("base64url");
  const id = randomUUID();
  const expiresAt = new Date(input.now.getTime() + EXPORT_LINK_TTL_MS);
  await removeOldExportRows(db, input.now);
  await db
    .insertInto("console_export_links")
    .values({ id, token_hash: hashOf(token), staff_id: input.actor.staffId, zendesk_user_id: input.actor.zendeskUserId, ticket_id: input.ticketId, query: JSON.stringify(input.query), created_at: input.now, expires_at: expiresAt })
    .execute();
  return { id, token, expiresAt };
}

export interface RedeemedExportLink {
  id: string;
  staffId: string;
  zendeskUserId: string;
  ticketId: string | null;
  query: unknown;
}

const gone = (code: string, detail: string) => new Problem(410, code, "Gone", detail);

/**
 * Uses a link up: one UPDATE marks it used, so two requests racing for it cannot both get the file.
 * A used, expired or unknown link is refused with a problem saying which.
 */
export async function redeemExportLink(db: Kysely<DB>, token: string, now: Date): Promise<RedeemedExportLink> {
  const tokenHash = hashOf(token);
  const row = await db
    .updateTable("console_export_links")
    .set({ used_at: now, progress_at: now })
    .where("token_hash", "=", tokenHash)
    .where("used_at", "is", null)
    .where("expires_at", ">", now)
    .returning(["id", "staff_id", "zendesk_user_id", "ticket_id", "query"])
    .executeTakeFirst();
  if (row) return { id: row.id, staffId: row.staff_id, zendeskUserId: row.zendesk_user_id, ticketId: row.ticket_id, query: row.query };
  const known = await db.selectFrom("console_export_links").select(["used_at"]).where("token_hash", "=", tokenHash).executeTakeFirst();
  if (!known) throw new Problem(404, "export_link_unknown", "Not found", "This export link is not one Steward made. Start the export again from the console.");
  if (known.used_at) throw gone("export_link_used", "This export link was already used: each link downloads once. Start the export again from the console.");
  throw gone("export_link_expired", `This export link expired unused (links last ${EXPORT_LINK_TTL_MS / 1000} s). Start the export again from the console.`);
}

/**
 * A header export's stream (no link: the client sent the session header): a row made already used, bound to the
 * staff member, with no token, so its stream gets a link's heartbeat and is settled as interrupted if it dies.
 */
export async function openHeaderExport(db: Kysely<DB>, input: { actor: StaffActor; ticketId: string | null; query: unknown; now: Date }): Promise<string> {
  const id = randomUUID();
  // API clients may export without ever making a link: their rows are kept as long, and removed here.
  await removeOldExportRows(db, input.now);
  await db
    .insertInto("console_export_links")
    .values({ id, token_hash: null, staff_id: input.actor.staffId, zendesk_user_id: input.actor.zendeskUserId, ticket_id: input.ticketId, query: JSON.stringify(input.query), created_at: input.now, expires_at: input.now, used_at: input.now, progress_at: input.now })
    .execute();
  return id;
}

/**
 * Marks a link's export started, in the transaction of its audit entry: the size counted and which entry that is.
 * False when the link was settled meanwhile (its heartbeat went stale while counting): the export must not start.
 */
export async function recordExportStart(executor: Kysely<DB> | Transaction<DB>, id: string, start: { total: number | null; exportEntrySeq: number; at: Date }): Promise<boolean> {
  const row = await executor
    .updateTable("console_export_links")
    .set({ total: start.total, export_entry_seq: start.exportEntrySeq, rows_sent: 0, progress_at: start.at })
    .where("id", "=", id)
    .where("finished_at", "is", null)
    .returning("id")
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Records the rows sent so far and the heartbeat. False when the link was settled meanwhile (by another
 * process that found its heartbeat stale): the stream must stop, its end is already on record.
 */
export async function recordExportProgress(db: Kysely<DB>, id: string, progress: { rowsSent: number; at: Date }): Promise<boolean> {
  const row = await db.updateTable("console_export_links").set({ rows_sent: progress.rowsSent, progress_at: progress.at }).where("id", "=", id).where("finished_at", "is", null).returning("id").executeTakeFirst();
  return row !== undefined;
}

/** Records how a link's export ended; false when it had ended already (settled as interrupted by another process). */
export async function finishExportLink(executor: Kysely<DB> | Transaction<DB>, id: string, end: { rowsSent: number; at: Date; complete: boolean; error?: string }): Promise<boolean> {
  const row = await executor
    .updateTable("console_export_links")
    .set({ rows_sent: end.rowsSent, progress_at: end.at, finished_at: end.at, complete: end.complete, error: end.error ?? null })
    .where("id", "=", id)
    .where("finished_at", "is", null)
    .returning("id")
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Writes a link's progress every EXPORT_PROGRESS_EVERY_MS from the moment it is used until stop(), whether rows
 * move or not (a slow client, a long count): a heartbeat older than EXPORT_STALLED_AFTER_MS means the stream stopped.
 */
export function startExportHeartbeat(db: Kysely<DB>, clock: Clock, id: string, on: { settledElsewhere: () => void; writeFailed: (err: unknown) => void }): { rows: number; stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  const state = {
    rows: 0,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await writing;
    },
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(beat, EXPORT_PROGRESS_EVERY_MS);
    // The response in flight keeps the process alive, not this timer.
    timer.unref();
  };
  const beat = () => {
    writing = recordExportProgress(db, id, { rowsSent: state.rows, at: clock.now() })
      .then((open) => {
        if (open || stopped) return;
        stopped = true;
        on.settledElsewhere();
      }, on.writeFailed)
      .finally(() => {
        writing = undefined;
        schedule();
      });
  };
  schedule();
  return state;
}

/** The follow-up entry's error text for an export whose stream stopped with no end recorded (fixed wording). */
export function interruptedExportError(rowsSent: number): string {
  return `export_interrupted: the export stopped with no end recorded (no progress for ${EXPORT_STALLED_AFTER_MS / 1000} s; Steward was stopped or lost its database) after at least ${rowsSent} entries were sent; the file is most likely incomplete`;
}

/**
 * Settles used links whose heartbeat is older than EXPORT_STALLED_AFTER_MS as interrupted (all, or the one `id`),
 * each with an audit.export entry (outcome unknown, cause interrupted) naming the export's entry, in the same
 * transaction: the log then no longer reads as if that export completed. Once per link, whichever process finds it.
 */
export async function settleStalledExports(db: Kysely<DB>, clock: Clock, options: { id?: string } = {}): Promise<number> {
  const now = clock.now();
  const stalledBefore = new Date(now.getTime() - EXPORT_STALLED_AFTER_MS);
  return db.transaction().execute(async (trx) => {
    let query = trx
      .updateTable("console_export_links")
      .set({ finished_at: now, complete: false, interrupted: true })
      .where("used_at", "is not", null)
      .where("finished_at", "is", null)
      // A link used before migration 049 has no heartbeat: its use is the last sign of life.
      .where((eb) => eb(eb.fn.coalesce("progress_at", "used_at"), "<", stalledBefore));
    if (options.id) query = query.where("id", "=", options.id);
    const links = await query.returning(["id", "rows_sent", "export_entry_seq"]).execute();
    for (const link of links) {
      const error = interruptedExportError(link.rows_sent);
      await trx.updateTable("console_export_links").set({ error }).where("id", "=", link.id).execute();
      // No entry yet: the export stopped before it started streaming, and the log claims nothing.
      if (link.export_entry_seq === null) continue;
      const row = await trx.selectFrom("audit_log").selectAll().where("seq", "=", link.export_entry_seq).executeTakeFirst();
      if (!row) continue;
      const started = toAuditEntry(row);
      const actor: StaffActor = { kind: "staff", staffId: started.actor.staffId ?? "", zendeskUserId: started.actor.zendeskUserId ?? "", email: started.actor.email, name: null, panelRole: started.actor.panelRole ?? "support_read_only" };
      await appendAudit(
        trx,
        {
          actor,
          action: "audit.export",
          target: started.target,
          ticketId: started.ticketId,
          after: { ...(started.after as Record<string, unknown>), exportEntryId: started.id, rowsSent: link.rows_sent, cause: "interrupted" },
          // How much reached the client is not known: at least rowsSent, most likely not all.
          outcome: "unknown",
          error,
          requestId: null,
        },
        clock,
      );
    }
    return links.length;
  });
}

export type ExportLinkState = "waiting" | "expired" | "streaming" | "complete" | "incomplete" | "interrupted";

export interface ExportLinkStatus {
  state: ExportLinkState;
  total: number | null;
  rowsSent: number;
  error: string | null;
}

const statusColumns = ["expires_at", "used_at", "progress_at", "total", "rows_sent", "finished_at", "complete", "interrupted", "error"] as const;

/**
 * A link's progress, for the staff member it was made for only (undefined otherwise: not found). A stream whose
 * heartbeat is stale is settled as interrupted first (settleStalledExports), whichever process is asked.
 */
export async function exportLinkStatus(db: Kysely<DB>, clock: Clock, id: string, staffId: string): Promise<ExportLinkStatus | undefined> {
  const read = () => db.selectFrom("console_export_links").select(statusColumns).where("id", "=", id).where("staff_id", "=", staffId).executeTakeFirst();
  let row = await read();
  if (!row) return undefined;
  const now = clock.now().getTime();
  const lastSign = row.progress_at ?? row.used_at;
  if (!row.finished_at && lastSign && lastSign.getTime() < now - EXPORT_STALLED_AFTER_MS) {
    await settleStalledExports(db, clock, { id });
    row = (await read()) ?? row;
  }
  const state: ExportLinkState = row.interrupted ? "interrupted" : row.finished_at ? (row.complete ? "complete" : "incomplete") : row.used_at ? "streaming" : row.expires_at.getTime() <= now ? "expired" : "waiting";
  return { state, total: row.total, rowsSent: row.rows_sent, error: row.error };
}
