import { randomUUID } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";

/**
 * One process per directory, enforced: a lock file holding the owner's pid and, on Linux, its start time. A lock
 * whose process is gone (a crash, a kill) is taken over, also when its pid now belongs to a process started later
 * (pid reuse); one of a live process is refused with an error naming the directory and pid.
 */
export class DirectoryLocked extends Error {
  readonly code = "directory_locked";
  constructor(
    readonly dir: string,
    readonly pid: number,
    readonly lockFile: string,
  ) {
    super(
      pid === process.pid
        ? `${dir} is already used by another FileEventStore of this process (lock file ${lockFile}): open one store per directory and share it`
        : `${dir} is in use by process ${pid} (lock file ${lockFile}): each product process needs a directory of its own. If process ${pid} is not a product process using it, delete the lock file.`,
    );
    this.name = "DirectoryLocked";
  }
}

/** Lock files held by stores of this process: a file with this pid and not in here is a leftover (pid 1 again after a container restart). */
const heldHere = new Set<string>();

/**
 * A process's start time (Linux: field 22 of /proc/<pid>/stat, in clock ticks since boot), so a pid reused by a
 * later process is told apart from the one that took the lock; null where there is no /proc (pid alone then).
 */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Counted after the command name, which may itself hold spaces and parentheses: field 3 is the first after ") ".
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    return start && /^[0-9]+$/.test(start) ? start : null;
  } catch {
    return null;
  }
}

/** What a lock file says: `<pid> <start time>`, or `<pid>` alone (no /proc, or written before start times were). */
function lockText(pid: number, start: string | null): string {
  return start === null ? `${pid}\n` : `${pid} ${start}\n`;
}

/** The holder in a lock file; pid NaN when it is not one (never written by a lock: taken over); null when there is no lock file. */
function holderOf(path: string): { pid: number; start: string | null; text: string } | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const match = /^([1-9][0-9]*)(?: ([0-9]+))?\n?$/.exec(text);
  return match ? { pid: Number(match[1]), start: match[2] ?? null, text } : { pid: NaN, start: null, text };
}

function isRunning(holder: { pid: number; start: string | null }, path: string): boolean {
  const { pid } = holder;
  if (Number.isNaN(pid)) return false;
  if (pid === process.pid) return heldHere.has(path);
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it runs, as another user.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  // Alive, but started at another time than the holder: the holder died and its pid was given to another process.
  const now = holder.start === null ? null : processStart(pid);
  return !(now !== null && now !== holder.start);
}

/** Creates the lock whole or not at all: written aside, then linked in place (fails if a lock exists), so no reader sees it half-written. */
function tryCreate(path: string): boolean {
  const aside = `${path}.${process.pid}.${randomUUID()}`;
  const fd = openSync(aside, "wx", 0o600);
  try {
    writeSync(fd, lockText(process.pid, processStart(process.pid)));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(aside, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    unlinkSync(aside);
  }
}

/** Moves a dead process's lock out of the way; if another process took it over in between, puts that one back. */
function removeStale(path: string, staleText: string): void {
  const aside = `${path}.stale.${process.pid}.${randomUUID()}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (readFileSync(aside, "utf8") !== staleText) {
    try {
      linkSync(aside, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  unlinkSync(aside);
}

export function lockDirectory(dir: string, path: string): void {
  for (let attempt = 0; attempt < 10; attempt++) {
    if (tryCreate(path)) {
      heldHere.add(path);
      return;
    }
    const holder = holderOf(path);
    if (!holder) continue;
    if (isRunning(holder, path)) throw new DirectoryLocked(dir, holder.pid, path);
    removeStale(path, holder.text);
  }
  throw new Error(`${dir}: could not take the lock file ${path} (other processes keep taking it over)`);
}

/** Removes the lock if it is still this process's. */
export function unlockDirectory(path: string): void {
  if (!heldHere.delete(path)) return;
  if (holderOf(path)?.pid === process.pid) unlinkSync(path);
}
