import type { Transaction } from "kysely";
import type { Actor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import { assertAllowed } from "../auth/permissions.js";
import type { Clock } from "../clock.js";
import type { DB, Staff } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import { assertActorStillAdmin, assertAdminRemains, lockForStaffChange } from "./lastAdmin.js";
import { staffSnapshot } from "./staffQueries.js";

export interface StaffAccessChange {
  actor: Actor;
  staffId: string;
  active: boolean;
  reason: string;
  ticketId: string | null;
  requestId?: string | null;
}

/**
 * Removes (`staff.deactivate`) or gives back (`staff.grant`) a member's panel access, audited in the
 * same transaction. The next request with their session is refused. The last active admin stays.
 */
export async function changeStaffAccess(trx: Transaction<DB>, clock: Clock, change: StaffAccessChange): Promise<{ staff: Staff; changed: boolean }> {
  const action = change.active ? "staff.grant" : "staff.deactivate";
  assertAllowed(change.actor, action);
  const { admins, staff } = await lockForStaffChange(trx, { staffId: change.staffId });
  assertActorStillAdmin(admins, change.actor);
  if (!staff) throw Problem.notFound(`No staff member ${change.staffId}`, { staffId: change.staffId });
  if (staff.active === change.active) return { staff, changed: false };
  assertAdminRemains(admins, staff, { panelRole: staff.panel_role, active: change.active });
  const after = await trx.updateTable("staff").set({ active: change.active, updated_at: clock.now() }).where("id", "=", staff.id).returningAll().executeTakeFirstOrThrow();
  await appendAudit(
    trx,
    {
      actor: change.actor,
      action,
      target: { type: "staff", id: staff.id, accountId: null },
      ticketId: change.ticketId,
      reason: change.reason,
      before: staffSnapshot(staff),
      after: staffSnapshot(after),
      outcome: "succeeded",
      requestId: change.requestId ?? null,
    },
    clock,
  );
  return { staff: after, changed: true };
}
