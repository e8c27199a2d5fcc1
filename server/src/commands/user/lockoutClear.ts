import { lockoutClearPreview } from "./restorePreviews.js";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { defineCommand, type Reread } from "../command.js";
import { identityRef, userAfter } from "../identityRef.js";
import { identityBefore } from "./signInState.js";

/** user.lockout_clear — lifts a brute-force lockout after failed sign-ins (Auth0: user-blocks). */
export const lockoutClear = defineCommand({
  action: "user.lockout_clear",
  targetType: "user",
  input: actionInputs["user.lockout_clear"],
  provider: "identity",
  providerState: identityBefore,
  // Gives access back: who can sign in now, and when the lock would have lifted by itself.
  preview: (target, _input, ctx) => lockoutClearPreview(target, ctx),
  perform: (target, _input, ctx, call) => ctx.deps.identity.clearLockout(identityRef(target.user), call),
  // No brute-force block left: cleared (whether by this write or on its own, the product's copy should say so).
  verify: async (target, _input, ctx): Promise<Reread<void>> => ((await ctx.deps.identity.getIdentity(identityRef(target.user))).locked ? { applied: false } : { applied: true, performed: undefined }),
  apply: async (trx, target, _input, ctx) => {
    // The product's own copy of the lock follows the provider, whichever adapter is in use.
    await trx.updateTable("users").set({ failed_login_count: 0, locked_until: null }).where("id", "=", target.id).execute();
    await trx.insertInto("activity_events").values({ account_id: target.accountId, user_id: target.id, type: "lockout_cleared", detail: `by support (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now }).execute();
    return { after: await userAfter(trx, target.id) };
  },
});
