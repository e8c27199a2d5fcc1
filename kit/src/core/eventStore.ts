import type { Dropped } from "./lossReports.js";
import type { KitEvent } from "./types.js";

/**
 * Where the event buffer keeps what Steward has not stored yet, so a restart of the product (a deploy, a crash)
 * does not take it from the audit log. Calls are synchronous on purpose: an event is durable before
 * `record()` returns to the product, and one process owns a store at a time.
 */
export interface EventStore {
  /** What was pending when the last process stopped, per session: sent again at start (Steward stores an id once). */
  load(): Map<string, PendingEvents>;
  /** Applies one change for a session, all of it or none of it (a crash between its parts must not lose or double a loss). */
  save(sid: string, change: EventStoreChange): void;
  close?(): void;
}

export interface PendingEvents {
  /** Events not yet stored by Steward nor reported lost, in the order recorded. */
  events: KitEvent[];
  /** Loss reports made but not yet stored by Steward: sent again as they are (same id). */
  reports: KitEvent[];
  /** Events dropped from a full buffer, not yet in a report. */
  dropped: Dropped | null;
  /** The session's start as Steward reported it, when the kit knew it. */
  startedAt: string | null;
}

export interface EventStoreChange {
  /** Events recorded. */
  events?: KitEvent[];
  /** Loss reports made. */
  reports?: KitEvent[];
  /** Ids (events or reports) Steward stored, or reported lost, or refused for good: they need not survive a restart. */
  forget?: string[];
  /** The count of dropped events not yet in a report, as it is now (null: all reported). */
  dropped?: Dropped | null;
  /** The session's start: after a restart, a time Steward accepts for a loss report when no event gives one. */
  startedAt?: string;
}
