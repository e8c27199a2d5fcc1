import type { Transaction } from "kysely";
import type { EndReason } from "../../../shared/schemas/impersonation.js";
import type { DB } from "../db/schema.js";
import type { Config } from "../config.js";
import { Problem } from "../http/problem.js";
import { enqueueMail } from "../mail/outbox.js";
import { enqueueTicketNote } from "../zendesk/ticketNotes.js";
import { customerNoticesOn, sessionActivityOf, sessionEndMail, sessionMinutes } from "./notices.js";
import { loadSession, type SessionRow } from "./sessions.js";

const END_WORDS: Record<EndReason, string> = {
  agent: "ended by the agent",
  admin_revoked: "revoked by operations/admin",
  idle_timeout: "ended after the idle timeout",
  absolute_timeout: "ended at its time limit",
  target_changed: "ended because the customer's account or user changed (blocked, suspended, deleted or protected from impersonation)",
  staff_deactivated: "ended because the agent's panel access was removed or lowered below this session's mode",
};

const NOTE_TIME = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
/** A time an agent reads on the ticket: "28 Nov 2026, 11:30 UTC", not raw ISO; the zone said, as the mails do. */
export const noteTime = (at: Date | string) => `${NOTE_TIME.format(new Date(at))} UTC`;

export function startNote(row: SessionRow, userEmail: string, config: Config): string {
  // The idle limit as configured: the idle deadline at the start is capped by the time limit, so it may be shorter.
  const idle = config.IMPERSONATION_IDLE_MINUTES;
  const shorterThanIdle = new Date(row.absolute_deadline).getTime() - new Date(row.started_at).getTime() <= idle * 60_000;
  return [
    `Steward: ${row.agent_name ?? row.agent_email ?? row.agent_zendesk_user_id} started viewing the product as ${userEmail} (${row.mode === "read_only" ? "read-only" : "full access"}).`,
    `Reason: ${row.reason}`,
    `Session ${row.id}; ends at ${noteTime(row.absolute_deadline)} at the latest${shorterThanIdle ? "" : `, or after ${idle} minutes without activity in the product`}.`,
  ].join("\n");
}

/**
 * Ends a live session inside the caller's transaction (the stop/expire command's), with the customer's
 * summary mail and the ticket's internal note queued in the same transaction: each exactly once.
 */
export async function endSessionIn(
  trx: Transaction<DB>,
  sid: string,
  end: { reason: EndReason; endedBy: string; now: Date; operationId: string; config: Config },
): Promise<{ session: SessionRow; durationSeconds: number }> {
  const current = await loadSession(trx, sid, { lock: true });
  if (current.ended_at) throw Problem.conflict("session_already_ended", `Session ${sid} already ended (${current.end_reason})`, { endedAt: new Date(current.ended_at).toISOString(), endReason: current.end_reason });
  const session = await trx
    .updateTable("impersonation_sessions")
    .set({ ended_at: end.now, end_reason: end.reason, ended_by: end.endedBy })
    .where("id", "=", sid)
    .where("ended_at", "is", null)
    .returningAll()
    .executeTakeFirstOrThrow();
  const durationSeconds = Math.max(0, Math.round((end.now.getTime() - new Date(session.started_at).getTime()) / 1000));
  const user = await trx.selectFrom("users").select(["id", "name", "email"]).where("id", "=", session.user_id).executeTakeFirstOrThrow();
  if (await customerNoticesOn(trx)) {
    const mail = sessionEndMail(session, user.name, { durationSeconds, ...(await sessionActivityOf(trx, session.id)) });
    await enqueueMail(trx, { to: user.email, ...mail, kind: "impersonation_ended", accountId: session.account_id, userId: session.user_id, ticketId: session.ticket_id, operationId: end.operationId }, end.now);
  }
  const minutes = sessionMinutes(durationSeconds);
  await enqueueTicketNote(
    trx,
    {
      ticketId: session.ticket_id,
      body: `Steward: the session viewing the product as ${user.email} was ${END_WORDS[end.reason]}.\nDuration: about ${minutes} min; actions: ${session.action_count} (refused: ${session.refused_count}). Session ${session.id}.`,
      kind: "impersonation_ended",
      sessionId: session.id,
      operationId: end.operationId,
    },
    end.now,
  );
  return { session, durationSeconds };
}

export function sessionSummary(row: SessionRow, durationSeconds?: number): Record<string, unknown> {
  return {
    sessionId: row.id,
    mode: row.mode,
    productId: row.product_id,
    startedAt: new Date(row.started_at).toISOString(),
    idleDeadline: new Date(row.idle_deadline).toISOString(),
    absoluteDeadline: new Date(row.absolute_deadline).toISOString(),
    endedAt: row.ended_at ? new Date(row.ended_at).toISOString() : null,
    endReason: row.end_reason,
    actionCount: row.action_count,
    refusedCount: row.refused_count,
    ...(durationSeconds !== undefined ? { durationSeconds } : {}),
  };
}
