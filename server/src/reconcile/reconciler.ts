import { randomUUID } from "node:crypto";
import { appendAudit } from "../audit/auditLog.js";
import { listUnresolvedIntents } from "../audit/operations.js";
import { keepRenewing, releaseLease, renewLease, tryLease } from "../commands/targetLease.js";
import type { AppDeps } from "../deps.js";
import { finishOperation, type FinishOutcome } from "./finishOperation.js";
import { dueOperations } from "./providerOperations.js";

/** Operations handled per run; the rest wait for the next run. */
const BATCH = 50;
/** One reconciler works at a time across processes: whoever holds this lease. */
export const RECONCILER_LEASE = "leader:reconciler";

export type ReconcileReport = Record<FinishOutcome, number> & { orphanedIntents: number; leader: boolean };

/**
 * Intents with no operation record (written before operations were recorded, or by a path that does
 * not record one) cannot be finished: they are closed as `unknown` so they stop looking in flight.
 */
async function closeOrphanedIntents(deps: AppDeps, olderThan: Date): Promise<number> {
  const { db } = deps.database;
  let closed = 0;
  for (const intent of await listUnresolvedIntents(db, { olderThan, limit: BATCH })) {
    const op = await db.selectFrom("provider_operations").select("operation_id").where("operation_id", "=", intent.operationId as string).executeTakeFirst();
    if (op) continue;
    await appendAudit(
      db,
      {
        actor: intent.actor.staffId ? { kind: "staff", staffId: intent.actor.staffId, zendeskUserId: intent.actor.zendeskUserId ?? "", email: intent.actor.email, name: null, panelRole: intent.actor.panelRole ?? "support_read_only" } : { kind: "system", component: intent.actor.system ?? "unknown" },
        action: intent.action,
        target: intent.target,
        ticketId: intent.ticketId,
        reason: intent.reason,
        before: intent.before,
        outcome: "unknown",
        error: "the process stopped during the provider call and left no operation record; check the provider",
        operationId: intent.operationId,
      },
      deps.clock,
    );
    closed++;
  }
  return closed;
}

/** One pass, if this process is the leader: every due open operation is tried once. */
export async function reconcileOnce(deps: AppDeps, instanceId: string): Promise<ReconcileReport> {
  const report: ReconcileReport = { succeeded: 0, failed: 0, unknown: 0, needs_review: 0, skipped: 0, orphanedIntents: 0, leader: false };
  const { db } = deps.database;
  const leaseMs = deps.config.OPERATION_LEASE_MS;
  if (!(await tryLease(db, RECONCILER_LEASE, instanceId, leaseMs))) return report;
  report.leader = true;
  // A pass of many slow operations outlasts one lease: renewed while it runs, and re-checked before each step,
  // so a process that lost it (a stall) stops rather than working beside the new leader.
  let leaderLost = false;
  const stillLeader = async (): Promise<boolean> => {
    if (!leaderLost && !(await renewLease(db, RECONCILER_LEASE, instanceId, leaseMs))) leaderLost = true;
    return !leaderLost;
  };
  const renewal = keepRenewing(stillLeader, leaseMs, (err) => deps.logger.warn({ err }, "reconciler: could not renew its leadership"));
  try {
    for (const row of await dueOperations(db, BATCH)) {
      if (!(await stillLeader())) return report;
      report[await finishOperation(deps, row)]++;
    }
    if (!(await stillLeader())) return report;
    // The injected clock, as the intents' own times are: "older than a lease" is measured on one clock.
    report.orphanedIntents = await closeOrphanedIntents(deps, new Date(deps.clock.now().getTime() - leaseMs));
    return report;
  } finally {
    renewal.stop();
  }
}

export interface Reconciler {
  readonly instanceId: string;
  /** Runs a pass now (tests, or right after start); resolves with its report. */
  runNow(): Promise<ReconcileReport>;
  /** Stops scheduling, waits for a pass in progress, gives up leadership. */
  stop(): Promise<void>;
}

/** Started with the server: a pass every `intervalMs`, never two at once in one process. */
export function startReconciler(deps: AppDeps, intervalMs: number): Reconciler {
  const instanceId = `reconciler:${randomUUID()}`;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<ReconcileReport> | undefined;

  const pass = (): Promise<ReconcileReport> =>
    (running ??= reconcileOnce(deps, instanceId)
      .then((report) => {
        if (report.succeeded || report.failed || report.unknown || report.needs_review || report.orphanedIntents) deps.logger.info({ reconcile: report }, "provider operations reconciled");
        return report;
      })
      .finally(() => {
        running = undefined;
      }));
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      pass()
        .catch((err: unknown) => deps.logger.error({ err }, "reconcile pass failed"))
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    instanceId,
    runNow: pass,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
      await releaseLease(deps.database.db, RECONCILER_LEASE, instanceId).catch(() => undefined);
    },
  };
}
