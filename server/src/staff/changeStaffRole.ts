import { randomBytes } from "node:crypto";
import type { Transaction } from "kysely";
import type { PanelRole } from "../../../shared/roles.js";
import type { Actor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import { assertAllowed } from "../auth/permissions.js";
import type { Clock } from "../clock.js";
import type { DB, Staff } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import { assertActorStillAdmin, assertAdminRemains, lockForStaffChange } from "./lastAdmin.js";
import { staffSnapshot } from "./staffQueries.js";

export interface StaffRoleChange {
  actor: Actor;
  /** An existing member by id, or a Zendesk agent (created when unknown). */
  target: { staffId: string } | { zendeskUserId: string; email?: string | null; name?: string | null };
  panelRole: PanelRole;
  reason: string;
  ticketId: string | null;
  requestId?: string | null;
}

export function newStaffId(): string {
  return `stf_${randomBytes(8).toString("hex")}`;
}

/**
 * `staff.grant`: adds a staff member or changes their panel role, with the audit entry (before and
 * after) in the same transaction. Unchanged roles write nothing. The last active admin cannot be demoted.
 */
export async function changeStaffRole(trx: Transaction<DB>, clock: Clock, change: StaffRoleChange): Promise<{ staff: Staff; changed: boolean }> {
  assertAllowed(change.actor, "staff.grant");
  const { admins, staff: found } = await lockForStaffChange(trx, change.target);
  assertActorStillAdmin(admins, change.actor);
  let existing = found;
  let created: Staff | undefined;
  if (!existing && "zendeskUserId" in change.target) {
    const now = clock.now();
    created = await trx
      .insertInto("staff")
      .values({
        id: newStaffId(),
        zendesk_user_id: change.target.zendeskUserId,
        email: change.target.email ?? null,
        name: change.target.name ?? null,
        panel_role: change.panelRole,
        created_at: now,
        updated_at: now,
      })
      // The agent's first visit (staff/firstVisit.ts) may commit their row meanwhile: then it is that row's role that changes.
      .onConflict((oc) => oc.column("zendesk_user_id").doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!created) existing = (await lockForStaffChange(trx, change.target)).staff;
  }
  const before: Staff | null = existing ?? null;
  let after: Staff;
  if (created) {
    after = created;
  } else if (existing) {
    if (existing.panel_role === change.panelRole) return { staff: existing, changed: false };
    assertAdminRemains(admins, existing, { panelRole: change.panelRole, active: existing.active });
    after = await trx.updateTable("staff").set({ panel_role: change.panelRole, updated_at: clock.now() }).where("id", "=", existing.id).returningAll().executeTakeFirstOrThrow();
  } else {
    const id = "staffId" in change.target ? change.target.staffId : change.target.zendeskUserId;
    throw Problem.notFound(`No staff member ${id}`, "staffId" in change.target ? { staffId: id } : { zendeskUserId: id });
  }
  await appendAudit(
    trx,
    {
      actor: change.actor,
      action: "staff.grant",
      target: { type: "staff", id: after.id, accountId: null },
      ticketId: change.ticketId,
      reason: change.reason,
      before: before ? staffSnapshot(before) : null,
      after: staffSnapshot(after),
      outcome: "succeeded",
      requestId: change.requestId ?? null,
    },
    clock,
  );
  return { staff: after, changed: true };
}
