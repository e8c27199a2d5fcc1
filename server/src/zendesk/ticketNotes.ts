import { randomUUID } from "node:crypto";
import { sql, type Kysely, type Selectable, type Transaction } from "kysely";
import { systemActor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import type { AppDeps } from "../deps.js";
import type { DB, TicketNotesTable } from "../db/schema.js";
import { createZendeskClient, type ZendeskCallResult, type ZendeskClient } from "./zendeskClient.js";

/**
 * Internal notes on Zendesk tickets, written in the same transaction as the action they describe and
 * sent afterwards (like customer mail), so a note exists exactly when the action committed, even when
 * no sidebar is open. Each attempt's result is audited as `zendesk.note_add`: succeeded, failed
 * (retried with backoff; 4xx other than 429 is final) or unknown (a timeout or 5xx: Zendesk may have
 * written it, and ticket updates take no idempotency key). An unknown note is settled by re-reading
 * the ticket's comments for the marker every note carries: found → sent; absent → sent again;
 * the re-read failing → checked again later. Each settlement is audited.
 */
export const NOTE_MAX_ATTEMPTS = 6;
/** How long after a lost answer the ticket is re-read (Zendesk may still be applying the update). */
export const NOTE_RECHECK_MS = 60_000;
/** The line every note ends with, so a re-read can find it on the ticket. */
export const noteMarker = (noteId: string) => `Steward note ref ${noteId}`;
const bodyWithMarker = (row: NoteRow) => `${row.body}\n\n(${noteMarker(row.id)})`;
const CLAIM_LEASE_MS = 5 * 60_000;
export const NOTE_WRITER = systemActor("zendesk-notes");
type NoteRow = Selectable<TicketNotesTable>;

export async function enqueueTicketNote(trx: Kysely<DB> | Transaction<DB>, note: { ticketId: string; body: string; kind: string; sessionId: string | null; operationId: string | null }, now: Date): Promise<{ id: string }> {
  const id = `note_${randomUUID()}`;
  await trx
    .insertInto("ticket_notes")
    .values({ id, ticket_id: note.ticketId, body: note.body, kind: note.kind, session_id: note.sessionId, operation_id: note.operationId, status: "queued", next_attempt_at: now, last_error: null, created_at: now, sent_at: null })
    .execute();
  return { id };
}

type NoteDeps = Pick<AppDeps, "config" | "database" | "clock" | "logger">;

async function claimDue(deps: NoteDeps, limit: number, status: "queued" | "unknown" = "queued"): Promise<NoteRow[]> {
  const now = deps.clock.now();
  return deps.database.db.transaction().execute(async (trx) => {
    const due = await trx.selectFrom("ticket_notes").select("id").where("status", "=", status).where("next_attempt_at", "<=", now).orderBy("next_attempt_at").limit(limit).forUpdate().skipLocked().execute();
    if (due.length === 0) return [];
    const claimed = await trx
      .updateTable("ticket_notes")
      .set({ attempts: sql`attempts + 1`, next_attempt_at: new Date(now.getTime() + CLAIM_LEASE_MS) })
      .where(
        "id",
        "in",
        due.map((d) => d.id),
      )
      .returningAll()
      .execute();
    // RETURNING keeps no order: sent in the order they fell due, so a ticket shows a session's start before its end.
    const rank = new Map(due.map((d, i) => [d.id, i]));
    return claimed.sort((a, b) => (rank.get(a.id) ?? 0) - (rank.get(b.id) ?? 0));
  });
}

function retryDelayMs(attempt: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempt - 1), 3_600_000);
}

/** The `zendesk.note_add` entry for one settled attempt (sent, retried, failed, unknown, or settled by a re-read). */
async function noteEntry(
  trx: Transaction<DB>,
  deps: NoteDeps,
  row: NoteRow,
  step: { status: string; extra: Record<string, unknown>; outcome: "succeeded" | "failed" | "unknown"; error: string | null },
): Promise<void> {
  await appendAudit(
    trx,
    {
      actor: NOTE_WRITER,
      action: "zendesk.note_add",
      target: { type: "system", id: row.id, accountId: null },
      ticketId: row.ticket_id,
      reason: `${row.kind} note`,
      after: { noteId: row.id, kind: row.kind, sessionId: row.session_id, attempt: row.attempts, status: step.status, ...step.extra, queuedByOperation: row.operation_id },
      outcome: step.outcome,
      error: step.error,
    },
    deps.clock,
  );
}

