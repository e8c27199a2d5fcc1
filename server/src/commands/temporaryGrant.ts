import { Problem } from "../http/problem.js";

type GrantRow = { reverted_at: Date | string | null; expires_at: Date | string };

/** A temporary grant (role elevation, seat expansion) is ended once: by the sweep, or earlier by an agent. */
export function assertGrantOpen<T extends GrantRow>(row: T | undefined, what: string): T {
  if (!row) throw Problem.notFound(`No ${what}`);
  if (row.reverted_at) throw Problem.conflict("already_reverted", `${what} was already ended`);
  return row;
}

/** The sweep ends a grant only after it expires. */
export function assertGrantDue<T extends GrantRow>(row: T | undefined, what: string, now: Date): T {
  const open = assertGrantOpen(row, what);
  if (new Date(open.expires_at) > now) throw Problem.conflict("not_due", `${what} runs until ${new Date(open.expires_at).toISOString()}`);
  return open;
}

/** How the grant is ended: by the sweep once due (expire), or by an agent now (end). */
export type GrantEnding = "expire" | "end";

export function assertGrant<T extends GrantRow>(ending: GrantEnding, row: T | undefined, what: string, now: Date): T {
  return ending === "expire" ? assertGrantDue(row, what, now) : assertGrantOpen(row, what);
}
