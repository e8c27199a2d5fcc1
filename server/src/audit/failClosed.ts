import { Problem } from "../http/problem.js";

/**
 * A request whose audit entry cannot be written does not succeed: not a change, not a lookup, not a
 * refusal. appendAudit throws this for any failure to write its entry; inside a transaction it rolls
 * the change back with it, and the error middleware answers 503 and logs the cause.
 */
export class AuditWriteFailed extends Error {
  constructor(cause: unknown) {
    super(`the audit entry could not be written: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "AuditWriteFailed";
  }

  toProblem(): Problem {
    return Problem.unavailable("audit_unavailable", "The audit log could not record this request, so Steward did not complete it; try again shortly");
  }
}

export function auditWriteFailed(err: unknown): AuditWriteFailed {
  return err instanceof AuditWriteFailed ? err : new AuditWriteFailed(err);
}

/** Runs an audit write; any failure of it becomes AuditWriteFailed. */
export async function failClosed<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    throw auditWriteFailed(err);
  }
}
