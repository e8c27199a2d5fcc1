import { Problem } from "../http/problem.js";

/** A temporary grant (role elevation, seat expansion) may be ended once, and only after it expires. */
export function assertGrantDue<T extends { reverted_at: Date | string | null; expires_at: Date | string }>(row: T | undefined, what: string, now: Date): T {
  if (!row) throw Problem.notFound(`No ${what}`);
  if (row.reverted_at) throw Problem.conflict("already_reverted", `${what} was already ended`);
  if (new Date(row.expires_at) > now) throw Problem.conflict("not_due", `${what} runs until ${new Date(row.expires_at).toISOString()}`);
  return row;
}
