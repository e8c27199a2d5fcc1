import { unsuspendPreview } from "./restorePreviews.js";
import { currentBilling } from "../billingState.js";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { accountAfter } from "../accountAfter.js";
import { defineCommand } from "../command.js";
import { runCompensated } from "../compensation.js";
import { blockReread } from "../identityReread.js";
import { blockSteps, mirrorBlocked, openHolds, recordAccountActivity, releaseHolds, usersHeldBy } from "./accessHolds.js";
import { assertAccountTransition, restoredStatus } from "./accountTransitions.js";
import { directoryStep, writeAccount } from "../directoryWrite.js";
import { mirrorWritten, recordAccountWrite } from "../../directory/readThrough.js";
import type { DirectoryAccount } from "../../../../shared/directory/contract.js";

/**
 * account.unsuspend — unblocks exactly the users the suspension blocked and puts back the status it
 * replaced (trialing, past_due or active). Users blocked for other reasons stay blocked.
 */
export const unsuspendAccount = defineCommand({
  action: "account.unsuspend",
  targetType: "account",
  input: actionInputs["account.unsuspend"],
  provider: ["identity", "directory"],
  precondition: (target) => assertAccountTransition("account.unsuspend", target.account),
  // Gives access back: who can sign in again; billing never paused (read for the agent only: an outage must not stop it).
  preview: async (target, _input, ctx) => {
    const db = ctx.deps.database.db;
    const users = await usersHeldBy(db, await openHolds(db, target.id, ["suspension"]));
    return unsuspendPreview(target, users, await currentBilling(ctx, target.account).catch(() => undefined));
  },
  perform: async (target, _input, ctx, call) => {
    const db = call.executor ?? ctx.deps.database.db;
    const holds = await openHolds(db, target.id, ["suspension"]);
    const users = await usersHeldBy(db, holds);
    const status = restoredStatus(holds[0]?.previous_status);
    let account: DirectoryAccount | undefined;
    // The unblocks can be undone, the product's keyed status write cannot: it goes last.
    const statusStep = directoryStep(ctx, `restore ${target.id} to ${status} in the directory`, async () => void (account = await writeAccount(target, { status }, ctx, call)));
    await runCompensated([...blockSteps(users, false, ctx, call), ...statusStep], { logger: ctx.deps.logger, transactional: Boolean(call.executor) });
    return { holds, unblockedUserIds: users.map((u) => u.id), status, account };
  },
  // As for suspend: the identity re-read cannot see the product's own status write (http directory).
  verify: async (target, _input, ctx) => {
    if (ctx.deps.directory.name !== "builtin") return null;
    const db = ctx.deps.database.db;
    const holds = await openHolds(db, target.id, ["suspension"]);
    const users = await usersHeldBy(db, holds);
    return blockReread(users, false, ctx, { holds, unblockedUserIds: users.map((u) => u.id), status: restoredStatus(holds[0]?.previous_status), account: undefined });
  },
  apply: async (trx, target, _input, ctx, performed) => {
    await mirrorBlocked(trx, performed.unblockedUserIds, false, ctx.now);
    await releaseHolds(trx, performed.holds, ctx.now);
    await recordAccountWrite(trx, ctx.deps, target.id, { status: performed.status }, { answer: performed.account, now: ctx.now });
    await mirrorWritten(trx, ctx.deps, { account: performed.account }, ctx.now);
    await recordAccountActivity(trx, target.id, "account_unsuspended", ctx, `suspension lifted (${performed.unblockedUserIds.length} user(s) unblocked)`);
    return {
      after: { ...(await accountAfter(trx, target.id, performed.account)), unblockedUserIds: performed.unblockedUserIds, releasedHoldIds: performed.holds.map((h) => h.id) },
      result: { unblockedUsers: performed.unblockedUserIds.length, status: performed.status },
    };
  },
});
