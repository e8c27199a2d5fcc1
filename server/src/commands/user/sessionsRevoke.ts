import { actionInputs } from "../../../../shared/schemas/actions.js";
import { defineCommand } from "../command.js";
import type { Reread } from "../identityReread.js";
import { identityRef, userAfter } from "../identityRef.js";
import { recordUserActivity } from "./activityNote.js";

/** user.sessions_revoke — signs the user out everywhere (a stolen laptop, a shared password). */
export const sessionsRevoke = defineCommand({
  action: "user.sessions_revoke",
  targetType: "user",
  input: actionInputs["user.sessions_revoke"],
  provider: "identity",
  perform: (target, _input, ctx, call) => ctx.deps.identity.revokeSessions(identityRef(target.user), call),
  // Sessions still there: not ended. None: refresh tokens cannot be read, so it runs again (safe to repeat).
  verify: async (target, _input, ctx): Promise<Reread<{ revoked: number }>> => ((await ctx.deps.identity.getIdentity(identityRef(target.user))).activeSessions > 0 ? { applied: false } : null),
  apply: async (trx, target, _input, ctx, performed) => {
    await recordUserActivity(trx, target, "sessions_revoked", ctx, `${performed.revoked} session(s) ended`);
    return { after: { ...(await userAfter(trx, target.id)), sessionsRevoked: performed.revoked }, result: { revoked: performed.revoked } };
  },
});
