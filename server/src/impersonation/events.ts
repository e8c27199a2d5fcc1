import type { EventBatch } from "../../../shared/schemas/impersonation.js";
import { appendAudit } from "../audit/auditLog.js";
import type { AppDeps } from "../deps.js";
import { Problem } from "../http/problem.js";
import type { Product } from "./products.js";
import { agentOf, idleDeadlineAfter, loadSession, type SessionRow } from "./sessions.js";

const OUTCOME = { succeeded: "succeeded", refused: "denied", failed: "failed" } as const;

/** Clock skew a product may have (as for grants and Zendesk tokens). */
const SKEW_MS = 30_000;

/**
 * An event happened while the session could run: not before it started, not after its absolute
 * deadline (the kit ends there on its own clock) nor in the future. After an earlier end (a revoke the
 * product had not seen yet) an event is real and is kept, flagged `afterEnd`. Otherwise 400 naming the field.
 */
function assertEventTimes(session: SessionRow, batch: EventBatch, now: Date): void {
  const earliest = new Date(session.started_at).getTime() - SKEW_MS;
  const latest = Math.min(now.getTime(), new Date(session.absolute_deadline).getTime()) + SKEW_MS;
  const errors = batch.events.flatMap((event, i) => {
    const at = new Date(event.occurredAt).getTime();
    if (at >= earliest && at <= latest) return [];
    return [{ field: `body.events.${i}.occurredAt`, reason: `must fall within the session's lifetime (${new Date(earliest).toISOString()} to ${new Date(latest).toISOString()}, with 30 s of clock skew)` }];
  });
  if (errors.length) throw Problem.badRequest("The request has invalid fields", errors);
}

/**
 * Records a batch of what the agent did inside the product: each event becomes an audit entry
 * `impersonation.event` credited to the real agent, with the ticket and session ids. A retried batch
 * is not counted twice (event ids are unique per session). Events for an ended session are kept and
 * flagged `afterEnd`, never dropped. Live sessions count events as activity (the idle deadline moves, unless it has passed).
 */
export async function recordEvents(deps: AppDeps, product: Product, sid: string, batch: EventBatch) {
  return deps.database.db.transaction().execute(async (trx) => {
    const session = await loadSession(trx, sid, { lock: true });
    if (session.product_id !== product.id) throw Problem.notFound(`No impersonation session ${sid}`);
    const now = deps.clock.now();
    assertEventTimes(session, batch, now);
    const ids = batch.events.map((e) => e.id);
    const seen = new Set((await trx.selectFrom("impersonation_events").select("event_id").where("session_id", "=", sid).where("event_id", "in", ids).execute()).map((r) => r.event_id));
    const afterEnd = session.ended_at !== null;
    // Past its idle deadline a session is due to end (the sweep or the next status check ends it): late events do not revive it.
    const movesIdle = !afterEnd && now.getTime() < new Date(session.idle_deadline).getTime();
    const agent = agentOf(session);
    let accepted = 0;
    let duplicates = 0;
    let refused = 0;
    let done = 0;
    for (const event of batch.events) {
      if (seen.has(event.id)) {
        duplicates++;
        continue;
      }
      seen.add(event.id);
      const entry = await appendAudit(
        trx,
        {
          actor: agent,
          action: "impersonation.event",
          target: { type: "user", id: session.user_id, accountId: session.account_id },
          ticketId: session.ticket_id,
          reason: session.reason,
          after: { sessionId: sid, productId: product.id, mode: session.mode, eventId: event.id, method: event.method, route: event.route, object: event.object, status: event.status, detail: event.detail, occurredAt: new Date(event.occurredAt).toISOString(), afterEnd },
          outcome: OUTCOME[event.outcome],
          error: event.outcome === "succeeded" ? null : (event.detail ?? `${event.outcome} (${event.status ?? "no status"})`),
        },
        deps.clock,
      );
      await trx
        .insertInto("impersonation_events")
        .values({ session_id: sid, event_id: event.id, method: event.method, route: event.route, object: event.object, outcome: event.outcome, status: event.status, detail: event.detail, occurred_at: event.occurredAt, received_at: now, after_end: afterEnd, audit_entry_id: entry.id })
        .execute();
      accepted++;
      if (event.outcome === "refused") refused++;
      else done++;
    }
    if (accepted > 0) {
      await trx
        .updateTable("impersonation_sessions")
        .set((eb) => ({
          action_count: eb(eb.ref("action_count"), "+", done),
          refused_count: eb(eb.ref("refused_count"), "+", refused),
          ...(movesIdle ? { last_activity_at: now, idle_deadline: idleDeadlineAfter(now, new Date(session.absolute_deadline), deps.config) } : {}),
        }))
        .where("id", "=", sid)
        .execute();
    }
    return { accepted, duplicates, afterEnd: afterEnd ? accepted : 0, status: afterEnd ? ("ended" as const) : ("live" as const) };
  });
}
