import { z } from "zod";
import type { ProductRole } from "../../../../shared/roles.js";
import type { User } from "../../db/schema.js";
import { ADMIN_ROLES, activeAdmins, isActiveAdmin, lockAccountAdmins } from "../accountAdmins.js";
import { defineCommand } from "../command.js";
import { userAfter } from "../identityRef.js";
import type { Executor } from "../targets.js";
import { assertGrantDue } from "../temporaryGrant.js";

export const ElevationExpireInput = z.object({ elevationId: z.string().min(1) }).strict();

async function dueElevation(db: Executor, userId: string, elevationId: string, now: Date) {
  const row = await db.selectFrom("role_elevations").selectAll().where("id", "=", elevationId).where("user_id", "=", userId).executeTakeFirst();
  return assertGrantDue(row, `role elevation ${elevationId} for user ${userId}`, now);
}

/** Why the previous role is not put back, or null when it is. */
async function keepReason(trx: Executor, user: User, elevation: { elevated_role: ProductRole; previous_role: ProductRole }): Promise<string | null> {
  if (user.role !== elevation.elevated_role) return `the role was changed to ${user.role} since`;
  const losesAdmin = ADMIN_ROLES.has(elevation.elevated_role) && !ADMIN_ROLES.has(elevation.previous_role);
  if (losesAdmin && isActiveAdmin(user) && (await activeAdmins(trx, user.account_id, [user.id])).length === 0) return "the user is the account's only active owner/admin";
  return null;
}

/**
 * user.elevation_expire — Steward's own action (the sweep, a system actor): puts back the role a
 * temporary elevation replaced, unless someone changed the role since or it would leave the account
 * without an active owner/admin (then the role stays and the entry says why).
 */
export const expireElevation = defineCommand({
  action: "user.elevation_expire",
  targetType: "user",
  input: ElevationExpireInput,
  provider: "none",
  providerState: async (target, input, ctx) => {
    const row = await dueElevation(ctx.deps.database.db, target.id, input.elevationId, ctx.now);
    return { elevation: { id: row.id, previousRole: row.previous_role, elevatedRole: row.elevated_role, expiresAt: new Date(row.expires_at).toISOString(), grantedBy: row.granted_by_staff_id } };
  },
  apply: async (trx, target, input, ctx) => {
    await lockAccountAdmins(trx, target.accountId);
    const row = await dueElevation(trx, target.id, input.elevationId, ctx.now);
    const kept = await keepReason(trx, target.user, row);
    if (!kept) await trx.updateTable("users").set({ role: row.previous_role }).where("id", "=", target.id).execute();
    await trx.updateTable("role_elevations").set({ reverted_at: ctx.now }).where("id", "=", row.id).execute();
    const detail = kept ? `temporary ${row.elevated_role} role ended; role kept: ${kept}` : `temporary ${row.elevated_role} role ended; back to ${row.previous_role}`;
    await trx.insertInto("activity_events").values({ account_id: target.accountId, user_id: target.id, type: "role_elevation_ended", detail: `${detail} (ticket ${row.ticket_id})`, ip: null, occurred_at: ctx.now }).execute();
    return { after: { ...(await userAfter(trx, target.id)), roleRestored: !kept, ...(kept ? { roleKeptBecause: kept } : {}) } };
  },
});
