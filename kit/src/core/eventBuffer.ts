import type { EventStore, EventStoreChange } from "./eventStore.js";
import { droppedReport, latestOf, refusalReport, type Dropped, type Refused, type Taken } from "./lossReports.js";
import type { KitEvent } from "./types.js";

/**
 * Events waiting to reach Steward, per session: sent in batches (at most `batchSize`), retried with
 * exponential backoff when Steward is unreachable or failing, bounded (the oldest are dropped past
 * `maxBuffered`, and the count of dropped events is reported with the next batch; one of a batch on its way
 * counts only if Steward does not store that batch), flushed on end.
 * When Steward refuses a batch naming some of its events (400 `body.events.N…`, e.g. a time outside the
 * session), those are taken out, the rest is sent again, and what was taken out is reported the same way.
 * A batch too large (413) or refused without naming one event (any other 400) is split in halves until each
 * part is stored or is one event, which is taken out and reported the same way.
 * With a `store`, every event is in it before `add` returns and leaves it only once Steward stored it, it was
 * reported lost (dropped or refused: the report is in the store meanwhile) or Steward refused its session; what
 * the store holds at start is sent again (Steward stores an event id once per session).
 */
export interface EventSink {
  postEvents(sid: string, events: KitEvent[]): Promise<void>;
}

export interface EventBufferOptions {
  batchSize?: number;
  maxBuffered?: number;
  flushIntervalMs?: number;
  /** About how many bytes of JSON a batch may carry: Steward takes bodies up to 64 KiB; a proxy in front may take less. */
  batchBytes?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (err: unknown) => void;
  /** The session's start as Steward reported it: a time Steward always accepts, for a loss report when no other is known. */
  sessionStart?: (sid: string) => string | undefined;
  /** Keeps unsent events across restarts of the product (e.g. FileEventStore); without it they live in memory only. */
  store?: EventStore;
}

type Optional = "onError" | "sessionStart" | "store";

/** Steward takes request bodies up to 64 KiB: batches stay well under it (non-Latin text is 3 bytes a character). */
const BATCH_BYTES = 48 * 1024;

/** The first events of the queue, at most `count` and about `bytes` of JSON (always at least one). */
function takeWithin(queue: KitEvent[], count: number, bytes: number): KitEvent[] {
  let size = 0;
  let n = 0;
  while (n < Math.min(count, queue.length)) {
    size += Buffer.byteLength(JSON.stringify(queue[n])) + 1;
    if (n > 0 && size > bytes) break;
    n++;
  }
  return queue.slice(0, n);
}

/**
 * Takes a sent batch's events out of the queue, by identity: while it was on its way, a full buffer may have
 * dropped the oldest (some of the batch), and cutting the batch's length off the front would take unsent ones.
 */
function removeSent(queue: KitEvent[], batch: KitEvent[]): void {
  const sent = new Set(batch);
  let kept = 0;
  for (const event of queue) if (!sent.has(event)) queue[kept++] = event;
  queue.length = kept;
}

/** The batch index a refusal names (`body.events.3.occurredAt` → 3), or null for a field that is not one event's. */
function eventIndexOf(field: string): number | null {
  const match = /^body\.events\.(\d+)(?:\.|$)/.exec(field);
  return match ? Number(match[1]) : null;
}

export class EventBuffer {
  private readonly queues = new Map<string, KitEvent[]>();
  /** Events dropped per session, not yet in a report. */
  private readonly dropped = new Map<string, Dropped>();
  /** The batch on its way, per session: an overflow meanwhile does not make its events dropped. */
  private readonly inFlight = new Map<string, Set<KitEvent>>();
  /** Events of the batch on its way pushed out of a full queue: dropped only if Steward does not store the batch. */
  private readonly evicted = new Map<string, KitEvent[]>();
  /** Events sent in a batch that got no answer (Steward unreachable, a timeout): Steward may hold them. */
  private readonly unanswered = new WeakSet<KitEvent>();
  /** Loss reports made but not yet confirmed: sent again as they are (same id), so a retry is not a second report. */
  private readonly reports = new Map<string, KitEvent[]>();
  /** Events Steward refused (named in a 400), not yet in a report. */
  private readonly refused = new Map<string, Refused>();
  /** The latest event time Steward stored per session: it will accept that time again. */
  private readonly storedAt = new Map<string, string>();
  /** Sessions' starts kept in the store by a previous process: what `sessionStart` said then. */
  private readonly restoredStarts = new Map<string, string>();
  /** Sessions whose start is in the store with their queued events. */
  private readonly startsSaved = new Set<string>();
  /** After a batch too large or refused as a whole: the sizes of the parts still to send, in order (halves of halves). */
  private readonly parts = new Map<string, number[]>();
  private failures = 0;
  private nextAttemptAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;
  private readonly o: Required<Omit<EventBufferOptions, Optional>> & Pick<EventBufferOptions, Optional>;

