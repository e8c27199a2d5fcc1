import { actionInputs } from "../../../../shared/schemas/actions.js";
import { assertKeepsAnAdmin } from "../accountAdmins.js";
import { defineCommand } from "../command.js";
import { identityRef, userAfter } from "../identityRef.js";
import { recordUserActivity } from "./activityNote.js";
import { assertUserTransition } from "./userTransitions.js";

/** user.suspend — a pause: the product refuses sign-in for a suspended user, and current sessions end now. */
export const suspendUser = defineCommand({
  action: "user.suspend",
  targetType: "user",
  input: actionInputs["user.suspend"],
  provider: "identity",
  precondition: async (target, ctx) => {
    assertUserTransition("user.suspend", target.user);
    await assertKeepsAnAdmin(ctx.deps.database.db, target.accountId, [target.user]);
  },
  perform: (target, _input, ctx, call) => ctx.deps.identity.revokeSessions(identityRef(target.user), call),
  apply: async (trx, target, _input, ctx, performed) => {
    await trx.updateTable("users").set({ status: "suspended" }).where("id", "=", target.id).execute();
    await recordUserActivity(trx, target, "user_suspended", ctx);
    return { after: { ...(await userAfter(trx, target.id)), sessionsRevoked: performed.revoked }, result: { sessionsRevoked: performed.revoked } };
  },
});
