import { randomUUID } from "node:crypto";
import { sql, type Kysely, type Transaction } from "kysely";
import type { ActionName } from "../../../shared/actions.js";
import type { AuditEntry, AuditOutcome, TargetType } from "../../../shared/audit.js";
import type { Actor } from "../actor.js";
import type { Clock } from "../clock.js";
import type { DB } from "../db/schema.js";
import { GENESIS_HASH, hashAuditEntry, jsonValue, type HashedFields } from "./auditHash.js";
import { toAuditRow } from "./auditRow.js";
import { canonicalJsonValue } from "./canonicalText.js";
import { failClosed } from "./failClosed.js";

export interface AuditInput {
  actor: Actor;
  action: ActionName;
  target: { type: TargetType; id: string | null; accountId: string | null };
  /** Required by callers for every write; recorded for reads when the agent is on a ticket. */
  ticketId: string | null;
  reason?: string | null;
  /** State before/after what changed (stored as jsonb). */
  before?: unknown;
  after?: unknown;
  outcome: AuditOutcome;
  error?: string | null;
  requestId?: string | null;
  /** Links a `pending` intent to its later outcome entry (see operations.ts). */
  operationId?: string | null;
}

/** Advisory lock key ("STEW") that serialises appends so concurrent writers extend one chain. */
export const AUDIT_CHAIN_LOCK = 0x53544557;

/**
 * Appends one entry to the hash chain. Call it INSIDE the transaction that changes state, as its last
 * statement (the chain lock is held until that transaction ends): the entry commits or rolls back with
 * the change, and a rollback leaves no gap. Given a plain Kysely it opens a transaction of its own.
 * The transaction must be READ COMMITTED (the default) so it sees the chain head after taking the lock.
 */
export async function appendAudit(executor: Kysely<DB> | Transaction<DB>, input: AuditInput, clock: Clock): Promise<AuditEntry> {
  // Fail closed: an entry that cannot be written fails the request (503) and, in a transaction, its change.
  return failClosed(() => appendChained(executor, input, clock));
}

async function appendChained(executor: Kysely<DB> | Transaction<DB>, input: AuditInput, clock: Clock): Promise<AuditEntry> {
  if (!executor.isTransaction) {
    return executor.transaction().execute((trx) => appendChained(trx, input, clock));
  }
  await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_CHAIN_LOCK)})`.execute(executor);
  const head = await executor.selectFrom("audit_log").select(["seq", "hash", "occurred_at"]).orderBy("seq", "desc").limit(1).executeTakeFirst();
  const now = clock.now();
  const entry = buildEntry(input, {
    id: randomUUID(),
    seq: (head?.seq ?? 0) + 1,
    // Never before the previous entry (a clock stepping back, another instance's skew): time order = seq order, which search relies on.
    occurredAt: (head && head.occurred_at > now ? head.occurred_at : now).toISOString(),
    prevHash: head?.hash ?? GENESIS_HASH,
  });
  await executor.insertInto("audit_log").values(toAuditRow(entry)).execute();
  return entry;
}

/** The entry as stored and hashed; exported for the benchmark's bulk loader, which must chain identically. */
export function buildEntry(input: AuditInput, place: { id: string; seq: number; occurredAt: string; prevHash: string }): AuditEntry {
  const actor =
    input.actor.kind === "staff"
      ? { staffId: input.actor.staffId, zendeskUserId: input.actor.zendeskUserId, email: input.actor.email, panelRole: input.actor.panelRole, system: null }
      : { staffId: null, zendeskUserId: null, email: null, panelRole: null, system: input.actor.component };
  // Every text in canonical form before it is both stored and hashed (canonicalText.ts).
  const fields: HashedFields = canonicalJsonValue({
    id: place.id,
    seq: place.seq,
    occurredAt: place.occurredAt,
    actor,
    action: input.action,
    target: { type: input.target.type, id: input.target.id, accountId: input.target.accountId },
    ticketId: input.ticketId,
    reason: input.reason ?? null,
    before: jsonValue(input.before),
    after: jsonValue(input.after),
    outcome: input.outcome,
    error: input.error ?? null,
    requestId: input.requestId ?? null,
    operationId: input.operationId ?? null,
    prevHash: place.prevHash,
  });
  return { ...fields, hash: hashAuditEntry(fields) };
}
