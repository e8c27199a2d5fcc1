import { actionInputs } from "../../../../shared/schemas/actions.js";
import { defineCommand } from "../command.js";
import { actionEffects, said } from "../billingEffects.js";
import { blockReread } from "../identityReread.js";
import { identityRef, userAfter } from "../identityRef.js";
import { recordUserActivity } from "./activityNote.js";
import { identityBefore, signInState } from "./signInState.js";
import { invalidTransition } from "./userTransitions.js";

/** user.block — an admin block: the user cannot sign in until unblocked (not a brute-force lockout). Decided from the identity provider's state. */
export const blockUser = defineCommand({
  action: "user.block",
  targetType: "user",
  input: actionInputs["user.block"],
  provider: "identity",
  providerState: identityBefore,
  precondition: async (target, ctx) => {
    const state = await signInState(target, ctx);
    if (state.blocked) throw invalidTransition(`${target.id} is already blocked${state.source === "builtin" ? "" : ` at ${state.source}`}`, { blocked: true });
  },
  // Not destructive, but it takes access away: who loses it is shown first (user actions read no billing).
  preview: async (target) =>
    actionEffects(null, {
      summary: said("user_block", { name: target.user.name, email: target.user.email }, `Block ${target.user.name} <${target.user.email}>: they cannot sign in until unblocked`),
      billingAfter: "unchanged",
      usersLosingAccess: target.user.status === "active" && !target.user.blocked ? [target.user] : [],
    }),
  perform: (target, _input, ctx, call) => ctx.deps.identity.setBlocked(identityRef(target.user), true, call),
  // Blocked at the provider now: the lost write took effect (setting it again would change nothing).
  verify: (target, _input, ctx) => blockReread([target.user], true, ctx, undefined),
  apply: async (trx, target, _input, ctx) => {
    await trx.updateTable("users").set({ blocked: true }).where("id", "=", target.id).execute();
    await recordUserActivity(trx, target, "blocked", ctx);
    return { after: await userAfter(trx, target.id) };
  },
});
