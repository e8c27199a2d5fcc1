import { sql } from "kysely";
import { systemActor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import { newOperationId } from "../audit/operations.js";
import type { AnyCommand } from "../commands/command.js";
import { expireImpersonation } from "../commands/impersonation/expire.js";
import { runCommand } from "../commands/runCommand.js";
import type { AppDeps } from "../deps.js";
import { toProblem } from "../http/problem.js";
import { endSessionIn, sessionSummary } from "./endSession.js";
import { panelRoles, roleAtLeast } from "../../../shared/roles.js";
import { endReasonDue, liveContextOf, MODE_MIN_ROLES, type SessionRow } from "./sessions.js";

/** Steward itself, as the audit log names it when it ends a session. */
export const IMPERSONATION_SWEEPER = systemActor("impersonation-sweep");
const KEY_OWNER = `system:${IMPERSONATION_SWEEPER.component}`;
/** Another process ended it first, or it is no longer due: not a failure. */
const TAKEN_ELSEWHERE = new Set(["request_in_progress", "idempotency_key_reused", "session_already_ended", "session_not_due"]);

export type EndOutcome = "ended" | "skipped" | "failed" | "live";

/** The customer was deleted: there is no user to run a command on, so the session is closed here (same audit shape). */
async function endForDeletedTarget(deps: AppDeps, row: SessionRow): Promise<EndOutcome> {
  const operationId = newOperationId();
  return deps.database.db.transaction().execute(async (trx) => {
    const live = await trx.selectFrom("impersonation_sessions").select("id").where("id", "=", row.id).where("ended_at", "is", null).forUpdate().executeTakeFirst();
    if (!live) return "skipped";
    const { session, durationSeconds } = await endSessionIn(trx, row.id, { reason: "target_changed", endedBy: KEY_OWNER, now: deps.clock.now(), operationId, config: deps.config });
    await appendAudit(
      trx,
      { actor: IMPERSONATION_SWEEPER, action: "impersonation.expire", target: { type: "user", id: row.user_id, accountId: row.account_id }, ticketId: row.ticket_id, reason: "the customer was deleted", after: { impersonation: sessionSummary(session, durationSeconds) }, outcome: "succeeded", operationId },
      deps.clock,
    );
    return "ended";
  });
}

/**
 * Ends one session if it is due (deadline passed, agent deactivated, customer blocked/suspended/
 * deleted or protected from impersonation), through the one write path with an Idempotency-Key naming the session: two processes
 * (or a sweep and a product's status check) racing on it end it once and write one entry.
 */
export async function endIfDue(deps: AppDeps, row: SessionRow): Promise<EndOutcome> {
  const context = await liveContextOf(deps.database.db, row);
  const reason = endReasonDue(row, deps.clock.now(), context);
  if (!reason) return "live";
  if (reason === "target_changed" && (!context.user || context.user.status === "deleted")) return endForDeletedTarget(deps, row);
  for (let attempt = 0; attempt < 2; attempt++) {
    const version = await deps.database.db.selectFrom("users").select("version").where("id", "=", row.user_id).executeTakeFirst();
    if (!version) return endForDeletedTarget(deps, row);
    try {
      const response = await runCommand(
        expireImpersonation as unknown as AnyCommand,
        {
          actor: IMPERSONATION_SWEEPER,
          ticketId: row.ticket_id,
          reason: `Impersonation session ${row.id}: ${reason.replace(/_/g, " ")}`,
          target: { type: "user", id: row.user_id },
          expectedVersion: version.version,
          input: { sessionId: row.id, endReason: reason },
          idempotencyKey: `impersonation-end:${row.id}`,
        },
        deps,
      );
      // A replay means another runner ended it (and wrote the one entry).
      return response.replayed ? "skipped" : "ended";
    } catch (err) {
      const problem = toProblem(err);
      if (TAKEN_ELSEWHERE.has(problem.code)) return "skipped";
      if (problem.code === "stale_version" && attempt === 0) continue;
      deps.logger.warn({ err, sessionId: row.id, code: problem.code }, "could not end an impersonation session; the next sweep retries");
      return "failed";
    }
  }
  return "failed";
}

export interface ImpersonationSweepReport {
  ended: number;
  skipped: number;
  failed: number;
}

/** Live sessions that may be due: a deadline passed, the agent is inactive or demoted below the mode, or the customer changed. */
async function candidates(deps: AppDeps, limit: number): Promise<SessionRow[]> {
  const now = deps.clock.now();
  return deps.database.db
    .selectFrom("impersonation_sessions as s")
    .selectAll("s")
    .where("s.ended_at", "is", null)
    .where((eb) =>
      eb.or([
        eb("s.idle_deadline", "<=", now),
        eb("s.absolute_deadline", "<=", now),
        eb.exists(
          eb
            .selectFrom("staff")
            .select("staff.id")
            .whereRef("staff.id", "=", "s.staff_id")
            .where((w) => w.or([w("staff.active", "=", false), ...Object.entries(MODE_MIN_ROLES).map(([mode, min]) => w.and([w("s.mode", "=", mode as SessionRow["mode"]), w("staff.panel_role", "in", panelRoles.filter((r) => !roleAtLeast(r, min)))]))])),
        ),
        eb.exists(
          eb
            .selectFrom("users as u")
            .innerJoin("accounts as a", "a.id", "u.account_id")
            .select("u.id")
            .whereRef("u.id", "=", "s.user_id")
            .where((w) => w.or([w("u.blocked", "=", true), w("u.impersonation_protected", "=", true), w("u.status", "!=", "active"), w("a.status", "not in", ["active", "trialing", "past_due"])])),
        ),
      ]),
    )
    .orderBy(sql`least(s.idle_deadline, s.absolute_deadline)`)
    .limit(limit)
    .execute();
}

export async function sweepImpersonation(deps: AppDeps, limit = 100): Promise<ImpersonationSweepReport> {
  const report: ImpersonationSweepReport = { ended: 0, skipped: 0, failed: 0 };
  for (const row of await candidates(deps, limit)) {
    const outcome = await endIfDue(deps, row);
    if (outcome === "live") report.skipped++;
    else report[outcome]++;
  }
  return report;
}
