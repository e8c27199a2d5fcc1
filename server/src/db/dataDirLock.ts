import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";

/**
 * One process per PGlite directory. PGlite is PostgreSQL running inside this process, with no
 * server to arbitrate: two processes on one directory each write their own view of it and one loses
 * acknowledged writes. So opening a directory takes `steward.lock` in it (pid, start time, host,
 * command); a second server or CLI command is refused while the holder lives, and a lock left by a
 * process that died (crash, kill -9, reboot) is taken over.
 */

export const LOCK_FILE = "steward.lock";

interface LockHolder {
  pid: number;
  /** The process's start time from /proc (Linux), so a reused pid is not mistaken for the holder. */
  procStart: string | null;
  host: string;
  since: string;
  command: string;
}

/** Thrown when another live process holds the directory; the message says what to do. */
export class DataDirInUse extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder | null,
  ) {
    const who = holder ? `process ${holder.pid} (${holder.command}, since ${holder.since}${holder.host !== hostname() ? ` on host ${holder.host}` : ""})` : "another process";
    super(
      `the PGlite data directory ${dataDir} is in use by ${who}. Only one Steward process may open a PGlite directory at a time: ` +
        `stop the running server first (or use the API while it runs), or use PostgreSQL (DATABASE_URL) to run several processes. ` +
        `If no such process exists, delete ${join(dataDir, LOCK_FILE)}.`,
    );
    this.name = "DataDirInUse";
  }
}

/** Locks this process holds, released on close or, at the latest, on exit. */
const held = new Map<string, string>();
let exitHookInstalled = false;

function procStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime), counted after the command name, which may itself contain spaces and parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readHolder(path: string): { text: string; holder: LockHolder | null } | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    return typeof parsed.pid === "number" ? { text, holder: parsed as LockHolder } : { text, holder: null };
  } catch {
    return { text, holder: null };
  }
}

/** Whether the recorded holder is still running (on this host; another host's lock is never taken over). */
function holderLives(holder: LockHolder, path: string): boolean {
  if (holder.host !== hostname()) return true;
  // Our own pid on a lock we did not take: a previous incarnation (a container restarted with the same pid).
  if (holder.pid === process.pid) return held.has(path);
  if (!isAlive(holder.pid)) return false;
  const now = procStart(holder.pid);
  return !(holder.procStart && now && holder.procStart !== now);
}

function releaseAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const path of held.keys()) release(path);
  });
}

function release(path: string): void {
  const mine = held.get(path);
  held.delete(path);
  // Only our own lock: never remove one that another process took over meanwhile.
  if (mine !== undefined && readHolder(path)?.text === mine) {
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  }
}

/** Takes the directory's lock or throws DataDirInUse; returns the release function. */
export function lockDataDir(dataDir: string, command = process.argv.slice(1).join(" ") || "node"): () => void {
  const dir = resolve(dataDir);
  const path = join(dir, LOCK_FILE);
  const text = JSON.stringify({ pid: process.pid, procStart: procStart(process.pid), host: hostname(), since: new Date().toISOString(), command } satisfies LockHolder);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const found = readHolder(path);
      if (!found) continue; // released meanwhile: try again
      // An unreadable lock may be one being written this instant: never take it over on sight.
      if (!found.holder || holderLives(found.holder, path)) throw new DataDirInUse(dir, found.holder);
      // Stale: remove it only if it is still the same stale lock, then compete for it with wx again.
      if (readHolder(path)?.text === found.text) {
        try {
          unlinkSync(path);
        } catch {
          // Another process removed it first.
        }
      }
      continue;
    }
    // Two takers of one stale lock: the one whose file survived holds it.
    if (readHolder(path)?.text !== text) throw new DataDirInUse(dir, readHolder(path)?.holder ?? null);
    held.set(path, text);
    releaseAllOnExit();
    return () => release(path);
  }
  throw new DataDirInUse(dir, readHolder(path)?.holder ?? null);
}
