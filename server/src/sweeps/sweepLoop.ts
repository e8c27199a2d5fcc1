import type { AppDeps } from "../deps.js";
import { recordSweepRun } from "../metrics/metrics.js";
import { runSweeps } from "./runSweeps.js";

export interface SweepLoop {
  /** Stops scheduling and waits for the grant in hand (a run in progress stops between grants). */
  stop(): Promise<void>;
}

/**
 * Runs the sweeps every `intervalMs`, the next run scheduled only once the previous one ended, so
 * runs never overlap in one process. A failed run is logged and the loop goes on.
 */
export function startSweepLoop(deps: AppDeps, intervalMs: number): SweepLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const tick = () => {
    running = runSweeps(deps, { stopping: () => stopped })
      .then((report) => {
        recordSweepRun(deps.clock.now());
        if (report.reverted || report.failed) deps.logger.info({ sweep: report }, "temporary grants swept");
      })
      .catch((err: unknown) => deps.logger.error({ err }, "sweep run failed"))
      .finally(() => {
        running = undefined;
        schedule();
      });
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(tick, intervalMs);
    timer.unref();
  };

  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
