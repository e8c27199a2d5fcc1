import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import type { EventStore, EventStoreChange, PendingEvents } from "../core/eventStore.js";
import type { Dropped } from "../core/lossReports.js";
import type { KitEvent } from "../core/types.js";
import { lockDirectory, unlockDirectory } from "./directoryLock.js";

/**
 * The event buffer's store in a directory of the product's: one append-only journal of JSON lines
 * (`events.jsonl`), each change a line fsync'd before `save` returns. Rewritten to what is still pending
 * at open and whenever the journal holds several times more lines than that (a new file, fsync'd, renamed
 * over the old), so it does not grow forever. A line a crash cut short is skipped, not fatal: it was never
 * acknowledged. One process per directory: each of several product processes needs its own. That is enforced
 * with a lock file (`events.lock`, the owner's pid and start time) taken when the store is made and let go by `close()`; a
 * directory in use by a live process is refused (DirectoryLocked), a dead one's lock is taken over.
 */
export class FileEventStore implements EventStore {
  readonly path: string;
  readonly lockPath: string;
  /** Lines of the journal that could not be read at open (a crash in the middle of a write): skipped. */
  skipped = 0;
  private readonly pending = new Map<string, { events: Map<string, KitEvent>; reports: Map<string, KitEvent>; dropped: Dropped | null; startedAt: string | null }>();
  private fd: number | null = null;
  private lines = 0;
  private loaded = false;
  private locked = false;

  constructor(
    readonly dir: string,
    private readonly options: { compactAfterLines?: number } = {},
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.path = join(dir, "events.jsonl");
    this.lockPath = resolve(dir, "events.lock");
    this.lock();
  }

  /** Two processes on one journal would interleave their lines and compact each other's away. */
  private lock(): void {
    if (this.locked) return;
    lockDirectory(this.dir, this.lockPath);
    this.locked = true;
  }

  load(): Map<string, PendingEvents> {
    this.lock();
    let text = "";
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.pending.clear();
    this.skipped = 0;
    this.loaded = true;
    for (const line of text.split("\n")) {
      if (!line) continue;
      const entry = parseLine(line);
      if (entry) this.apply(entry.sid, entry);
      else this.skipped++;
    }
    // Rewritten at once: a torn last line must not have the next one appended to it.
    this.compact();
    const loaded = new Map<string, PendingEvents>();
    for (const [sid, p] of this.pending) loaded.set(sid, { events: [...p.events.values()], reports: [...p.reports.values()], dropped: p.dropped, startedAt: p.startedAt });
    return loaded;
  }

  save(sid: string, change: EventStoreChange): void {
    this.lock();
    // Never a fresh journal over one not read yet: what a previous process left stays for the next start.
    if (!this.loaded) this.load();
    if (this.fd === null) this.compact();
    this.apply(sid, change);
    write(this.fd!, `${JSON.stringify({ sid, ...change })}\n`);
    fsyncSync(this.fd!);
    this.lines++;
    const live = [...this.pending.values()].reduce((n, p) => n + p.events.size + p.reports.size, 0);
    if (this.lines > Math.max(this.options.compactAfterLines ?? 1000, 4 * live)) this.compact();
  }

  close(): void {
    this.closeJournal();
    if (this.locked) unlockDirectory(this.lockPath);
    this.locked = false;
  }

  private closeJournal(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private apply(sid: string, change: EventStoreChange): void {
    const p = this.pending.get(sid) ?? { events: new Map(), reports: new Map(), dropped: null, startedAt: null };
    for (const e of change.events ?? []) p.events.set(e.id, e);
    for (const r of change.reports ?? []) p.reports.set(r.id, r);
    for (const id of change.forget ?? []) {
      p.events.delete(id);
      p.reports.delete(id);
    }
    if (change.dropped !== undefined) p.dropped = change.dropped;
    if (change.startedAt !== undefined) p.startedAt = change.startedAt;
    if (p.events.size || p.reports.size || p.dropped) this.pending.set(sid, p);
    else this.pending.delete(sid);
  }

  /** Writes what is pending to a new journal and puts it in the old one's place: the old one stays whole until then. */
  private compact(): void {
    const next = `${this.path}.next`;
    const fd = openSync(next, "w", 0o600);
    let lines = 0;
    try {
      for (const [sid, p] of this.pending) {
        write(fd, `${JSON.stringify({ sid, events: [...p.events.values()], reports: [...p.reports.values()], dropped: p.dropped, ...(p.startedAt ? { startedAt: p.startedAt } : {}) })}\n`);
        lines++;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(next, this.path);
    syncDir(this.dir);
    this.closeJournal();
    this.fd = openSync(this.path, "a", 0o600);
    this.lines = lines;
  }
}

function write(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let at = 0;
  while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
}

/** The rename is durable only once the directory is (not possible on every platform: then as durable as it gets). */
function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    /* Windows cannot open a directory */
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

function isEvent(value: unknown): value is KitEvent {
  const e = value as Partial<KitEvent> | null;
  return typeof e === "object" && e !== null && typeof e.id === "string" && typeof e.method === "string" && typeof e.route === "string" && typeof e.occurredAt === "string" && typeof e.outcome === "string";
}

function isDropped(value: unknown): value is Dropped | null {
  const d = value as Partial<Dropped> | null;
  return d === null || (typeof d === "object" && typeof d.count === "number" && typeof d.unconfirmed === "number" && typeof d.lastAt === "string");
}

/** A journal line, or null when it is not one whole (cut short by a crash, or not ours). */
function parseLine(line: string): (EventStoreChange & { sid: string }) | null {
  let entry: (EventStoreChange & { sid?: unknown }) | null;
  try {
    entry = JSON.parse(line) as EventStoreChange & { sid?: unknown };
  } catch {
    return null;
  }
  if (typeof entry !== "object" || entry === null || typeof entry.sid !== "string") return null;
  const { events = [], reports = [], forget = [], dropped, startedAt } = entry;
  if (!Array.isArray(events) || !events.every(isEvent) || !Array.isArray(reports) || !reports.every(isEvent)) return null;
  if (!Array.isArray(forget) || !forget.every((id) => typeof id === "string") || (dropped !== undefined && !isDropped(dropped))) return null;
  if (startedAt !== undefined && typeof startedAt !== "string") return null;
  return { sid: entry.sid, events, reports, forget, ...(dropped !== undefined ? { dropped } : {}), ...(startedAt !== undefined ? { startedAt } : {}) };
}
