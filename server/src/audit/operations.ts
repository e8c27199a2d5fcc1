import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { AuditEntry } from "../../../shared/audit.js";
import type { Clock } from "../clock.js";
import type { DB } from "../db/schema.js";
import { appendAudit, type AuditInput } from "./auditLog.js";
import { toAuditEntry } from "./auditRow.js";

/**
 * External side effects (Auth0, Stripe) cannot share our transaction, so they are bracketed: a
 * `pending` intent is committed first, then an outcome entry with the same operation id. An intent
 * with no outcome means the process died in between; the recovery sweep finds those here.
 */
export function newOperationId(): string {
  return randomUUID();
}

export interface AuditIntent {
  operationId: string;
  entry: AuditEntry;
  input: AuditInput;
}

/** Commits the `pending` entry in its own transaction, before the provider is called. */
export async function recordIntent(db: Kysely<DB>, input: Omit<AuditInput, "outcome" | "operationId">, clock: Clock): Promise<AuditIntent> {
  const operationId = newOperationId();
  const full: AuditInput = { ...input, outcome: "pending", operationId };
  const entry = await appendAudit(db, full, clock);
  return { operationId, entry, input: full };
}

export type OperationResult = { outcome: "succeeded"; after?: unknown } | { outcome: "failed"; error: string; after?: unknown };

/** The outcome entry for an intent: same actor, action, target, ticket and reason, with the result. */
export async function recordOutcome(db: Kysely<DB>, intent: AuditIntent, result: OperationResult, clock: Clock): Promise<AuditEntry> {
  return appendAudit(
    db,
    {
      ...intent.input,
      outcome: result.outcome,
      after: result.after ?? intent.input.after,
      error: result.outcome === "failed" ? result.error : null,
    },
    clock,
  );
}

/** Intents older than `olderThan` that never got an outcome entry, oldest first. */
export async function listUnresolvedIntents(db: Kysely<DB>, options: { olderThan?: Date; limit?: number } = {}): Promise<AuditEntry[]> {
  let query = db
    .selectFrom("audit_log as intent")
    .selectAll("intent")
    .where("intent.outcome", "=", "pending")
    .where("intent.operation_id", "is not", null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom("audit_log as outcome")
            .select("outcome.seq")
            .whereRef("outcome.operation_id", "=", "intent.operation_id")
            .where("outcome.outcome", "!=", "pending"),
        ),
      ),
    );
  if (options.olderThan) query = query.where("intent.occurred_at", "<", options.olderThan);
  const rows = await query.orderBy("intent.seq", "asc").limit(options.limit ?? 100).execute();
  return rows.map(toAuditEntry);
}
