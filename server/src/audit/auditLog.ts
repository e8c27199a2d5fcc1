import { randomUUID } from "node:crypto";
import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from "kysely";
import type { ActionName } from "../../../shared/actions.js";
import type { AuditApproval, AuditEntry, AuditOutcome, TargetType } from "../../../shared/audit.js";
import type { TicketSnapshot } from "../../../shared/schemas/ticket.js";
import type { Actor } from "../actor.js";
import type { Clock } from "../clock.js";
import { preparedMark } from "../db/database.js";
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
  const row: PendingRow = { values: toAuditRow(content, mac), guard: input.actor.kind === "staff" && input.actor.cachedAsOf ? { staffId: input.actor.staffId, asOf: input.actor.cachedAsOf } : null };
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

/**
 * An entry's column values, and for an actor authorised from the cached staff row, that row's version: the
 * role is then written only if the staff row is still that one (steward_staff_as_of raises otherwise).
 */
interface PendingRow {
  values: Insertable<DB["audit_log"]>;
  guard: { staffId: string; asOf: Date } | null;
}
type AuditRowRead = Selectable<DB["audit_log"]>;

/** Every column an entry is written with, always all of them and in this order: the statement's text depends only on the row count. */
const WRITTEN = [
  "id", "occurred_at", "actor_staff_id", "actor_zendesk_user_id", "actor_email", "actor_role", "actor_system", "action", "target_type", "target_id",
  "target_account_id", "ticket_id", "reason", "before", "after", "outcome", "error", "request_id", "operation_id", "mac", "ticket_snapshot", "approval",
] as const satisfies readonly (keyof Insertable<DB["audit_log"]>)[];
/** Listed, not `*`: a named statement whose result shape a later migration changed would fail on every connection that prepared it. */
const READ_BACK = [...WRITTEN, "seq", "tx"] as const satisfies readonly (keyof AuditRowRead)[];
/**
 * Statements of up to this many rows are named (parsed and planned once per connection): planning an INSERT
 * into the partitioned table was about a third of an append's database time. Larger bursts are rare and go unnamed.
 */
const NAMED_UP_TO = 32;

/**
 * Per row count: the statement's text around its parameters, built once (it depends on nothing else). Each
 * row's parameters are its columns in WRITTEN's order, the role and staff id again and the guard's time
 * twice (rowParameters): one `case` expression serves guarded and plain rows alike.
 */
const appendFragments = new Map<number, string[]>();

function appendStatementFragments(count: number): string[] {
  const known = appendFragments.get(count);
  if (known) return known;
  const quoted = (columns: readonly string[]) => columns.map((c) => `"${c}"`).join(", ");
  const fragments: string[] = [`${count <= NAMED_UP_TO ? preparedMark(`audit_append_${count}`) : ""}insert into audit_log (${quoted(WRITTEN)}) values (`];
  for (let r = 0; r < count; r++) {
    if (r > 0) fragments[fragments.length - 1] += "), (";
    WRITTEN.forEach((column, c) => {
      if (c > 0) fragments[fragments.length - 1] += ", ";
      if (column === "actor_role") {
        // case when $asOf is null then $role else steward_staff_as_of($role, $staffId, $asOf) end
        fragments[fragments.length - 1] += "case when ";
        fragments.push("::timestamptz is null then ", "::text else steward_staff_as_of(", "::text, ", "::text, ", "::timestamptz) end");
      } else fragments.push("");
    });
  }
  fragments[fragments.length - 1] += `) returning ${quoted(READ_BACK)}`;
  if (count <= NAMED_UP_TO) appendFragments.set(count, fragments);
  return fragments;
}

function rowParameters({ values, guard }: PendingRow): unknown[] {
  const asOf = guard?.asOf ?? null;
  return WRITTEN.flatMap((column) => (column === "actor_role" ? [asOf, values.actor_role ?? null, values.actor_role ?? null, values.actor_staff_id ?? null, asOf] : [values[column] ?? null]));
}

/** The shared statement for these rows: its text is fixed per row count, so only the parameters are new (one node to compile, plugins still see it). */
async function insertRows(executor: Kysely<DB> | Transaction<DB>, rows: PendingRow[]): Promise<AuditRowRead[]> {
  const fragments = appendStatementFragments(rows.length);
  const statement = sql<AuditRowRead>(fragments as unknown as TemplateStringsArray, ...rows.flatMap(rowParameters));
  return (await statement.execute(executor)).rows;
}

async function insertOne(executor: Kysely<DB> | Transaction<DB>, row: PendingRow, occurredAt: string): Promise<AuditRowRead> {
  const insert = async () => {
    const [stored] = await insertRows(executor, [row]);
    if (!stored) throw new Error(`the audit INSERT returned no row for entry ${String(row.values.id)}`);
    return stored;
  };
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
  private queue: { row: PendingRow; occurredAt: string; resolve: (row: AuditRowRead) => void; reject: (err: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(private readonly db: Kysely<DB>) {}

  add(row: PendingRow, occurredAt: string): Promise<AuditRowRead> {
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
      rows = await insertRows(this.db, batch.map((b) => b.row));
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
      const stored = byId.get(b.row.values.id as string);
      if (stored) b.resolve(stored);
      else b.reject(new Error(`the shared audit INSERT returned no row for entry ${String(b.row.values.id)}`));
    }
  }
}

/** Two INSERTs at once keep the pool busy without queueing every lookup behind one commit. */
const MAX_INSERTS_IN_FLIGHT = 2;
/** 26 bind parameters × 500 rows stays well under PostgreSQL's 65,535. */
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
