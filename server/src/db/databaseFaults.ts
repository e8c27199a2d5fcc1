/**
 * Which database errors mean "the database is away or too slow right now" rather than a bug: they
 * become 503 with Retry-After (http/problem.ts), never a 500, and never crash the process.
 */
export type DatabaseFault = "unavailable" | "timeout";

/** PGlite has one connection: waiting longer than the connect timeout for it raises this. */
export class DatabaseBusyError extends Error {
  readonly code = "STEWARD_DB_BUSY";
  constructor(waitedMs: number) {
    super(`no database connection became free within ${waitedMs} ms`);
    this.name = "DatabaseBusyError";
  }
}

// SQLSTATE: 57014 query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout).
const TIMEOUT_STATES = new Set(["57014", "55P03", "STEWARD_DB_BUSY"]);
// Class 08 connection exceptions; 57P01-03 admin/crash shutdown, cannot connect now; 53300 too many connections.
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300", "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH", "EAI_AGAIN"]);
// node-postgres reports a lost or unobtainable connection with plain Error messages only.
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /Client has encountered a connection error and is not queryable/,
  /Client was closed and is not queryable/,
  /Cannot use a pool after calling end on the pool/,
  /terminating connection due to administrator command/,
];

export function databaseFault(err: unknown): DatabaseFault | undefined {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === "string") {
      if (TIMEOUT_STATES.has(code)) return "timeout";
      if (UNAVAILABLE_STATES.has(code) || code.startsWith("08")) return "unavailable";
    }
    if (typeof message === "string" && UNAVAILABLE_MESSAGES.some((m) => m.test(message))) return "unavailable";
  }
  return undefined;
}

/** An audit entry's staff guard found a cached staff row out of date (SQLSTATE SWSTF, migration 029; auth/staffCache.ts). */
export function isStaffChanged(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ("code" in e && e.code === "SWSTF") return true;
  }
  return false;
}
