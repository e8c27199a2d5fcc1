import { actionInputs } from "../../../../shared/schemas/actions.js";
import { assertKeepsAnAdmin } from "../accountAdmins.js";
import { actionEffects, said } from "../billingEffects.js";
import { currentBilling } from "../billingState.js";
import { defineCommand } from "../command.js";
import { seatsUsed } from "../targets.js";
import { recordUserActivity } from "./activityNote.js";
import { revokeAccess } from "./revokeAccess.js";
import { directoryStep, writeUser } from "../directoryWrite.js";
import { mirrorWritten, recordUserWrite } from "../../directory/readThrough.js";
import type { DirectoryUser } from "../../../../shared/directory/contract.js";
import { assertUserTransition } from "./userTransitions.js";

const HOLDS_SEAT = new Set(["active", "invited"]);

/**
 * user.delete — soft delete (status `deleted`; the row stays for the audit trail): access revoked and
 * the seat freed. Never the last active owner/admin of an account that is still in use.
 */
export const deleteUser = defineCommand({
  action: "user.delete",
  targetType: "user",
  input: actionInputs["user.delete"],
  provider: ["identity", "directory"],
  precondition: async (target, ctx) => {
    assertUserTransition("user.delete", target.user);
    if (target.account.status !== "deactivated" && target.account.status !== "deleted") await assertKeepsAnAdmin(ctx.deps.database.db, target.accountId, [target.user]);
  },
  preview: async (target, _input, ctx) => {
    const billing = await currentBilling(ctx, target.account);
    const used = await seatsUsed(ctx.deps.database.db, target.accountId);
    const licensed = target.account.seats_licensed;
    const freesSeat = HOLDS_SEAT.has(target.user.status);
    const seats = freesSeat ? `frees 1 seat (${used} of ${licensed} in use → ${used - 1})` : `holds no seat (${used} of ${licensed} in use)`;
    return actionEffects(billing, {
      summary: said(
        freesSeat ? "user_delete_frees_seat" : "user_delete",
        { name: target.user.name, email: target.user.email, account: target.account.name, used, licensed, ...(freesSeat ? { after: used - 1 } : {}) },
        `Delete ${target.user.name} <${target.user.email}> from ${target.account.name}: ${seats}`,
      ),
      billingAfter: "unchanged",
      usersLosingAccess: target.user.status === "active" && !target.user.blocked ? [target.user] : [],
      warnings: freesSeat ? [said("seats_stay", {}, "Licensed seats and billing stay as they are; reduce seats separately if the customer asks")] : [],
    });
  },
  perform: async (target, _input, ctx, call) => {
    let user: DirectoryUser | undefined;
    const statusStep = directoryStep(ctx, `delete ${target.id} in the directory`, async () => void (user = await writeUser(target, { status: "deleted" }, ctx, call)));
    return { ...(await revokeAccess(target.user, ctx, call, statusStep)), user };
  },
  apply: async (trx, target, _input, ctx, performed) => {
    await trx.updateTable("users").set({ blocked: true }).where("id", "=", target.id).execute();
    await recordUserWrite(trx, ctx.deps, target.id, { status: "deleted" }, { answer: performed.user, now: ctx.now });
    await mirrorWritten(trx, ctx.deps, { user: performed.user }, ctx.now);
    await recordUserActivity(trx, target, "user_deleted", ctx, `access revoked (${performed.sessionsRevoked} session(s) ended)`);
    const row = await trx.selectFrom("users").select(["status", "blocked", "version"]).where("id", "=", target.id).executeTakeFirstOrThrow();
    const seatFreed = HOLDS_SEAT.has(target.user.status);
    // The product's answer to this delete, not a newer read the cache may keep instead (mirror.ts).
    return { after: { status: performed.user?.status ?? row.status, blocked: row.blocked, version: row.version, sessionsRevoked: performed.sessionsRevoked, seatFreed }, result: { blocked: performed.blocked, sessionsRevoked: performed.sessionsRevoked, seatFreed } };
  },
});
