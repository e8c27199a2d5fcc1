import { z } from "zod";
import type { ProductRole } from "../../../../shared/roles.js";
import type { User } from "../../db/schema.js";
import { ADMIN_ROLES, activeAdmins, isActiveAdmin, lockAccountAdmins } from "../accountAdmins.js";
import { defineCommand } from "../command.js";
import { userAfter } from "../identityRef.js";
import type { UserTarget, Executor } from "../targets.js";
import type { CommandContext } from "../command.js";
import { assertGrant, sendRevertKeyed, type GrantEnding } from "../temporaryGrant.js";
import { writeUser } from "../directoryWrite.js";
import { mirrorWritten, recordUserWrite } from "../../directory/readThrough.js";
import type { Transaction } from "kysely";
import type { DB } from "../../db/schema.js";

export const ElevationExpireInput = z.object({ elevationId: z.string().min(1) }).strict();

async function elevationToEnd(ending: GrantEnding, db: Executor, userId: string, elevationId: string, now: Date) {
  const row = await db.selectFrom("role_elevations").selectAll().where("id", "=", elevationId).where("user_id", "=", userId).executeTakeFirst();
  return assertGrant(ending, row, `role elevation ${elevationId} for user ${userId}`, now);
}

/** Why the previous role is not put back, or null when it is. */
async function keepReason(trx: Executor, user: User, elevation: { elevated_role: ProductRole; previous_role: ProductRole }): Promise<string | null> {
  if (user.role !== elevation.elevated_role) return `the role was changed to ${user.role} since`;
  const losesAdmin = ADMIN_ROLES.has(elevation.elevated_role) && !ADMIN_ROLES.has(elevation.previous_role);
  if (losesAdmin && isActiveAdmin(user) && (await activeAdmins(trx, user.account_id, [user.id])).length === 0) return "the user is the account's only active owner/admin";
  return null;
}

/**
 * Puts back the role a temporary elevation replaced, unless someone changed the role since or it would
 * leave the account without an active owner/admin (then the role stays and the entry says why). The
 * sweep does it once the elevation is due (expire); an agent may do it before (end).
 */
export function elevationEnder<Name extends "user.elevation_expire" | "user.elevation_end">(action: Name, ending: GrantEnding, guard?: (target: UserTarget, ctx: CommandContext) => Promise<void>) {
  return defineCommand({
    action,
    targetType: "user",
    input: ElevationExpireInput,
    provider: "directory",
    // The sweep's open grant is the lasting intent (the next sweep repeats a keyed write whose answer was
    // lost): no pending entry of its own. An agent's early end is a one-off request like any other.
    intentIsTheGrant: ending === "expire",
    providerState: async (target, input, ctx) => {
      // Read first by the runner: "nothing to end" (guard) is said before "no such grant".
      await guard?.(target, ctx);
      const row = await elevationToEnd(ending, ctx.deps.database.db, target.id, input.elevationId, ctx.now);
      return { elevation: { id: row.id, previousRole: row.previous_role, elevatedRole: row.elevated_role, expiresAt: new Date(row.expires_at).toISOString(), grantedBy: row.granted_by_staff_id } };
    },
    // Decided here, with the account's admins locked when inside our transaction (built-in directory): the
    // product is told the role only when it is put back.
    perform: async (target, input, ctx, call) => {
      const db = call.executor ?? ctx.deps.database.db;
      if (call.executor) await lockAccountAdmins(call.executor as Transaction<DB>, target.accountId);
      const row = await elevationToEnd(ending, db, target.id, input.elevationId, ctx.now);
      // Already back: the product applied an earlier try whose answer was lost (the next sweep repeats it).
      if (target.user.role === row.previous_role) return { kept: null, user: undefined };
      const kept = await keepReason(db, target.user, row);
      const put = (sent: typeof call) => writeUser(target, { role: row.previous_role }, ctx, sent);
      const user = kept ? undefined : ending === "expire" ? await sendRevertKeyed(db, "role_elevations", row.id, call, ctx.deps.clock.now(), put) : await put(call);
      return { kept, user };
    },
    apply: async (trx, target, input, ctx, { kept, user }) => {
      const row = await elevationToEnd(ending, trx, target.id, input.elevationId, ctx.now);
      if (!kept) await recordUserWrite(trx, ctx.deps, target.id, { role: row.previous_role }, { answer: user, now: ctx.now });
      await mirrorWritten(trx, ctx.deps, { user }, ctx.now);
      await trx.updateTable("role_elevations").set({ reverted_at: ctx.now }).where("id", "=", row.id).execute();
      const early = ending === "end" ? `${ctx.now < new Date(row.expires_at) ? " early" : ""} by support (ticket ${ctx.ticketId})` : "";
      const detail = kept ? `temporary ${row.elevated_role} role ended${early}; role kept: ${kept}` : `temporary ${row.elevated_role} role ended${early}; back to ${row.previous_role}`;
      await trx.insertInto("activity_events").values({ account_id: target.accountId, user_id: target.id, type: "role_elevation_ended", detail: `${detail} (granted for ticket ${row.ticket_id})`, ip: null, occurred_at: ctx.now }).execute();
      return { after: { ...(await userAfter(trx, target.id, user)), roleRestored: !kept, ...(kept ? { roleKeptBecause: kept } : {}), endedElevation: { id: row.id, expiresAt: new Date(row.expires_at).toISOString() } } };
    },
  });
}

/** user.elevation_expire — Steward's own action (the sweep, a system actor), once the elevation is due. */
export const expireElevation = elevationEnder("user.elevation_expire", "expire");
