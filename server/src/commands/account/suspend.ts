import { actionInputs } from "../../../../shared/schemas/actions.js";
import { accountAfter } from "../accountAfter.js";
import { defineCommand } from "../command.js";
import { runCompensated } from "../compensation.js";
import { blockReread } from "../identityReread.js";
import { blockSteps, mirrorBlocked, recordAccountActivity, recordHold, usersToBlock } from "./accessHolds.js";
import { assertAccountTransition } from "./accountTransitions.js";
import { actionEffects, formatMoney, said, type Said } from "../billingEffects.js";
import { currentBilling, isLiveSubscription } from "../billingState.js";
import { directoryStep, writeAccount } from "../directoryWrite.js";
import { mirrorWritten, recordAccountWrite } from "../../directory/readThrough.js";
import type { DirectoryAccount } from "../../../../shared/directory/contract.js";

/**
 * account.suspend — nobody at the customer can sign in (each active user is blocked at the identity
 * provider, and the hold remembers exactly whom), billing carries on unchanged.
 */
export const suspendAccount = defineCommand({
  action: "account.suspend",
  targetType: "account",
  input: actionInputs["account.suspend"],
  provider: ["identity", "directory"],
  precondition: (target) => assertAccountTransition("account.suspend", target.account),
  // Not destructive, but it changes access while the customer keeps paying: the agent sees both first.
  preview: async (target, _input, ctx) => {
    const users = await usersToBlock(ctx.deps.database.db, target.id);
    // Billing is only read here, for the agent; a billing outage must not stop a suspension.
    const billing = await currentBilling(ctx, target.account).catch(() => undefined);
    const warnings: Said[] = [];
    if (billing === undefined) warnings.push(said("billing_unread", {}, "Billing could not be read; it continues unchanged"));
    else if (billing?.nextInvoice) {
      const { amountCents, date } = billing.nextInvoice;
      const text = `Billing continues: the next invoice of ${formatMoney(amountCents, billing.currency)} is still due on ${date ?? "the next billing date"}`;
      warnings.push(date ? said("billing_continues_invoice", { amountCents, dueDate: date }, text) : said("billing_continues_invoice_undated", { amountCents }, text));
    }
    else if (isLiveSubscription(billing ?? null)) warnings.push(said("billing_continues", {}, "Billing continues unchanged"));
    return actionEffects(billing ?? null, {
      summary: said("account_suspend", { name: target.account.name, count: users.length }, `Suspend ${target.account.name}: ${users.length} user(s) cannot sign in until the suspension is lifted; billing continues`),
      billingAfter: "unchanged",
      usersLosingAccess: users,
      warnings,
    });
  },
  perform: async (target, _input, ctx, call) => {
    const users = await usersToBlock(call.executor ?? ctx.deps.database.db, target.id);
    let account: DirectoryAccount | undefined;
    // The blocks can be undone, the product's keyed status write cannot: it goes last.
    const statusStep = directoryStep(ctx, `suspend ${target.id} in the directory`, async () => void (account = await writeAccount(target, { status: "suspended" }, ctx, call)));
    await runCompensated([...blockSteps(users, true, ctx, call), ...statusStep], { logger: ctx.deps.logger, transactional: Boolean(call.executor) });
    return { blockedUserIds: users.map((u) => u.id), account };
  },
  // Steward's copy has not moved yet, so the same users are read back: all blocked, none, or some (run it again).
  // The identity re-read cannot see the product's own status write: with the http directory the keyed retry decides.
  verify: async (target, _input, ctx) => {
    if (ctx.deps.directory.name !== "builtin") return null;
    const users = await usersToBlock(ctx.deps.database.db, target.id);
    return blockReread(users, true, ctx, { blockedUserIds: users.map((u) => u.id), account: undefined });
  },
  apply: async (trx, target, _input, ctx, performed) => {
    await mirrorBlocked(trx, performed.blockedUserIds, true, ctx.now);
    const holdId = await recordHold(trx, target.account, "suspension", performed.blockedUserIds, ctx);
    await recordAccountWrite(trx, ctx.deps, target.id, { status: "suspended" }, { answer: performed.account, now: ctx.now });
    await mirrorWritten(trx, ctx.deps, { account: performed.account }, ctx.now);
    await recordAccountActivity(trx, target.id, "account_suspended", ctx, `suspended (${performed.blockedUserIds.length} user(s) blocked)`);
    return {
      after: { ...(await accountAfter(trx, target.id, performed.account)), blockedUserIds: performed.blockedUserIds, holdId },
      result: { blockedUsers: performed.blockedUserIds.length, previousStatus: target.account.status },
    };
  },
});
