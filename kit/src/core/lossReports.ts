import { clip } from "./text.js";
import type { KitEvent } from "./types.js";

/** The kit's own events telling Steward's audit log what it did not get: events dropped, events refused. */

/** Events Steward took out of the audit log's reach (refused, or too large alone), with why and the answer's status. */
export type Taken = { event: KitEvent; why: string; status: number }[];

/**
 * Events dropped from a full buffer: `count` Steward does not hold (never sent, or refused with their batch),
 * `unconfirmed` sent without an answer (Steward may hold them); and when the latest of them happened (the report's time).
 */
export interface Dropped {
  count: number;
  unconfirmed: number;
  lastAt: string;
}

/** The latest time among events (null for none). */
export function latestOf(events: KitEvent[]): string | null {
  let latest: string | null = null;
  for (const e of events) if (latest === null || Date.parse(e.occurredAt) > Date.parse(latest)) latest = e.occurredAt;
  return latest;
}

export interface Refused {
  events: Taken;
  /** A time Steward accepts for the session (an event it did not refuse, one it stored, or the session's start). */
  at: string;
}

/** The loss report for events Steward refused: names each (id, request, time) and why, within Steward's 500 characters. */
export function refusalReport(refused: Refused): KitEvent {
  const { events } = refused;
  const named = events.map(({ event }) => `${event.id} ${clip(event.method, 20)} ${clip(event.route, 80)} at ${event.occurredAt}`).join("; ");
  const why = [...new Set(events.map((e) => e.why))].join("; ");
  return {
    id: clip(`refused-${Date.now()}-${events[0]?.event.id ?? ""}`, 100),
    method: "GET",
    route: "kit: events refused by Steward",
    object: null,
    outcome: "failed",
    status: events.every((e) => e.status === 413) ? 413 : 400,
    detail: clip(`Steward refused ${events.length === 1 ? "1 event" : `${events.length} events`}, taken out of their batch: ${named}. Why: ${why}`, 500),
    occurredAt: refused.at,
  };
}

/** The loss report for dropped events, dated when the last loss happened: Steward refuses times outside the session, which may have ended since. */
export function droppedReport(lost: Dropped): KitEvent {
  const detail = [lost.count ? `${lost.count} events were dropped while Steward was unreachable` : "", lost.unconfirmed ? `${lost.unconfirmed} events sent without an answer were dropped (Steward may hold them)` : ""].filter(Boolean).join("; ");
  return { id: `dropped-${Date.now()}-${lost.count}-${lost.unconfirmed}`, method: "GET", route: "kit: events dropped (buffer full)", object: null, outcome: "failed", status: null, detail, occurredAt: lost.lastAt };
}
