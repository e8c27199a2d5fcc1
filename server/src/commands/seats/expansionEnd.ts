import { Problem } from "../../http/problem.js";
import { actionEffects, formatMoney, said, projectedMrrCents, projectedNextInvoice } from "../billingEffects.js";
import { currentBilling, isLiveSubscription } from "../billingState.js";
import type { CommandContext } from "../command.js";
import type { AccountTarget } from "../targets.js";
import { expansionEnder, expansionToEnd } from "./expansionExpire.js";
import { temporarySeats } from "./seatHolders.js";

type Input = { expansionId: string };

// Without the input: whether the account has an expansion to end at all (the available actions read it).
async function precondition(target: AccountTarget, ctx: CommandContext) {
  const open = await ctx.deps.database.db.selectFrom("seat_expansions").select("id").where("account_id", "=", target.id).where("reverted_at", "is", null).executeTakeFirst();
  if (!open) throw Problem.conflict("no_open_grant", `Account ${target.id} has no temporary seats to end`);
}

/**
 * seats.expansion_end — an agent ends a temporary seat expansion now ("End now" in the sidebar): the
 * same effect as the sweep's seats.expansion_expire, before it is due, audited with the agent and the
 * ticket. It lowers the bill, so the sidebar shows by how much first.
 */
export const endSeatExpansion = {
  ...expansionEnder("seats.expansion_end", "end", precondition),
  precondition,
  preview: async (target: AccountTarget, input: Input, ctx: CommandContext) => {
    const row = await expansionToEnd("end", ctx.deps.database.db, target.id, input.expansionId, ctx.now);
    const billing = await currentBilling(ctx, target.account);
    const billed = target.account.seats_licensed + (await temporarySeats(ctx.deps.database.db, target.id, { except: row.id }));
    if (!isLiveSubscription(billing)) return actionEffects(billing, { summary: said("seats_expansion_end_unbilled", { count: row.seats }, `-${row.seats} temporary seats now; the subscription has ended, so the bill stays as it is`), billingAfter: "unchanged" });
    const nextInvoice = projectedNextInvoice(billing, { seats: billed });
    const drop = nextInvoice && billing.nextInvoice ? billing.nextInvoice.amountCents - nextInvoice.amountCents : null;
    return actionEffects(billing, {
      summary:
        drop !== null
          ? said("seats_expansion_end_billed", { count: row.seats, dropCents: drop }, `-${row.seats} temporary seats now: next invoice -${formatMoney(drop, billing.currency)}`)
          : said("seats_expansion_end", { count: row.seats }, `-${row.seats} temporary seats now`),
      billingAfter: { mrrCents: projectedMrrCents(billing, { seats: billed }), nextInvoice },
      warnings: [said("estimates", {}, "Figures are estimates: the provider prorates the change on the next invoice")],
    });
  },
};