  constructor(
    private readonly sink: EventSink,
    options: EventBufferOptions = {},
  ) {
    this.o = { batchSize: 50, maxBuffered: 1000, flushIntervalMs: 1000, batchBytes: BATCH_BYTES, baseBackoffMs: 250, maxBackoffMs: 8000, ...options };
    if (this.o.store) this.restore(this.o.store);
  }

  /** What a previous process left unsent: queued again, within the bound, and sent at the next flush. */
  private restore(store: EventStore): void {
    for (const [sid, { events, reports, dropped, startedAt }] of store.load()) {
      if (startedAt) {
        this.restoredStarts.set(sid, startedAt);
        this.startsSaved.add(sid);
      }
      // It may have been sent without an answer before the restart: if dropped now, Steward may hold it.
      for (const e of events) this.unanswered.add(e);
      if (dropped) this.dropped.set(sid, dropped);
      if (reports.length) this.reports.set(sid, reports);
      const queue = [...events];
      this.countDropped(sid, queue.splice(0, Math.max(0, queue.length - this.o.maxBuffered)));
      this.queues.set(sid, queue);
    }
    if (this.queues.size) this.schedule(this.o.flushIntervalMs);
  }

  /** A store that fails (disk full) does not fail the product's request: the event stays in memory, onError says so. */
  private persist(sid: string, change: EventStoreChange): void {
    if (!this.o.store) return;
    if (!change.events?.length && !change.reports?.length && !change.forget?.length && change.dropped === undefined) return;
    try {
      this.o.store.save(sid, change);
    } catch (err) {
      this.o.onError?.(err);
    }
  }

  add(sid: string, event: KitEvent): void {
    // The session's start goes with its first event in the store: after a restart, the time a loss report can take.
    const startedAt = this.startsSaved.has(sid) ? undefined : this.o.sessionStart?.(sid);
    if (startedAt) this.startsSaved.add(sid);
    this.persist(sid, { events: [event], ...(startedAt ? { startedAt } : {}) });
    const queue = this.queues.get(sid) ?? [];
    queue.push(event);
    if (queue.length > this.o.maxBuffered) {
      const gone = queue.splice(0, queue.length - this.o.maxBuffered);
      const flying = this.inFlight.get(sid);
      const held = gone.filter((e) => flying?.has(e));
      if (held.length) this.evicted.set(sid, [...(this.evicted.get(sid) ?? []), ...held]);
      this.countDropped(sid, gone.filter((e) => !flying?.has(e)));
    }
    this.queues.set(sid, queue);
    this.schedule(queue.length >= this.o.batchSize ? 0 : this.o.flushIntervalMs);
  }

