import { actionInputs } from "../../../../shared/schemas/actions.js";
import { assertKeepsAnAdmin } from "../accountAdmins.js";
import { defineCommand } from "../command.js";
import { actionEffects, said } from "../billingEffects.js";
import { identityRef, userAfter } from "../identityRef.js";
import { recordUserActivity } from "./activityNote.js";
import { directoryStep, runSteps, writeUser } from "../directoryWrite.js";
import type { DirectoryUser } from "../../../../shared/directory/contract.js";
import { mirrorWritten, recordUserWrite } from "../../directory/readThrough.js";
import { assertUserTransition } from "./userTransitions.js";

/** user.suspend — a pause: the product refuses sign-in for a suspended user, and current sessions end now. */
export const suspendUser = defineCommand({
  action: "user.suspend",
  targetType: "user",
  input: actionInputs["user.suspend"],
  provider: ["identity", "directory"],
  precondition: async (target, ctx) => {
    assertUserTransition("user.suspend", target.user);
    await assertKeepsAnAdmin(ctx.deps.database.db, target.accountId, [target.user]);
  },
  // Not destructive, but it takes access away: who loses it is shown first (user actions read no billing).
  preview: async (target) =>
    actionEffects(null, {
      summary: said("user_suspend", { name: target.user.name, email: target.user.email }, `Suspend ${target.user.name} <${target.user.email}>: they cannot sign in until the suspension is lifted`),
      billingAfter: "unchanged",
      usersLosingAccess: target.user.status === "active" && !target.user.blocked ? [target.user] : [],
    }),
  // The product's keyed write goes last, as in every action: what fails before it leaves nothing done.
  perform: async (target, _input, ctx, call) => {
    let user: DirectoryUser | undefined;
    let revoked = 0;
    await runSteps(
      [
        { label: `revoke the sessions of ${target.id}`, run: async () => void ({ revoked } = await ctx.deps.identity.revokeSessions(identityRef(target.user), call)) },
        ...directoryStep(ctx, `suspend ${target.id} in the directory`, async () => void (user = await writeUser(target, { status: "suspended" }, ctx, call))),
      ],
      ctx,
      call,
    );
    return { user, revoked };
  },
  apply: async (trx, target, _input, ctx, performed) => {
    await recordUserWrite(trx, ctx.deps, target.id, { status: "suspended" }, { answer: performed.user, now: ctx.now });
    await mirrorWritten(trx, ctx.deps, { user: performed.user }, ctx.now);
    await recordUserActivity(trx, target, "user_suspended", ctx);
    return { after: { ...(await userAfter(trx, target.id, performed.user)), sessionsRevoked: performed.revoked }, result: { sessionsRevoked: performed.revoked } };
  },
});
