import { mfaResetPreview } from "./restorePreviews.js";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { defineCommand, type Reread } from "../command.js";
import { identityRef, userAfter } from "../identityRef.js";
import { recordUserActivity } from "./activityNote.js";
import { earlierSignInState, identityBefore, signInState } from "./signInState.js";
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
  providerState: identityBefore,
  precondition: async (target, ctx) => {
    assertCanSignIn("user.mfa_reset", target.user);
    const state = await signInState(target, ctx);
    if (!state.mfaEnrolled) throw invalidTransition(`${target.id} has no second factor to reset${state.source === "builtin" ? "" : ` at ${state.source}`}`, { mfaEnrolled: false });
  },
  // The factors removed are the ones the action decides from (signInState); the security notice cannot be turned off.
  preview: async (target, _input, ctx) => mfaResetPreview(target, (await signInState(target, ctx)).mfaMethods),
  perform: (target, _input, ctx, call) => ctx.deps.identity.resetMfa(identityRef(target.user), call),
  // Factors still enrolled: nothing was removed. None left: whether remembered browsers were forgotten
  // cannot be read, so the reset runs again (each of its deletes is safe to repeat).
  verify: async (target, _input, ctx): Promise<Reread<void>> => ((await ctx.deps.identity.getIdentity(identityRef(target.user))).mfaEnrolled ? { applied: false } : null),
  apply: async (trx, target, input, ctx) => {
    // The product's copy follows the provider, whichever adapter is in use.
    await trx.updateTable("users").set({ mfa_enrolled: false, mfa_methods: [] }).where("id", "=", target.id).execute();
    await recordUserActivity(trx, target, "mfa_reset", ctx, `identity verified (${input.identityVerification})`);
    const verification = { method: input.identityVerification, note: input.verificationNote };
    const removedMethods = (await earlierSignInState(ctx))?.mfaMethods ?? target.user.mfa_methods;
    return { after: { ...(await userAfter(trx, target.id)), identityVerification: verification }, result: { removedMethods, identityVerification: verification } };
  },
});
