import type { Transaction } from "kysely";
import type { PanelRole } from "../../../shared/roles.js";
import type { Actor } from "../actor.js";
import type { DB, Staff } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import { lockActiveAdmins } from "./staffQueries.js";

/**
 * Refuses a change that would leave the panel with no active admin. Call with the admins already
 * locked (`lockActiveAdmins`, taken first in every staff change so concurrent changes queue, not deadlock).
 */
export function assertAdminRemains(activeAdminIds: string[], staff: Staff, next: { panelRole: PanelRole; active: boolean }): void {
  const removesAdmin = staff.panel_role === "admin" && staff.active && (next.panelRole !== "admin" || !next.active);
  if (!removesAdmin) return;
  if (activeAdminIds.some((id) => id !== staff.id)) return;
  throw Problem.conflict("last_admin", "This is the last active admin; make someone else admin first", { staffId: staff.id });
}

/** Re-checks a staff actor against the locked admins: a demotion that committed after their request was authenticated still counts. */
export function assertActorStillAdmin(activeAdminIds: string[], actor: Actor): void {
  if (actor.kind === "staff" && !activeAdminIds.includes(actor.staffId)) {
    throw Problem.forbidden("action_not_allowed", "You are no longer an active admin", { requiredRole: "admin", panelRole: actor.panelRole });
  }
}

/** Locks the admins, then the staff row itself, in that order (the order every staff change uses). */
export async function lockForStaffChange(trx: Transaction<DB>, where: { staffId: string } | { zendeskUserId: string }): Promise<{ admins: string[]; staff: Staff | undefined }> {
  const admins = await lockActiveAdmins(trx);
  let query = trx.selectFrom("staff").selectAll();
  query = "staffId" in where ? query.where("id", "=", where.staffId) : query.where("zendesk_user_id", "=", where.zendeskUserId);
  const staff = await query.forUpdate().executeTakeFirst();
  return { admins, staff };
}
