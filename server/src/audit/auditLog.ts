import { randomUUID } from "node:crypto";
import { sql, type Insertable, type Kysely, type RawBuilder, type Selectable, type Transaction } from "kysely";
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
  const plain = toAuditRow(content, mac);
  const row: AuditRowValues = input.actor.kind === "staff" && input.actor.cachedAsOf ? { ...plain, actor_role: staffGuarded(input.actor, input.actor.cachedAsOf) } : plain;
  // Inside a transaction the entry commits with the change; on its own it joins the next shared INSERT.
  const stored = executor.isTransaction ? await insertOne(executor, row, content.occurredAt) : await appendBatcher(executor).add(row, content.occurredAt);
  // Every text is canonical before it is MACed (entryContent), so the row stores exactly what was MACed
  // by construction; this read-back is the tripwire that would catch a column or driver that changes a
  // value. A lookup's entry is an autocommit statement (no BEGIN/COMMIT round trips on the hot path),
  // so were the tripwire ever to fire there, the row stays and verify reports it: never a silent pass.
  const entry = toAuditEntry(stored);
  if (canonicalJson(contentOf(entry)) !== canonicalJson(content) || entry.mac !== mac) throw new AuditEntryNotStorable(firstDifference(content, contentOf(entry)));
  return { ...entry, seal: null };
}

type AuditRowValues = Insertable<DB["audit_log"]> | (Omit<Insertable<DB["audit_log"]>, "actor_role"> & { actor_role: RawBuilder<string> });
type AuditRowRead = Selectable<DB["audit_log"]>;

async function insertOne(executor: Kysely<DB> | Transaction<DB>, row: AuditRowValues, occurredAt: string): Promise<AuditRowRead> {
  const insert = () => executor.insertInto("audit_log").values(row).returningAll().executeTakeFirstOrThrow();
  return insert().catch(async (err: unknown) => {
    if (!isMissingPartition(err)) throw err;
    // A month this process wrongly thought was there: forget it, create it, insert once more (outside a
    // transaction; inside one the failed statement has aborted it, and the caller's retry starts over).
    forgetMonthPartition(executor, occurredAt);
    if (executor.isTransaction) throw err;
    await ensureMonthPartition(executor, occurredAt);
    return insert();
  });
}

/**
 * Group commit for entries written on their own (lookups, refusals, failures). Each such entry used to be a
 * commit of its own, so appends were bound by the disk's flush rate. Entries that arrive while INSERTs are in
 * flight wait and go together in the next multi-row INSERT: one statement, one commit, and each caller is
 * answered only after that commit, so nothing is acknowledged that is not stored (fail closed as before).
 * At low load an entry goes at once, alone: no added wait. If the shared INSERT is refused by the database
 * (a statement error, so nothing of it committed) each entry is tried alone, so one entry's refusal (a staff
 * row that changed, say) fails that request only. A lost connection fails them all: whether their commit
 * happened is unknown, and trying again could store them twice.
 */
class AppendBatcher {
  private queue: { row: AuditRowValues; occurredAt: string; resolve: (row: AuditRowRead) => void; reject: (err: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(private readonly db: Kysely<DB>) {}

  add(row: AuditRowValues, occurredAt: string): Promise<AuditRowRead> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, occurredAt, resolve, reject });
      if (this.inFlight < MAX_INSERTS_IN_FLIGHT) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.inFlight++;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_ROWS_PER_INSERT);
        await this.insert(batch);
      }
    } finally {
      this.inFlight--;
    }
  }

  private async insert(batch: AppendBatcher["queue"]): Promise<void> {
    if (batch.length === 1) {
      const [one] = batch as [AppendBatcher["queue"][number]];
      await insertOne(this.db, one.row, one.occurredAt).then(one.resolve, one.reject);
      return;
    }
    let rows: AuditRowRead[];
    try {
      rows = await this.db.insertInto("audit_log").values(batch.map((b) => b.row)).returningAll().execute();
    } catch (err) {
      if (!refusedWhole(err)) {
        for (const b of batch) b.reject(err);
        return;
      }
      await Promise.all(batch.map((b) => insertOne(this.db, b.row, b.occurredAt).then(b.resolve, b.reject)));
      return;
    }
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const b of batch) {
      const stored = byId.get(b.row.id as string);
      if (stored) b.resolve(stored);
      else b.reject(new Error(`the shared audit INSERT returned no row for entry ${String(b.row.id)}`));
    }
  }
}

/** Two INSERTs at once keep the pool busy without queueing every lookup behind one commit. */
const MAX_INSERTS_IN_FLIGHT = 2;
/** 22 columns × 500 rows stays well under PostgreSQL's 65,535 bind parameters. */
const MAX_ROWS_PER_INSERT = 500;

const batchers = new WeakMap<Kysely<DB>, AppendBatcher>();
function appendBatcher(db: Kysely<DB>): AppendBatcher {
  let batcher = batchers.get(db);
  if (!batcher) batchers.set(db, (batcher = new AppendBatcher(db)));
  return batcher;
}

/**
 * The database refused the statement itself (a constraint, a raised exception, bad data, a missing
 * partition): in autocommit nothing of it was stored, so its entries may be tried again one by one. Not a
 * lost connection, a cancel or a server shutdown (SQLSTATE classes 08, 57, 53, 58, XX), nor an error
 * without a SQLSTATE: the commit may have happened.
 */
function refusedWhole(err: unknown): boolean {
  const code = err instanceof Error && "code" in err && typeof err.code === "string" ? err.code : undefined;
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code) && !/^(08|57|53|58|XX)/.test(code);
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
