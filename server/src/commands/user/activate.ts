import { activatePreview } from "./restorePreviews.js";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { defineCommand } from "../command.js";
import { identityRef, userAfter } from "../identityRef.js";
import { seatsUsed } from "../targets.js";
import { recordUserActivity } from "./activityNote.js";
import { directoryStep, runSteps, writeUser } from "../directoryWrite.js";
import { mirrorWritten, recordUserWrite } from "../../directory/readThrough.js";
import type { DirectoryUser } from "../../../../shared/directory/contract.js";
import { assertAccountOpen, assertUserTransition } from "./userTransitions.js";

/**
 * user.activate — a suspended or deactivated user may sign in again. Coming back from deactivation
 * also lifts the identity block the deactivation placed.
 */
export const activateUser = defineCommand({
  action: "user.activate",
  targetType: "user",
  input: actionInputs["user.activate"],
  provider: ["identity", "directory"],
  precondition: (target) => {
    assertUserTransition("user.activate", target.user);
    assertAccountOpen("user.activate", target.account);
  },
  preview: async (target, _input, ctx) => activatePreview(target, { used: await seatsUsed(ctx.deps.database.db, target.accountId), licensed: target.account.seats_licensed }),
  // The unblock can be undone, the product's keyed write cannot: it goes last.
  perform: async (target, _input, ctx, call) => {
    const unblock = target.user.status === "deactivated" && target.user.blocked;
    const ref = identityRef(target.user);
    let user: DirectoryUser | undefined;
    await runSteps(
      [
        ...(unblock ? [{ label: `unblock ${target.id}`, run: () => ctx.deps.identity.setBlocked(ref, false, call), undo: () => ctx.deps.identity.setBlocked(ref, true, call) }] : []),
        ...directoryStep(ctx, `activate ${target.id} in the directory`, async () => void (user = await writeUser(target, { status: "active" }, ctx, call))),
      ],
      ctx,
      call,
    );
    return { unblocked: unblock, user };
  },
  apply: async (trx, target, _input, ctx, performed) => {
    if (performed.unblocked) await trx.updateTable("users").set({ blocked: false }).where("id", "=", target.id).execute();
    await recordUserWrite(trx, ctx.deps, target.id, { status: "active" }, { answer: performed.user, now: ctx.now });
    await mirrorWritten(trx, ctx.deps, { user: performed.user }, ctx.now);
    await recordUserActivity(trx, target, "user_activated", ctx, `from ${target.user.status}`);
    const after = await userAfter(trx, target.id, performed.user);
    // The user counts as the product answered this activation, not as a newer read the cache may keep (mirror.ts).
    const used = (await seatsUsed(trx, target.accountId, { except: target.id })) + (after.status === "active" || after.status === "invited" ? 1 : 0);
    const seats = { used, licensed: target.account.seats_licensed, over: used > target.account.seats_licensed };
    return { after: { ...after, seats }, result: { unblocked: performed.unblocked, seats } };
  },
});
