import { randomUUID } from "node:crypto";
import { sql, type Kysely, type Transaction } from "kysely";
import type { ActionName } from "../../../shared/actions.js";
import type { AuditApproval, AuditEntry, AuditOutcome, TargetType } from "../../../shared/audit.js";
import type { TicketSnapshot } from "../../../shared/schemas/ticket.js";
import type { Actor, StaffActor } from "../actor.js";
import type { Clock } from "../clock.js";
import type { DB } from "../db/schema.js";
import { canonicalJson, contentOf, entryMac, jsonValue, type EntryContent } from "./auditHash.js";
import { toAuditEntry, toAuditRow } from "./auditRow.js";
import { canonicalJsonValue } from "./canonicalText.js";
import { ensureMonthPartition, forgetMonthPartition, isMissingPartition } from "./partitions.js";
import { failClosed } from "./failClosed.js";
import { auditKeys } from "./sealKey.js";

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
  /** The ticket as Zendesk showed it when the write was checked (ticketVerification.ts). */
  ticketSnapshot?: TicketSnapshot | null;
  /** Requester and approver of an action run through two-person approval. */
  approval?: AuditApproval | null;
}

/** An entry just written: its seq and MAC are known, its place in the chain is not yet (the sealer adds it). */
export type AppendedAuditEntry = AuditEntry & { seal: null };

/** The database would store something other than what was MACed (text it cannot hold as given). */
export class AuditEntryNotStorable extends Error {
  override name = "AuditEntryNotStorable";
  constructor(readonly field: string) {
    super(`the audit entry's ${field} would not be stored as given`);
  }
}

function firstDifference(sent: EntryContent, stored: EntryContent): string {
  for (const key of Object.keys(sent) as (keyof EntryContent)[]) {
    if (canonicalJson(sent[key]) !== canonicalJson(stored[key])) return key;
  }
  return "entry";
}

/**
 * Writes one entry. Call it INSIDE the transaction that changes state: the entry commits or rolls back
 * with the change. No lock is taken: the entry carries a MAC made with the audit key, and the sealer
 * chains committed entries shortly after (sealer.ts). The row is read back by the INSERT itself and must
 * equal what was MACed, so what is stored is what is authenticated; if not, this throws and the caller's
 * transaction fails. Given a plain Kysely it opens a transaction of its own for the same reason.
 */
export async function appendAudit(executor: Kysely<DB> | Transaction<DB>, input: AuditInput, clock: Clock): Promise<AppendedAuditEntry> {
  // Fail closed: an entry that cannot be written fails the request (503) and, in a transaction, its change.
  return failClosed(() => appendMaced(executor, input, clock));
}

async function appendMaced(executor: Kysely<DB> | Transaction<DB>, input: AuditInput, clock: Clock): Promise<AppendedAuditEntry> {
  const content = entryContent(input, { id: randomUUID(), occurredAt: clock.now().toISOString() });
  const mac = entryMac(auditKeys(), content);
  await ensureMonthPartition(executor, content.occurredAt);
  const values = toAuditRow(content, mac);
  const insert = () =>
    executor
      .insertInto("audit_log")
      .values(input.actor.kind === "staff" && input.actor.cachedAsOf ? { ...values, actor_role: staffGuarded(input.actor, input.actor.cachedAsOf) } : values)
      .returningAll()
      .executeTakeFirstOrThrow();
  const row = await insert().catch(async (err: unknown) => {
    if (!isMissingPartition(err)) throw err;
    // A month this process wrongly thought was there: forget it, create it, insert once more (outside a
    // transaction; inside one the failed statement has aborted it, and the caller's retry starts over).
    forgetMonthPartition(executor, content.occurredAt);
    if (executor.isTransaction) throw err;
    await ensureMonthPartition(executor, content.occurredAt);
    return insert();
  });
  // Every text is canonical before it is MACed (entryContent), so the row stores exactly what was MACed
  // by construction; this read-back is the tripwire that would catch a column or driver that changes a
  // value. A lookup's entry is one autocommit statement (no BEGIN/COMMIT round trips on the hot path),
  // so were the tripwire ever to fire there, the row stays and verify reports it: never a silent pass.
  const stored = toAuditEntry(row);
  if (canonicalJson(contentOf(stored)) !== canonicalJson(content) || stored.mac !== mac) throw new AuditEntryNotStorable(firstDifference(content, contentOf(stored)));
  return { ...stored, seal: null };
}

/** The actor's role, written only if their staff row is still the one the request was authorised from. */
function staffGuarded(actor: StaffActor, asOf: Date) {
  return sql<string>`steward_staff_as_of(${actor.panelRole}, ${actor.staffId}, ${asOf})`;
}

/** The entry's content as it is MACed and stored; exported for the benchmark's bulk loader, which must write identically. */
export function entryContent(input: AuditInput, place: { id: string; occurredAt: string }): EntryContent {
  const actor =
    input.actor.kind === "staff"
      ? { staffId: input.actor.staffId, zendeskUserId: input.actor.zendeskUserId, email: input.actor.email, panelRole: input.actor.panelRole, system: null }
      : { staffId: null, zendeskUserId: null, email: null, panelRole: null, system: input.actor.component };
  // Every text in canonical form before it is both stored and MACed (canonicalText.ts).
  return canonicalJsonValue({
    id: place.id,
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
    ...(input.ticketSnapshot ? { ticketSnapshot: jsonValue(input.ticketSnapshot) as TicketSnapshot } : {}),
    ...(input.approval ? { approval: jsonValue(input.approval) as AuditApproval } : {}),
  });
}
