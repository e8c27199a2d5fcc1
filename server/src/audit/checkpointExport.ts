import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { DB } from "../db/schema.js";
import { toCheckpoint, type CheckpointSink } from "./checkpoints.js";

export interface ExportOptions {
  now: () => Date;
  /** Checkpoints sent to one sink per call, at most. */
  batchSize?: number;
  /** How long a process may hold a sink before another may take it over (it stops sending at half of it). */
  leaseMs?: number;
}

/**
 * Sends each sink the signed checkpoints it has not had, oldest first, recording after each one how far it
 * has got (migration 038), so a checkpoint the sink took is not lost to a restart or a crash: the next process
 * to run carries on from there. A sink seen for the first time starts with the newest checkpoint (it covers
 * the whole chain before it). A lease on the sink's row keeps two processes from sending the same checkpoints
 * at once; a process that died holding it is taken over when it runs out. At least once, not exactly once:
 * a checkpoint sent just before a crash is sent again, which both sinks take as the same (one file per
 * position; an endpoint keys on chainSeq).
 *
 * Returns how many checkpoints were sent. A sink that fails throws, after the others were tried; what it had
 * taken before the failure stays recorded.
 */
export async function exportPendingCheckpoints(db: Kysely<DB>, sinks: CheckpointSink[], publicKeyPem: string, options: ExportOptions): Promise<number> {
  let sent = 0;
  const failures: unknown[] = [];
  for (const sink of sinks) {
    try {
      sent += await exportToSink(db, sink, publicKeyPem, options);
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, "checkpoint sinks failed");
  return sent;
}

async function exportToSink(db: Kysely<DB>, sink: CheckpointSink, publicKeyPem: string, options: ExportOptions): Promise<number> {
  const batchSize = options.batchSize ?? 100;
  const leaseMs = options.leaseMs ?? 60_000;
  // A read first: most rounds have nothing new, and should not write.
  const seen = await sql<{ exported_through: number | null; newest: number | null }>`
    select (select exported_through from audit_checkpoint_export where sink = ${sink.key}) as exported_through,
           (select max(chain_seq) from audit_checkpoint) as newest`.execute(db);
  const { exported_through: through, newest } = seen.rows[0] ?? { exported_through: null, newest: null };
  if (newest === null || (through !== null && Number(through) >= Number(newest))) return 0;

  const started = options.now();
  const token = randomUUID();
  const claimed = await sql<{ exported_through: number }>`
    insert into audit_checkpoint_export (sink, exported_through, lease_until, lease_token, updated_at)
    values (${sink.key}, ${Number(newest) - 1}, ${new Date(started.getTime() + leaseMs)}, ${token}, ${started})
    on conflict (sink) do update set lease_until = excluded.lease_until, lease_token = excluded.lease_token, updated_at = excluded.updated_at
      where audit_checkpoint_export.lease_until is null or audit_checkpoint_export.lease_until < ${started}
    returning exported_through`.execute(db);
  const claim = claimed.rows[0];
  // Another process is sending to this sink now.
  if (!claim) return 0;

  let sent = 0;
  try {
    const pending = await db.selectFrom("audit_checkpoint").selectAll().where("chain_seq", ">", Number(claim.exported_through)).orderBy("chain_seq").limit(batchSize).execute();
    for (const row of pending) {
      // Stop well inside the lease: past it, another process may be sending the same checkpoints.
      if (options.now().getTime() - started.getTime() > leaseMs / 2) break;
      await sink.write(toCheckpoint(row), publicKeyPem);
      await db
        .updateTable("audit_checkpoint_export")
        .set({ exported_through: sql<number>`greatest(exported_through, ${Number(row.chain_seq)})`, updated_at: options.now() })
        .where("sink", "=", sink.key)
        .execute();
      sent++;
    }
  } finally {
    // Released for the next round (of any process), unless it ran out and another took it; if this fails, it runs out on its own.
    await db
      .updateTable("audit_checkpoint_export")
      .set({ lease_until: null, lease_token: null })
      .where("sink", "=", sink.key)
      .where("lease_token", "=", token)
      .execute()
      .catch(() => undefined);
  }
  return sent;
}
