import { actionInputs } from "../../../../shared/schemas/actions.js";
import { defineCommand } from "../command.js";
import { identityRef, userAfter } from "../identityRef.js";
import { seatsUsed } from "../targets.js";
import { recordUserActivity } from "./activityNote.js";
import { assertAccountOpen, assertUserTransition } from "./userTransitions.js";

/**
 * user.activate — a suspended or deactivated user may sign in again. Coming back from deactivation
 * also lifts the identity block the deactivation placed.
 */
export const activateUser = defineCommand({
  action: "user.activate",
  targetType: "user",
  input: actionInputs["user.activate"],
  provider: "identity",
  precondition: (target) => {
    assertUserTransition("user.activate", target.user);
    assertAccountOpen("user.activate", target.account);
  },
  perform: async (target, _input, ctx, call) => {
    const unblock = target.user.status === "deactivated" && target.user.blocked;
    if (unblock) await ctx.deps.identity.setBlocked(identityRef(target.user), false, call);
    return { unblocked: unblock };
  },
  apply: async (trx, target, _input, ctx, performed) => {
    await trx
      .updateTable("users")
      .set({ status: "active", ...(performed.unblocked ? { blocked: false } : {}) })
      .where("id", "=", target.id)
      .execute();
    await recordUserActivity(trx, target, "user_activated", ctx, `from ${target.user.status}`);
    const used = await seatsUsed(trx, target.accountId);
    const seats = { used, licensed: target.account.seats_licensed, over: used > target.account.seats_licensed };
    return { after: { ...(await userAfter(trx, target.id)), seats }, result: { unblocked: performed.unblocked, seats } };
  },
});
