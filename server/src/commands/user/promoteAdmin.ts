import { actionInputs } from "../../../../shared/schemas/actions.js";
import { Problem } from "../../http/problem.js";
import { activeAdmins, lockAccountAdmins } from "../accountAdmins.js";
import { defineCommand } from "../command.js";
import { actionEffects, said } from "../billingEffects.js";
import { userAfter } from "../identityRef.js";
import type { Executor } from "../targets.js";
import { closeOpenElevation } from "./roleElevations.js";
import { assertCanGainAccess } from "./userTransitions.js";
import { writeUser } from "../directoryWrite.js";
import { mirrorWritten, recordUserWrite } from "../../directory/readThrough.js";

/** 409 while someone at the customer can still grant the role themselves. */
async function assertNoActiveAdmin(db: Executor, accountId: string): Promise<void> {
  const admins = await activeAdmins(db, accountId);
  if (!admins.length) return;
  throw Problem.conflict("account_has_admin", `Account ${accountId} has an active owner or admin (${admins.map((a) => `${a.email}, ${a.role}`).join("; ")}): ask them to grant the role`, {
    admins: admins.map((a) => ({ id: a.id, email: a.email, role: a.role })),
  });
}

/**
 * user.promote_admin — makes an active user owner or admin, only when the account has no active
 * owner/admin left. Not an invited one: the account needs someone who can manage it now.
 */
export const promoteAdmin = defineCommand({
  action: "user.promote_admin",
  targetType: "user",
  input: actionInputs["user.promote_admin"],
  provider: "directory",
  precondition: async (target, ctx) => {
    assertCanGainAccess("user.promote_admin", target, ["active"]);
    await assertNoActiveAdmin(ctx.deps.database.db, target.accountId);
  },
  // Not destructive, but it gives the user the account's administration: the role before and after is shown first.
  preview: async (target, input) =>
    actionEffects(null, {
      summary: said("user_role_change", { name: target.user.name, email: target.user.email, fromRole: target.user.role, toRole: input.role }, `Change ${target.user.name} <${target.user.email}>'s role: ${target.user.role} → ${input.role}`),
      billingAfter: "unchanged",
    }),
  perform: (target, input, ctx, call) => writeUser(target, { role: input.role }, ctx, call),
  apply: async (trx, target, input, ctx, written) => {
    await lockAccountAdmins(trx, target.accountId);
    await assertNoActiveAdmin(trx, target.accountId);
    await recordUserWrite(trx, ctx.deps, target.id, { role: input.role }, { answer: written, now: ctx.now });
    await mirrorWritten(trx, ctx.deps, { user: written }, ctx.now);
    const closedElevation = await closeOpenElevation(trx, target.id, ctx.now);
    await trx.insertInto("activity_events").values({ account_id: target.accountId, user_id: target.id, type: "role_changed", detail: `${target.user.role} → ${input.role}: promoted by support, the account had no admin (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now }).execute();
    return { after: { ...(await userAfter(trx, target.id, written)), ...(closedElevation ? { closedElevation } : {}) } };
  },
});
