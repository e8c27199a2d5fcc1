import { actionInputs } from "../../../../shared/schemas/actions.js";
import { Problem } from "../../http/problem.js";
import { assertKeepsAnAdmin, lockAccountAdmins } from "../accountAdmins.js";
import { defineCommand } from "../command.js";
import { actionEffects, said } from "../billingEffects.js";
import { userAfter } from "../identityRef.js";
import { productRoleRank, roleChangeGrants } from "../../../../shared/productAccess.js";
import { closeOpenElevation } from "./roleElevations.js";
import { assertCanGainAccess } from "./userTransitions.js";
import { writeUser } from "../directoryWrite.js";
import { mirrorWritten, recordUserWrite } from "../../directory/readThrough.js";

/**
 * user.role_change — changes a user's product role. Owner and admin rights are the customer's to
 * grant: support grants them only when the account has none (user.promote_admin) or for a limited
 * time (user.elevate_temporarily). The last active owner/admin cannot be demoted. A higher role needs
 * a user who can use it (active, or invited: the role they get on accepting); a lower one is always
 * possible, whatever the user's or account's state, since it takes access away.
 */
export const changeRole = defineCommand({
  action: "user.role_change",
  targetType: "user",
  input: actionInputs["user.role_change"],
  provider: "directory",
  validate: async (target, input, ctx) => {
    const { user } = target;
    if (user.role === input.role) throw Problem.conflict("invalid_transition", `${user.email} is already ${input.role}`, { role: input.role });
    // The sidebar's picker offers only what this allows (shared/productAccess.ts).
    if (!roleChangeGrants(input.role)) {
      throw Problem.conflict("admin_grant_not_allowed", `Support does not grant the ${input.role} role: the account's owners and admins do. Use user.promote_admin when the account has none, or user.elevate_temporarily`, {
        role: input.role,
        errors: [{ field: "body.input.role", reason: `${input.role} is granted by the account's owners and admins: use user.promote_admin when the account has none, or user.elevate_temporarily` }],
      });
    }
    if (productRoleRank(input.role) > productRoleRank(user.role)) assertCanGainAccess("user.role_change", target);
    await assertKeepsAnAdmin(ctx.deps.database.db, target.accountId, [user]);
  },
  // Not destructive, but it changes what the user may do: the role before and after is shown first.
  preview: async (target, input) =>
    actionEffects(null, {
      summary: said("user_role_change", { name: target.user.name, email: target.user.email, fromRole: target.user.role, toRole: input.role }, `Change ${target.user.name} <${target.user.email}>'s role: ${target.user.role} → ${input.role}`),
      billingAfter: "unchanged",
    }),
  perform: (target, input, ctx, call) => writeUser(target, { role: input.role }, ctx, call),
  apply: async (trx, target, input, ctx, written) => {
    // Checked again under the row lock: another admin may have been demoted meanwhile.
    await lockAccountAdmins(trx, target.accountId);
    await assertKeepsAnAdmin(trx, target.accountId, [target.user]);
    await recordUserWrite(trx, ctx.deps, target.id, { role: input.role }, { answer: written, now: ctx.now });
    await mirrorWritten(trx, ctx.deps, { user: written }, ctx.now);
    const closedElevation = await closeOpenElevation(trx, target.id, ctx.now);
    await trx.insertInto("activity_events").values({ account_id: target.accountId, user_id: target.id, type: "role_changed", detail: `${target.user.role} → ${input.role} by support (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now }).execute();
    return { after: { ...(await userAfter(trx, target.id, written)), ...(closedElevation ? { closedElevation } : {}) } };
  },
});
