import { randomUUID } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";

/**
 * One process per directory, enforced: a lock file holding the owner's pid. A lock whose process is gone (a
 * crash, a kill) is taken over; one of a live process is refused with an error naming the directory and pid.
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

/** The pid in a lock file; NaN when it is not one (never written by a lock: taken over); null when there is no lock file. */
function holderOf(path: string): { pid: number; text: string } | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const pid = /^[1-9][0-9]*\n?$/.test(text) ? Number(text) : NaN;
  return { pid, text };
}

function isRunning(pid: number, path: string): boolean {
  if (Number.isNaN(pid)) return false;
  if (pid === process.pid) return heldHere.has(path);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates the lock whole or not at all: written aside, then linked in place (fails if a lock exists), so no reader sees it half-written. */
function tryCreate(path: string): boolean {
  const aside = `${path}.${process.pid}.${randomUUID()}`;
  const fd = openSync(aside, "wx", 0o600);
  try {
    writeSync(fd, `${process.pid}\n`);
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
    if (isRunning(holder.pid, path)) throw new DirectoryLocked(dir, holder.pid, path);
    removeStale(path, holder.text);
  }
  throw new Error(`${dir}: could not take the lock file ${path} (other processes keep taking it over)`);
}

/** Removes the lock if it is still this process's. */
export function unlockDirectory(path: string): void {
  if (!heldHere.delete(path)) return;
  if (holderOf(path)?.pid === process.pid) unlinkSync(path);
}
