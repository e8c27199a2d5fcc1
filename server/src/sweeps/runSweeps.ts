import { expireSeatExpansion } from "../commands/seats/expansionExpire.js";
import { expireElevation } from "../commands/user/elevationExpire.js";
import type { AnyCommand } from "../commands/command.js";
import type { AppDeps } from "../deps.js";
import { expireApprovals } from "../commands/approval/approvals.js";
import { settleStalledExports } from "../console/exportLinks.js";
import { dueElevations, dueSeatExpansions, recordRevertFailure, releaseAbandonedClaims, type DueElevation, type DueSeatExpansion } from "./dueGrants.js";
import { closeOrphanedElevation, revertGrant, SWEEPER_KEY_OWNER, type RevertOutcome } from "./revertGrant.js";

/** Grants handled per kind and run; the rest wait for the next run. */
const BATCH = 100;

export interface SweepReport {
  reverted: number;
  skipped: number;
  failed: number;
}

function elevationGrant(row: DueElevation) {
  return {
    command: expireElevation as unknown as AnyCommand,
    grantId: row.id,
    target: { type: "user" as const, id: row.user_id },
    ticketId: row.ticket_id,
    reason: `Temporary ${row.elevated_role} role expired ${new Date(row.expires_at).toISOString()}; restoring ${row.previous_role}`,
    input: { elevationId: row.id },
  };
}

function expansionGrant(row: DueSeatExpansion) {
  return {
    command: expireSeatExpansion as unknown as AnyCommand,
    grantId: row.id,
    target: { type: "account" as const, id: row.account_id },
    ticketId: row.ticket_id,
    reason: `Temporary +${row.seats} seats expired ${new Date(row.expires_at).toISOString()}`,
    input: { expansionId: row.id },
  };
}

async function revertElevation(deps: AppDeps, row: DueElevation): Promise<RevertOutcome> {
  const grant = elevationGrant(row);
  const user = await deps.database.db.selectFrom("users").select("status").where("id", "=", row.user_id).executeTakeFirst();
  if (!user || user.status === "deleted") {
    const elevation = { id: row.id, previousRole: row.previous_role, elevatedRole: row.elevated_role, expiresAt: new Date(row.expires_at).toISOString() };
    return closeOrphanedElevation(deps, { ...grant, accountId: row.account_id, elevation });
  }
  return revertGrant(deps, grant);
}

/** A failed revert starts the grant's backoff, so a provider that stays down is not called on every run. */
async function backOffOnFailure(deps: AppDeps, table: "role_elevations" | "seat_expansions", grantId: string, outcome: RevertOutcome): Promise<RevertOutcome> {
  if (outcome === "failed") await recordRevertFailure(deps.database.db, table, grantId, deps.clock.now());
  return outcome;
}

/**
 * Ends the temporary grants whose time is up: role elevations (user.elevation_expire) and seat
 * expansions (seats.expansion_expire), each through the runner as the system actor, audited against
 * the ticket it was granted for. Grants whose revert failed recently wait (dueGrants backoff). Also
 * expires undecided approvals and settles console exports whose stream stopped (exportLinks.ts).
 * Safe to run twice or from two processes at once.
 */
export async function runSweeps(deps: AppDeps, options: { stopping?: () => boolean } = {}): Promise<SweepReport> {
  const report: SweepReport = { reverted: 0, skipped: 0, failed: 0 };
  const { db } = deps.database;
  // Shutdown stops a run between grants; what is left is due again for the next process.
  const stopping = options.stopping ?? (() => false);
  await releaseAbandonedClaims(db, SWEEPER_KEY_OWNER);
  const now = deps.clock.now();
  for (const row of await dueElevations(db, now, BATCH)) {
    if (stopping()) return report;
    report[await backOffOnFailure(deps, "role_elevations", row.id, await revertElevation(deps, row))]++;
  }
  for (const row of await dueSeatExpansions(db, now, BATCH)) {
    if (stopping()) return report;
    report[await backOffOnFailure(deps, "seat_expansions", row.id, await revertGrant(deps, expansionGrant(row)))]++;
  }
  // Approval requests nobody decided within 24 h (each expired and audited once, whichever process gets it).
  if (!stopping()) await expireApprovals(deps);
  // Console exports whose process died mid-stream, found even when nobody asks their link's status.
  if (!stopping()) await settleStalledExports(deps.database.db, deps.clock);
  return report;
}
