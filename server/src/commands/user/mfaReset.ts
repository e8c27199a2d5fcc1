import { actionInputs } from "../../../../shared/schemas/actions.js";
import { defineCommand } from "../command.js";
import { identityRef, userAfter } from "../identityRef.js";
import { recordUserActivity } from "./activityNote.js";
import { assertCanSignIn, invalidTransition } from "./userTransitions.js";

/**
 * user.mfa_reset — removes every second factor so the user enrols again at next sign-in. The
 * favourite target of social engineering, so the audit entry records how the agent verified identity.
 */
export const mfaReset = defineCommand({
  action: "user.mfa_reset",
  targetType: "user",
  input: actionInputs["user.mfa_reset"],
  provider: "identity",
  validate: (target) => {
    assertCanSignIn("user.mfa_reset", target.user);
    if (!target.user.mfa_enrolled && target.user.mfa_methods.length === 0) throw invalidTransition(`${target.id} has no second factor to reset`, { mfaEnrolled: false });
  },
  perform: (target, _input, ctx, call) => ctx.deps.identity.resetMfa(identityRef(target.user), call),
  apply: async (trx, target, input, ctx) => {
    // The product's copy follows the provider, whichever adapter is in use.
    await trx.updateTable("users").set({ mfa_enrolled: false, mfa_methods: [] }).where("id", "=", target.id).execute();
    await recordUserActivity(trx, target, "mfa_reset", ctx, `identity verified (${input.identityVerification})`);
    const verification = { method: input.identityVerification, note: input.verificationNote };
    return { after: { ...(await userAfter(trx, target.id)), identityVerification: verification }, result: { removedMethods: target.user.mfa_methods, identityVerification: verification } };
  },
});
