import { unblockPreview } from "./restorePreviews.js";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { defineCommand } from "../command.js";
import { blockReread } from "../identityReread.js";
import { identityRef, userAfter } from "../identityRef.js";
import { recordUserActivity } from "./activityNote.js";
import { identityBefore, signInState } from "./signInState.js";
import { assertAccountOpen, invalidTransition } from "./userTransitions.js";

/** user.unblock — lifts an admin block. Refused while the account's own suspension keeps everyone out. */
export const unblockUser = defineCommand({
  action: "user.unblock",
  targetType: "user",
  input: actionInputs["user.unblock"],
  provider: "identity",
  providerState: identityBefore,
  precondition: async (target, ctx) => {
    assertAccountOpen("user.unblock", target.account);
    const state = await signInState(target, ctx);
    if (!state.blocked) throw invalidTransition(`${target.id} is not blocked${state.source === "builtin" ? "" : ` at ${state.source}`}`, { blocked: false });
  },
  preview: async (target) => unblockPreview(target),
  perform: (target, _input, ctx, call) => ctx.deps.identity.setBlocked(identityRef(target.user), false, call),
  verify: (target, _input, ctx) => blockReread([target.user], false, ctx, undefined),
  apply: async (trx, target, _input, ctx) => {
    await trx.updateTable("users").set({ blocked: false }).where("id", "=", target.id).execute();
    await recordUserActivity(trx, target, "unblocked", ctx);
    return { after: await userAfter(trx, target.id) };
  },
});
