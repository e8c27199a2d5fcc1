import type { KitEvent } from "./types.js";

/**
 * Events waiting to reach Steward, per session: sent in batches (at most `batchSize`), retried with
 * exponential backoff when Steward is unreachable or failing, bounded (the oldest are dropped past
 * `maxBuffered`, and the count of dropped events is reported with the next batch), flushed on end.
 */
export interface EventSink {
  postEvents(sid: string, events: KitEvent[]): Promise<void>;
}

export interface EventBufferOptions {
  batchSize?: number;
  maxBuffered?: number;
  flushIntervalMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (err: unknown) => void;
}

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

export class EventBuffer {
  private readonly queues = new Map<string, KitEvent[]>();
  /** Events dropped per session, and when the latest of them happened (the report's time: within the session). */
  private readonly dropped = new Map<string, { count: number; lastAt: string }>();
  /** Loss reports made but not yet confirmed: sent again as they are (same id), so a retry is not a second report. */
  private readonly reports = new Map<string, KitEvent[]>();
  private failures = 0;
  private nextAttemptAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;
  private readonly o: Required<Omit<EventBufferOptions, "onError">> & Pick<EventBufferOptions, "onError">;

  constructor(
    private readonly sink: EventSink,
    options: EventBufferOptions = {},
  ) {
    this.o = { batchSize: 50, maxBuffered: 1000, flushIntervalMs: 1000, baseBackoffMs: 250, maxBackoffMs: 8000, ...options };
  }

  add(sid: string, event: KitEvent): void {
    const queue = this.queues.get(sid) ?? [];
    queue.push(event);
    if (queue.length > this.o.maxBuffered) {
      const gone = queue.splice(0, queue.length - this.o.maxBuffered);
      this.dropped.set(sid, { count: (this.dropped.get(sid)?.count ?? 0) + 1, lastAt: gone.at(-1)?.occurredAt ?? event.occurredAt });
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
      while (queue.length > 0) {
        const lost = this.dropped.get(sid);
        const reports = this.reports.get(sid) ?? [];
        // A few reports at most wait at once (each may already be stored); later losses add to the count meanwhile.
        // Dated when the last loss happened: Steward refuses times outside the session, which may have ended since.
        if (lost && reports.length < 5) {
          reports.push({ id: `dropped-${Date.now()}-${lost.count}`, method: "GET", route: "kit: events dropped (buffer full)", object: null, outcome: "failed", status: null, detail: `${lost.count} events were dropped while Steward was unreachable`, occurredAt: lost.lastAt });
          this.reports.set(sid, reports);
          this.dropped.delete(sid);
        }
        const batch = takeWithin(queue, this.o.batchSize, BATCH_BYTES);
        const withLoss: KitEvent[] = [...batch, ...reports];
        try {
          await this.sink.postEvents(sid, withLoss);
          queue.splice(0, batch.length);
          this.reports.delete(sid);
          this.failures = 0;
          this.nextAttemptAt = 0;
        } catch (err) {
          const retryable = (err as { retryable?: boolean }).retryable !== false;
          this.o.onError?.(err);
          if (!retryable) {
            // Steward refused the batch (e.g. an unknown session): retrying cannot help.
            queue.splice(0, batch.length);
            this.reports.delete(sid);
            continue;
          }
          this.failures++;
          this.nextAttemptAt = Date.now() + Math.min(this.o.baseBackoffMs * 2 ** (this.failures - 1), this.o.maxBackoffMs);
          this.schedule(0);
          return;
        }
      }
      this.queues.delete(sid);
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
