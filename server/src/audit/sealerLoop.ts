import type { Kysely } from "kysely";
import type { Clock } from "../clock.js";
import type { DB } from "../db/schema.js";
import type { Logger } from "../logger.js";
import { flagPending } from "../console/flagger.js";
import { exportCheckpoint, latestCheckpoint, type AuditCheckpoint, type CheckpointSinks } from "./checkpoints.js";
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
 * them seal at a time. Checkpoints are exported after their round commits; a sink that fails is retried
 * with the next round, so a checkpoint reaches every sink at least once.
 */
export function startAuditSealer(deps: { db: Kysely<DB>; keys: AuditKeys; logger: Logger; clock: Clock; intervalMs: number; sinks: CheckpointSinks; seal?: SealOptions }): AuditSealer {
  const { db, keys, logger, clock } = deps;
  const unexported: AuditCheckpoint[] = [];
  const hasSink = Boolean(deps.sinks.dir || deps.sinks.url);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let partitionsCheckedAt = 0;
  let failures = 0;

  const round = async () => {
    if (clock.now().getTime() - partitionsCheckedAt >= PARTITION_CHECK_MS) {
      partitionsCheckedAt = clock.now().getTime();
      await ensureAuditPartitions(db, clock.now()).catch((err: unknown) => logger.warn({ err }, "audit partitions for this and next month could not be created ahead; the first append of a month creates it"));
    }
    // Queued as each round commits: a catch-up whose later round fails has still committed the earlier checkpoints.
    const result = await sealPending(db, keys, { now: () => clock.now(), ...deps.seal, ...(hasSink ? { onCheckpoint: (cp) => unexported.push(cp) } : {}) });
    if (result.sealed) logger.debug({ sealed: result.sealed }, "audit entries sealed");
    // The console's stored flags follow the chain; a failure there never holds up sealing.
    await flagPending(db).catch((err: unknown) => logger.error({ err }, "console flags could not be computed for newly sealed entries; retrying with the next round"));
    if (!hasSink) return;
    while (unexported[0]) {
      await exportCheckpoint(deps.sinks, unexported[0], keys.publicKeyPem);
      unexported.shift();
    }
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
      // Back off while failing (the database may be down), up to 30 s.
      if (!stopped) timer = setTimeout(tick, Math.min(30_000, deps.intervalMs * 2 ** Math.min(failures, 8)));
    });
  };

  // The newest checkpoint is (re)exported at start: sinks are idempotent per chainSeq, and a crash may have cut its export short.
  if (hasSink) {
    void latestCheckpoint(db).then(
      (cp) => {
        if (cp && !unexported.some((u) => u.chainSeq === cp.chainSeq)) unexported.unshift(cp);
      },
      (err: unknown) => logger.warn({ err }, "could not read the latest audit checkpoint"),
    );
  }
  tick();

  return {
    async sealNow() {
      await running;
      await round();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      // Entries committed by the last requests are sealed before the database closes.
      await round().catch((err: unknown) => logger.error({ err }, "final audit sealing round failed; the next start seals the rest"));
    },
  };
}
