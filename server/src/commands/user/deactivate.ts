import { actionInputs } from "../../../../shared/schemas/actions.js";
import { assertKeepsAnAdmin } from "../accountAdmins.js";
import { defineCommand } from "../command.js";
import { actionEffects, said } from "../billingEffects.js";
import { userAfter } from "../identityRef.js";
import { recordUserActivity } from "./activityNote.js";
import { revokeAccess } from "./revokeAccess.js";
import { directoryStep, writeUser } from "../directoryWrite.js";
import { mirrorWritten, recordUserWrite } from "../../directory/readThrough.js";
import type { DirectoryUser } from "../../../../shared/directory/contract.js";
import { assertUserTransition } from "./userTransitions.js";

/** user.deactivate — revokes access: identity blocked, every session ended, the seat freed. */
export const deactivateUser = defineCommand({
  action: "user.deactivate",
  targetType: "user",
  input: actionInputs["user.deactivate"],
  provider: ["identity", "directory"],
  precondition: async (target, ctx) => {
    assertUserTransition("user.deactivate", target.user);
    await assertKeepsAnAdmin(ctx.deps.database.db, target.accountId, [target.user]);
  },
  // Not destructive, but it takes access away: who loses it is shown first (user actions read no billing).
  preview: async (target) =>
    actionEffects(null, {
      summary: said("user_deactivate", { name: target.user.name, email: target.user.email }, `Deactivate ${target.user.name} <${target.user.email}>: they lose access until activated again`),
      billingAfter: "unchanged",
      usersLosingAccess: target.user.status === "active" && !target.user.blocked ? [target.user] : [],
    }),
  perform: async (target, _input, ctx, call) => {
    let user: DirectoryUser | undefined;
    const statusStep = directoryStep(ctx, `deactivate ${target.id} in the directory`, async () => void (user = await writeUser(target, { status: "deactivated" }, ctx, call)));
    return { ...(await revokeAccess(target.user, ctx, call, statusStep)), user };
  },
  apply: async (trx, target, _input, ctx, performed) => {
    await trx.updateTable("users").set({ blocked: true }).where("id", "=", target.id).execute();
    await recordUserWrite(trx, ctx.deps, target.id, { status: "deactivated" }, { answer: performed.user, now: ctx.now });
    await mirrorWritten(trx, ctx.deps, { user: performed.user }, ctx.now);
    await recordUserActivity(trx, target, "user_deactivated", ctx, `access revoked (${performed.sessionsRevoked} session(s) ended)`);
    const seatFreed = target.user.status === "active" || target.user.status === "invited";
    return { after: { ...(await userAfter(trx, target.id, performed.user)), sessionsRevoked: performed.sessionsRevoked }, result: { blocked: performed.blocked, sessionsRevoked: performed.sessionsRevoked, seatFreed } };
  },
});
