import type { Request, Response } from "express";
import type { Kysely, Transaction } from "kysely";
import type { AuditEntry } from "../../../shared/audit.js";
import type { AuditExportFormat } from "../../../shared/schemas/audit.js";
import { exportContentTypes, exportFilename, incompleteExportError, streamExport } from "../audit/auditExport.js";
import type { AppendedAuditEntry } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { DB } from "../db/schema.js";
import { finishExportLink, recordExportStart, startExportHeartbeat } from "./exportLinks.js";

type Executor = Kysely<DB> | Transaction<DB>;

export interface TrackedExport {
  /** The export's row in console_export_links: its link's, or the one openHeaderExport made for a header export. */
  rowId: string;
  format: AuditExportFormat;
  /** Appends one audit.export entry: the started one, or (failed) the one saying the export did not complete. */
  entry: (executor: Executor, after: Record<string, unknown>, failed?: { error: string }) => Promise<AppendedAuditEntry>;
  /** The snapshot to export, taken while the heartbeat already runs: the started entry's `after`, the count, extra headers, the batches. */
  prepare: () => Promise<{ after: Record<string, unknown>; total: number | null; headers: Record<string, string>; batches: () => AsyncIterable<AuditEntry[]> }>;
  /** Names the export in log lines. */
  what: string;
}

/**
 * Streams an audit export recorded on its console_export_links row: a heartbeat from the start (even while
 * counting), the started entry and the row's start in one transaction, the end and (when incomplete) its second
 * entry in one transaction. A process that dies mid-stream leaves a heartbeat going stale, and whichever process
 * finds it settles the export as interrupted with one more entry (settleStalledExports).
 */
export async function runTrackedExport(db: Kysely<DB>, clock: Clock, req: Request, res: Response, run: TrackedExport): Promise<void> {
  const heartbeat = startExportHeartbeat(db, clock, run.rowId, {
    // Another process settled this stream as interrupted (and audited it): cut it, so the file is incomplete as recorded.
    settledElsewhere: () => res.destroy(new Error("export settled as interrupted")),
    // A progress write that fails costs the console its progress bar, never the file.
    writeFailed: (err: unknown) => req.log?.warn({ err }, `could not record ${run.what}'s progress`),
  });
  try {
    const prepared = await run.prepare();
    // The row names its export's entry in the same transaction, for the entry that would say it was interrupted.
    const started = await db
      .transaction()
      .execute(async (trx) => {
        const appended = await run.entry(trx, prepared.after);
        // Settled as interrupted while counting (the response is cut): the entry rolls back, no export starts.
        if (!(await recordExportStart(trx, run.rowId, { total: prepared.total, exportEntrySeq: appended.seq, at: clock.now() }))) throw new SettledElsewhere();
        return appended;
      })
      .catch((err: unknown) => {
        if (err instanceof SettledElsewhere) return undefined;
        throw err;
      });
    if (!started) return;
    res.status(200);
    res.setHeader("Content-Type", exportContentTypes[run.format]);
    res.setHeader("Content-Disposition", `attachment; filename="${exportFilename(run.format, clock.now())}"`);
    for (const [name, value] of Object.entries(prepared.headers)) res.setHeader(name, value);
    const end = await streamExport(res, run.format, counted(prepared.batches(), (rows) => (heartbeat.rows = rows)));
    await heartbeat.stop();
    if (!end.complete && end.cause === "failed") req.log?.error({ err: end.error }, `${run.what} failed mid-stream`);
    // The log is append-only: the started entry stays, and a second one says the export did not complete.
    const followUp = end.complete ? undefined : { after: { ...prepared.after, exportEntryId: started.id, rowsSent: end.rows, cause: end.cause }, error: incompleteExportError(end) };
    // The end and its entry together; a row settled meanwhile as interrupted has both already.
    await db
      .transaction()
      .execute(async (trx) => {
        const mine = await finishExportLink(trx, run.rowId, { rowsSent: end.rows, at: clock.now(), complete: end.complete, error: followUp?.error });
        if (mine && followUp) await run.entry(trx, followUp.after, { error: followUp.error });
      })
      // Unrecorded, the heartbeat goes stale and the export is settled as interrupted, with its entry.
      .catch((err: unknown) => req.log?.error({ err }, `could not record ${run.what}'s end`));
  } finally {
    await heartbeat.stop();
  }
}

/** Rolls back an export's start when its row was settled as interrupted by another process meanwhile. */
class SettledElsewhere extends Error {
  override name = "SettledElsewhere";
}

/** Passes the batches on, telling `count` the rows handed on so far (the heartbeat writes them). */
async function* counted<T>(batches: AsyncIterable<T[]>, count: (rows: number) => void): AsyncGenerator<T[]> {
  let rows = 0;
  for await (const batch of batches) {
    yield batch;
    rows += batch.length;
    count(rows);
  }
}
