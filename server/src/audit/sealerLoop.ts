import type { Kysely } from "kysely";
import type { Clock } from "../clock.js";
import type { DB } from "../db/schema.js";
import type { Logger } from "../logger.js";
import { flagPending } from "../console/flagger.js";
import { exportPendingCheckpoints } from "./checkpointExport.js";
import { checkpointSinksOf, type CheckpointSinks } from "./checkpoints.js";
import { ensureAuditPartitions, sealPending, type SealOptions } from "./sealer.js";
import type { AuditKeys } from "./sealKey.js";

export interface AuditSealer {
  /** Runs a round now (tests, and shutdown's last round). */
  sealNow(): Promise<void>;
  /** Finishes the round in progress, seals what is left, and stops. */
  stop(): Promise<void>;
}

const PARTITION_CHECK_MS = 3_600_000;

/**
 * The sealer loop every Steward process runs; the advisory lock inside sealRound makes exactly one of
 * them seal at a time. Checkpoints go to the sinks beside sealing, not in its way: a sink that is down is
 * retried with its own back-off while entries go on being sealed every interval, and how far each sink has
 * got is kept in the database (checkpointExport.ts), so a restart or another process carries on from there.
 */
export function startAuditSealer(deps: { db: Kysely<DB>; keys: AuditKeys; logger: Logger; clock: Clock; intervalMs: number; sinks: CheckpointSinks; seal?: SealOptions }): AuditSealer {
  const { db, keys, logger, clock } = deps;
  const sinks = checkpointSinksOf(deps.sinks);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let partitionsCheckedAt = 0;
  let failures = 0;
  // Sends run one after another in this process (the lease keeps other processes off).
  let exportQueue: Promise<unknown> = Promise.resolve();
  let exporting = false;
  let exportFailures = 0;
  let exportNotBefore = 0;

  const round = async () => {
    if (clock.now().getTime() - partitionsCheckedAt >= PARTITION_CHECK_MS) {
      partitionsCheckedAt = clock.now().getTime();
      await ensureAuditPartitions(db, clock.now()).catch((err: unknown) => logger.warn({ err }, "audit partitions for this and next month could not be created ahead; the first append of a month creates it"));
    }
    const result = await sealPending(db, keys, { now: () => clock.now(), ...deps.seal });
    if (result.sealed) logger.debug({ sealed: result.sealed }, "audit entries sealed");
    // The console's stored flags follow the chain; a failure there never holds up sealing.
    await flagPending(db).catch((err: unknown) => logger.error({ err }, "console flags could not be computed for newly sealed entries; retrying with the next round"));
  };

  const exportOnce = () => {
    const sent = exportQueue.then(() => exportPendingCheckpoints(db, sinks, keys.publicKeyPem, { now: () => clock.now() }));
    exportQueue = sent.catch(() => undefined);
    return sent;
  };

  /** Starts sending checkpoints unless a send is under way or a failing sink's back-off has not run out. */
  const startExport = () => {
    if (sinks.length === 0 || exporting || clock.now().getTime() < exportNotBefore) return;
    exporting = true;
    void exportOnce()
      .then(
        () => {
          exportFailures = 0;
        },
        (err: unknown) => {
          exportFailures++;
          exportNotBefore = clock.now().getTime() + Math.min(30_000, deps.intervalMs * 2 ** Math.min(exportFailures, 8));
          logger.error({ err, failures: exportFailures }, "audit checkpoint export failed; retrying");
        },
      )
      .finally(() => {
        exporting = false;
      });
  };

  const tick = () => {
    running = round().then(
      () => {
        failures = 0;
      },
      (err: unknown) => {
        failures++;
        logger.error({ err, failures }, "audit sealing round failed; retrying");
      },
    );
    void running.then(() => {
      startExport();
      // Back off while failing (the database may be down), up to 30 s.
      if (!stopped) timer = setTimeout(tick, Math.min(30_000, deps.intervalMs * 2 ** Math.min(failures, 8)));
    });
  };

  tick();

  return {
    async sealNow() {
      await running;
      await round();
      if (sinks.length > 0) await exportOnce();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await exportQueue;
      // Entries committed by the last requests are sealed before the database closes, and their checkpoint sent.
      await round().catch((err: unknown) => logger.error({ err }, "final audit sealing round failed; the next start seals the rest"));
      // Not to a sink that is failing (it could use up the shutdown's grace): what it has not had is recorded, and the next start sends it.
      if (sinks.length > 0 && exportFailures === 0) await exportOnce().catch((err: unknown) => logger.error({ err }, "final audit checkpoint export failed; the next start sends it"));
    },
  };
}