  pending(sid?: string): number {
    if (sid) return this.queues.get(sid)?.length ?? 0;
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  private schedule(delayMs: number): void {
    if (this.timer) return;
    const wait = Math.max(delayMs, this.nextAttemptAt - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
    this.timer.unref?.();
  }

  /** Sends what is buffered (for one session, or all); resolves when done or when Steward failed (then retried later). */
  flush(sid?: string): Promise<void> {
    this.flushing = (this.flushing ?? Promise.resolve()).then(() => this.drain(sid));
    return this.flushing;
  }

  private async drain(only?: string): Promise<void> {
    for (const [sid, queue] of this.queues) {
      if (only && sid !== only) continue;
      // Also with nothing else left: a report of refused events still goes out.
      while (queue.length > 0 || this.refused.has(sid) || this.dropped.has(sid) || (this.reports.get(sid)?.length ?? 0) > 0) {
        const lost = this.dropped.get(sid);
        const reports = this.reports.get(sid) ?? [];
        // A few reports at most wait at once (each may already be stored); later losses add to the count meanwhile.
        // Dated when the last loss happened: Steward refuses times outside the session, which may have ended since.
        if (lost && reports.length < 5) {
          const report = droppedReport(lost);
          reports.push(report);
          this.reports.set(sid, reports);
          this.dropped.delete(sid);
          this.persist(sid, { reports: [report], dropped: null });
        }
        const refused = this.refused.get(sid);
        if (refused && reports.length < 5) {
          const report = refusalReport(refused);
          reports.push(report);
          this.reports.set(sid, reports);
          this.refused.delete(sid);
          // The refused events stay in the store until their report is: a restart meanwhile sends them again.
          this.persist(sid, { reports: [report], forget: refused.events.map((t) => t.event.id) });
        }
        // While a split is under way, the next part is at most its size (events first, then reports).
        const part = this.parts.get(sid)?.[0] ?? Infinity;
        const batch = takeWithin(queue, Math.min(this.o.batchSize, part), this.o.batchBytes);
        const sentReports = reports.slice(0, Math.max(0, part - batch.length));
        const withLoss: KitEvent[] = [...batch, ...sentReports];
        this.inFlight.set(sid, new Set(batch));
        try {
          await this.sink.postEvents(sid, withLoss);
          this.settle(sid, "stored");
          removeSent(queue, batch);
          this.persist(sid, { forget: batch.map((e) => e.id) });
          this.forgetReports(sid, sentReports);
          this.partDone(sid, withLoss.length);
          const latest = latestOf(withLoss);
          if (latest && !(Date.parse(this.storedAt.get(sid) ?? "") >= Date.parse(latest))) this.storedAt.set(sid, latest);
          this.failures = 0;
          this.nextAttemptAt = 0;
        } catch (err) {
          const retryable = (err as { retryable?: boolean }).retryable !== false;
          this.o.onError?.(err);
          const taken = this.takeOutRefused(sid, queue, batch, sentReports, err);
          if (taken !== null) {
            this.settle(sid, "not_stored");
            this.partDone(sid, taken);
            continue;
          }
          if (this.splitOrTakeOut(sid, queue, batch, sentReports, err)) {
            this.settle(sid, "not_stored");
            continue;
          }
          if (!retryable) {
            // Steward refused the batch (e.g. an unknown session): retrying cannot help.
            this.settle(sid, "refused");
            removeSent(queue, batch);
            this.persist(sid, { forget: batch.map((e) => e.id) });
            this.forgetReports(sid, sentReports);
            this.parts.delete(sid);
            continue;
          }
          for (const e of batch) this.unanswered.add(e);
          this.settle(sid, "unanswered");
          this.failures++;
          this.nextAttemptAt = Date.now() + Math.min(this.o.baseBackoffMs * 2 ** (this.failures - 1), this.o.maxBackoffMs);
          this.schedule(0);
          return;
        }
      }
      this.queues.delete(sid);
      this.restoredStarts.delete(sid);
      this.startsSaved.delete(sid);
    }
  }

  /**
   * A 400 naming only single events (Steward stored nothing of the batch): those events leave the queue for
   * a report, a report it names is dated again, and the rest is sent again. Returns how many items left the
   * batch, or null when that does not apply.
   */
  private takeOutRefused(sid: string, queue: KitEvent[], batch: KitEvent[], reports: KitEvent[], err: unknown): number | null {
    const { status, errors } = err as { status?: number; errors?: { field: string; reason: string }[] };
    if (status !== 400 || !errors?.length) return null;
    const why = new Map<number, string>();
    for (const { field, reason } of errors) {
      const i = eventIndexOf(field);
      if (i === null || i >= batch.length + reports.length) return null;
      why.set(i, [why.get(i), `${field.replace(/^body\.events\.\d+\.?/, "") || "event"}: ${reason}`].filter(Boolean).join(", "));
    }
    // The report's time: an event of this batch Steward did not name, else one it stored before, else the session's start.
    const known = latestOf(batch.filter((_, i) => !why.has(i))) ?? this.acceptedTime(sid);
    // With no accepted time known, now is the report's first guess; a refused "now" is not re-dated to a later now, endlessly.
    const at = known ?? new Date().toISOString();
    const taken: Taken = [];
    let gone = 0;
    for (const i of [...why.keys()].sort((a, b) => b - a)) {
      if (i < batch.length) {
        taken.unshift({ event: batch[i]!, why: why.get(i)!, status: 400 });
        continue;
      }
      const report = reports[i - batch.length]!;
      // Refused for its time: dated again; if no other time is known it cannot be sent (onError has the refusal).
      if (known !== null && report.occurredAt !== known) report.occurredAt = known;
      else {
        this.forgetReports(sid, [report]);
        gone++;
      }
    }
    this.takeOut(sid, queue, taken, at);
    return taken.length + gone;
  }

  /**
   * A 413, or a 400 that names no single event (Steward stored nothing): a batch of several is split in halves,
   * sent in turn; one alone is taken out and reported (a report alone is let go: onError has the refusal).
   * False when that does not apply.
   */
  private splitOrTakeOut(sid: string, queue: KitEvent[], batch: KitEvent[], reports: KitEvent[], err: unknown): boolean {
    const { status, message } = err as { status?: number; message?: string };
    if (status !== 413 && status !== 400) return false;
    const n = batch.length + reports.length;
    if (n > 1) {
      const rest = this.parts.get(sid)?.slice(1) ?? [];
      this.parts.set(sid, [Math.ceil(n / 2), Math.floor(n / 2), ...rest]);
      return true;
    }
    const why = status === 413 ? `too large for Steward alone (413: ${message ?? "payload too large"})` : `refused by Steward (400: ${message ?? "invalid request"})`;
    if (batch[0]) this.takeOut(sid, queue, [{ event: batch[0], why, status }], this.acceptedTime(sid) ?? new Date().toISOString());
    else this.forgetReports(sid, reports);
    this.partDone(sid, n);
    return true;
  }

  /** Counts events that left a full queue unstored: those sent without an answer apart (Steward may hold them). */
  private countDropped(sid: string, events: KitEvent[], unanswered = false): void {
    if (!events.length) return;
    const before = this.dropped.get(sid) ?? { count: 0, unconfirmed: 0, lastAt: events[0]!.occurredAt };
    const unconfirmed = events.filter((e) => unanswered || this.unanswered.has(e)).length;
    const latest = latestOf([...events, { occurredAt: before.lastAt } as KitEvent])!;
    const dropped = { count: before.count + events.length - unconfirmed, unconfirmed: before.unconfirmed + unconfirmed, lastAt: latest };
    this.dropped.set(sid, dropped);
    // Out of the store and into the count at once: a crash between the two would lose them or count them twice.
    this.persist(sid, { forget: events.map((e) => e.id), dropped });
  }

  /**
   * The batch's answer came: its events pushed out of the queue meanwhile were stored, or (not stored, no answer)
   * are dropped now, except those in a refusal report; a batch refused whole (unknown session) takes them with it.
   */
  private settle(sid: string, outcome: "stored" | "not_stored" | "unanswered" | "refused"): void {
    this.inFlight.delete(sid);
    const evicted = this.evicted.get(sid);
    this.evicted.delete(sid);
    if (!evicted || outcome === "stored" || outcome === "refused") return;
    const reported = new Set(this.refused.get(sid)?.events.map((t) => t.event));
    this.countDropped(sid, evicted.filter((e) => !reported.has(e)), outcome === "unanswered");
  }

  /** Takes events out of the queue (by identity: an overflow meanwhile may have moved it) into the next refusal report. */
  private takeOut(sid: string, queue: KitEvent[], taken: Taken, at: string): void {
    if (!taken.length) return;
    removeSent(queue, taken.map((t) => t.event));
    const before = this.refused.get(sid);
    this.refused.set(sid, { events: [...(before?.events ?? []), ...taken], at });
  }

  /** A time Steward accepts for a report when no event of the batch gives one: one it stored, else the session's start (kept in the store across a restart); null when none is known. */
  private acceptedTime(sid: string): string | null {
    return this.storedAt.get(sid) ?? this.o.sessionStart?.(sid) ?? this.restoredStarts.get(sid) ?? null;
  }

  /** Reports confirmed (or given up) leave the list of those resent until confirmed. */
  private forgetReports(sid: string, done: KitEvent[]): void {
    const reports = this.reports.get(sid);
    if (!reports || !done.length) return;
    removeSent(reports, done);
    if (!reports.length) this.reports.delete(sid);
    this.persist(sid, { forget: done.map((r) => r.id) });
  }

  /** `count` items of the current part are settled: the part shrinks, and goes when none is left. */
  private partDone(sid: string, count: number): void {
    const parts = this.parts.get(sid);
    if (!parts) return;
    parts[0] = parts[0]! - count;
    if (parts[0] <= 0) parts.shift();
    if (!parts.length) this.parts.delete(sid);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.o.store?.close?.();
  }
}