async function settle(deps: NoteDeps, row: NoteRow, result: ZendeskCallResult): Promise<NoteRow["status"]> {
  const now = deps.clock.now();
  const final = result.outcome === "failed" && /answered 4\d\d/.test(result.error) && !/answered 429/.test(result.error);
  const retry = result.outcome === "failed" && row.attempts < NOTE_MAX_ATTEMPTS && !final;
  const status: NoteRow["status"] = result.outcome === "succeeded" ? "sent" : result.outcome === "unknown" ? "unknown" : retry ? "queued" : "failed";
  const error = result.outcome === "succeeded" ? null : result.error.slice(0, 500);
  const next = result.outcome === "failed" && retry ? new Date(now.getTime() + (result.retryAfterMs ?? retryDelayMs(row.attempts))) : result.outcome === "unknown" ? new Date(now.getTime() + NOTE_RECHECK_MS) : now;
  await deps.database.db.transaction().execute(async (trx) => {
    await trx.updateTable("ticket_notes").set({ status, last_error: error, sent_at: status === "sent" ? now : null, next_attempt_at: next }).where("id", "=", row.id).execute();
    await noteEntry(trx, deps, row, {
      status,
      extra: result.outcome === "succeeded" ? { commentId: result.commentId } : {},
      outcome: result.outcome === "succeeded" ? "succeeded" : result.outcome === "unknown" ? "unknown" : "failed",
      error,
    });
  });
  return status;
}

export interface NoteReport {
  sent: number;
  retrying: number;
  failed: number;
  unknown: number;
  /** Unknown notes settled by re-reading the ticket: found there, or not there and sent again. */
  foundOnTicket: number;
  resent: number;
}

/** A note whose answer was lost: is it on the ticket? Found → sent; absent → queued to send now; no answer → later. */
async function recheck(deps: NoteDeps, row: NoteRow, client: ZendeskClient): Promise<"found" | "absent" | "unknown"> {
  const now = deps.clock.now();
  const found = await client.findComment(row.ticket_id, noteMarker(row.id));
  if (found.outcome === "unknown") {
    await deps.database.db.updateTable("ticket_notes").set({ next_attempt_at: new Date(now.getTime() + retryDelayMs(row.attempts)), last_error: `re-read failed: ${found.error}`.slice(0, 500) }).where("id", "=", row.id).execute();
    return "unknown";
  }
  const onTicket = found.outcome === "found";
  await deps.database.db.transaction().execute(async (trx) => {
    const moved = await trx
      .updateTable("ticket_notes")
      .set(onTicket ? { status: "sent", sent_at: now, last_error: null, next_attempt_at: now } : { status: "queued", next_attempt_at: now, last_error: "not on the ticket after a lost answer; sending again" })
      .where("id", "=", row.id)
      .where("status", "=", "unknown")
      .executeTakeFirst();
    // Two processes re-reading the same note: only the one that moved it writes the entry.
    if (Number(moved.numUpdatedRows) === 0) return;
    await noteEntry(trx, deps, row, {
      status: onTicket ? "sent" : "queued",
      extra: { settledBy: "re-read of the ticket's comments", ...(onTicket ? { commentId: found.commentId } : {}) },
      outcome: onTicket ? "succeeded" : "failed",
      error: onTicket ? null : "the note whose answer was lost is not on the ticket: nothing was written; sending it again",
    });
  });
  return onTicket ? "found" : "absent";
}

/** One pass over due notes; without a configured Zendesk API (production without a token) notes wait. */
export async function deliverDueNotes(deps: NoteDeps, options: { client?: ZendeskClient | null } = {}): Promise<NoteReport> {
  const client = options.client !== undefined ? options.client : createZendeskClient(deps.config);
  const report: NoteReport = { sent: 0, retrying: 0, failed: 0, unknown: 0, foundOnTicket: 0, resent: 0 };
  if (!client) return report;
  // Lost answers first: a note found absent is queued and sent in this same pass.
  for (;;) {
    const rows = await claimDue(deps, 20, "unknown");
    for (const row of rows) {
      const settled = await recheck(deps, row, client);
      if (settled === "found") report.foundOnTicket++;
      else if (settled === "absent") report.resent++;
    }
    if (rows.length < 20) break;
  }
  for (;;) {
    const rows = await claimDue(deps, 20);
    for (const row of rows) {
      const status = await settle(deps, row, await client.addInternalNote(row.ticket_id, bodyWithMarker(row)));
      if (status === "sent") report.sent++;
      else if (status === "queued") report.retrying++;
      else report[status]++;
    }
    if (rows.length < 20) return report;
  }
}
