import { sessionsRevokePreview } from "./restorePreviews.js";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { defineCommand } from "../command.js";
import { identityRef, userAfter } from "../identityRef.js";
import { recordUserActivity } from "./activityNote.js";

/** user.sessions_revoke — signs the user out everywhere (a stolen laptop, a shared password). */
export const sessionsRevoke = defineCommand({
  action: "user.sessions_revoke",
  targetType: "user",
  input: actionInputs["user.sessions_revoke"],
  provider: "identity",
  preview: (target, _input, ctx) => sessionsRevokePreview(target, ctx),
  // No re-read: Auth0 accepts the session delete (202) and ends them asynchronously, and refresh tokens
  // cannot be listed, so neither "sessions left" nor "none left" settles it. Both deletes are safe to
  // repeat: the reconciler runs it again to the end.
  perform: (target, _input, ctx, call) => ctx.deps.identity.revokeSessions(identityRef(target.user), call),
  apply: async (trx, target, _input, ctx, performed) => {
    await recordUserActivity(trx, target, "sessions_revoked", ctx, `${performed.revoked} session(s) ended`);
    return { after: { ...(await userAfter(trx, target.id)), sessionsRevoked: performed.revoked }, result: { revoked: performed.revoked } };
  },
});
