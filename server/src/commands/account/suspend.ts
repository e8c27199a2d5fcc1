import { actionInputs } from "../../../../shared/schemas/actions.js";
import { accountAfter } from "../accountAfter.js";
import { defineCommand } from "../command.js";
import { runCompensated } from "../compensation.js";
import { blockSteps, mirrorBlocked, recordAccountActivity, recordHold, usersToBlock } from "./accessHolds.js";
import { assertAccountTransition } from "./accountTransitions.js";

/**
 * account.suspend — nobody at the customer can sign in (each active user is blocked at the identity
 * provider, and the hold remembers exactly whom), billing carries on unchanged.
 */
export const suspendAccount = defineCommand({
  action: "account.suspend",
  targetType: "account",
  input: actionInputs["account.suspend"],
  provider: "identity",
  precondition: (target) => assertAccountTransition("account.suspend", target.account),
  perform: async (target, _input, ctx, call) => {
    const users = await usersToBlock(call.executor ?? ctx.deps.database.db, target.id);
    await runCompensated(blockSteps(users, true, ctx, call), { logger: ctx.deps.logger, transactional: Boolean(call.executor) });
    return { blockedUserIds: users.map((u) => u.id) };
  },
  apply: async (trx, target, _input, ctx, performed) => {
    await mirrorBlocked(trx, performed.blockedUserIds, true, ctx.now);
    const holdId = await recordHold(trx, target.account, "suspension", performed.blockedUserIds, ctx);
    await trx.updateTable("accounts").set({ status: "suspended" }).where("id", "=", target.id).execute();
    await recordAccountActivity(trx, target.id, "account_suspended", ctx, `suspended (${performed.blockedUserIds.length} user(s) blocked)`);
    return {
      after: { ...(await accountAfter(trx, target.id)), blockedUserIds: performed.blockedUserIds, holdId },
      result: { blockedUsers: performed.blockedUserIds.length, previousStatus: target.account.status },
    };
  },
});
