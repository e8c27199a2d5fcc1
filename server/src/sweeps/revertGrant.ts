import { systemActor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import type { AnyCommand } from "../commands/command.js";
import { runCommand } from "../commands/runCommand.js";
import type { AppDeps } from "../deps.js";
import { toProblem } from "../http/problem.js";
import { readDepsOf, refreshTarget } from "../directory/readThrough.js";

/** Steward itself, as the audit log names it for sweep entries. */
export const SWEEPER = systemActor("sweeper");
export const SWEEPER_KEY_OWNER = `system:${SWEEPER.component}`;

export type RevertOutcome = "reverted" | "skipped" | "failed";

export interface GrantRevert {
  command: AnyCommand;
  grantId: string;
  target: { type: "user" | "account"; id: string };
  /** The ticket the grant was made for: the revert is recorded against it too. */
  ticketId: string;
  reason: string;
  input: Record<string, unknown>;
}

/** Signs that another sweeper has this grant (or already did it): not a failure of this one. */
const TAKEN_ELSEWHERE = new Set(["request_in_progress", "idempotency_key_reused", "already_reverted"]);

/**
 * The version to send, as the product has it now (DIRECTORY_PROVIDER=http): after a write whose answer
 * was lost the product is ahead of the cache. A product that cannot be read is left to runCommand,
 * whose own refresh then fails and audits it.
 */
async function currentVersion(deps: AppDeps, grant: GrantRevert): Promise<number | null> {
  await refreshTarget(readDepsOf(deps, { actor: SWEEPER, ticketId: grant.ticketId }), grant.target).catch(() => undefined);
  const { target } = grant;
  const table = target.type === "user" ? "users" : "accounts";
  const row = await deps.database.db.selectFrom(table).select("version").where("id", "=", target.id).executeTakeFirst();
  return row?.version ?? null;
}

/**
 * Reverts one grant through the one write path, as the sweeper. The Idempotency-Key names the
 * grant, so two sweeps racing on it perform it once and write one entry. A staff change landing
 * between reading the version and running (stale_version) is retried once.
 */
export async function revertGrant(deps: AppDeps, grant: GrantRevert): Promise<RevertOutcome> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const version = await currentVersion(deps, grant);
    if (version === null) return "failed";
    try {
      const response = await runCommand(
        grant.command,
        { actor: SWEEPER, ticketId: grant.ticketId, reason: grant.reason, target: grant.target, expectedVersion: version, input: grant.input, idempotencyKey: `grant:${grant.grantId}` },
        deps,
      );
      return response.replayed ? "skipped" : "reverted";
    } catch (err) {
      const problem = toProblem(err);
      if (TAKEN_ELSEWHERE.has(problem.code)) return "skipped";
      if (problem.code === "stale_version" && attempt === 0) continue;
      deps.logger.warn({ err, action: grant.command.action, grantId: grant.grantId, code: problem.code }, "sweep could not revert a grant; it is retried after a backoff");
      return "failed";
    }
  }
  return "failed";
}

/**
 * The user of an elevation was deleted: there is no role to put back, so the grant is closed with
 * an entry saying so (else the sweep would try it forever).
 */
export async function closeOrphanedElevation(deps: AppDeps, grant: GrantRevert & { accountId: string; elevation: Record<string, unknown> }): Promise<RevertOutcome> {
  return deps.database.db.transaction().execute(async (trx) => {
    const closed = await trx.updateTable("role_elevations").set({ reverted_at: deps.clock.now() }).where("id", "=", grant.grantId).where("reverted_at", "is", null).returning("id").executeTakeFirst();
    if (!closed) return "skipped";
    await appendAudit(
      trx,
      {
        actor: SWEEPER,
        action: "user.elevation_expire",
        target: { type: "user", id: grant.target.id, accountId: grant.accountId },
        ticketId: grant.ticketId,
        reason: grant.reason,
        before: { elevation: grant.elevation },
        after: { roleRestored: false, roleKeptBecause: "the user was deleted" },
        outcome: "succeeded",
      },
      deps.clock,
    );
    return "reverted";
  });
}
