import type { AppDeps } from "../deps.js";
import { deliverDueNotes } from "../zendesk/ticketNotes.js";
import { sweepImpersonation } from "./sweep.js";

export interface ImpersonationLoop {
  stop(): Promise<void>;
}

/**
 * Every IMPERSONATION_SWEEP_MS: ends due sessions (even with no product tab open), then sends queued
 * Zendesk internal notes. Runs never overlap in one process; two processes end each session once.
 */
export function startImpersonationLoop(deps: AppDeps, intervalMs = deps.config.IMPERSONATION_SWEEP_MS): ImpersonationLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const tick = () => {
    running = (async () => {
      const swept = await sweepImpersonation(deps);
      if (swept.ended || swept.failed) deps.logger.info({ impersonation: swept }, "impersonation sessions swept");
      await deliverDueNotes(deps);
    })()
      .catch((err: unknown) => deps.logger.error({ err }, "impersonation sweep failed"))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, intervalMs).unref();
      });
  };
  timer = setTimeout(tick, intervalMs).unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
