import { z } from "zod";
import { accountAfter } from "../accountAfter.js";
import { billingRef, billingSnapshot, currentBilling, earlierBilling } from "../billingState.js";
import { subscriptionReread } from "../billingReread.js";
import { defineCommand } from "../command.js";
import type { AccountTarget, Executor } from "../targets.js";
import type { CommandContext } from "../command.js";
import { assertGrant, sendRevertKeyed, type GrantEnding } from "../temporaryGrant.js";
import { temporarySeats } from "./seatHolders.js";
import { directoryStep, runSteps, writeAccount } from "../directoryWrite.js";
import { mirrorWritten } from "../../directory/readThrough.js";
import type { DirectoryAccount } from "../../../../shared/directory/contract.js";

export const ExpansionExpireInput = z.object({ expansionId: z.string().min(1) }).strict();

export async function expansionToEnd(ending: GrantEnding, db: Executor, accountId: string, expansionId: string, now: Date) {
  const row = await db.selectFrom("seat_expansions").selectAll().where("id", "=", expansionId).where("account_id", "=", accountId).executeTakeFirst();
  return assertGrant(ending, row, `seat expansion ${expansionId} on account ${accountId}`, now);
}

/**
 * Ends a temporary seat expansion: the provider bills the licence plus the expansions still open, and
 * the expansion is marked reverted (the bill is left alone when the subscription has ended). The sweep
 * does it once the expansion is due (expire); an agent may do it before (end).
 */
export function expansionEnder<Name extends "seats.expansion_expire" | "seats.expansion_end">(action: Name, ending: GrantEnding, guard?: (target: AccountTarget, ctx: CommandContext) => Promise<void>) {
  return defineCommand({
    action,
    targetType: "account",
    input: ExpansionExpireInput,
    provider: "billing",
    providerState: async (target, input, ctx) => {
      // Read first by the runner: "nothing to end" (guard) is said before "no such grant".
      await guard?.(target, ctx);
      const row = await expansionToEnd(ending, ctx.deps.database.db, target.id, input.expansionId, ctx.now);
      const billing = await currentBilling(ctx, target.account);
      return { expansion: { id: row.id, seats: row.seats, expiresAt: new Date(row.expires_at).toISOString(), grantedBy: row.granted_by_staff_id }, billing: billingSnapshot(billing) };
    },
    // Billing (unless the subscription has ended), then the product's count of temporary seats, keyed
    // and last as in seats.expand_temporarily.
    perform: async (target, input, ctx, call) => {
      const earlier = await earlierBilling(ctx);
      const remaining = await temporarySeats(call.executor ?? ctx.deps.database.db, target.id, { except: input.expansionId });
      let billing = earlier;
      let account: DirectoryAccount | undefined;
      // An ended subscription bills nothing: only the bookkeeping (and the product's count) is closed.
      const billed = Boolean(earlier?.subscriptionId) && earlier?.status !== "canceled";
      await runSteps(
        [
          ...(billed ? [{ label: `bill ${target.account.seats_licensed + remaining} seats`, run: async () => void (billing = await ctx.deps.billing.changeSeats(billingRef(target.account), target.account.seats_licensed + remaining, call)) }] : []),
          ...directoryStep(ctx, `set ${target.id} to ${remaining} temporary seats in the directory`, async () => {
            const put = (sent: typeof call) => writeAccount(target, { seatsTemporary: remaining }, ctx, sent);
            account = ending === "expire" ? await sendRevertKeyed(call.executor ?? ctx.deps.database.db, "seat_expansions", input.expansionId, call, ctx.deps.clock.now(), put) : await put(call);
          }),
        ],
        ctx,
        call,
      );
      return { account, billing };
    },
    // Only with the builtin directory: billing's re-read cannot see the product's write.
    verify: async (target, input, ctx) => {
      if (ctx.deps.directory.name !== "builtin") return null;
      const remaining = await temporarySeats(ctx.deps.database.db, target.id, { except: input.expansionId });
      const reread = await subscriptionReread(target.account, ctx, { intended: (now) => now.seats === target.account.seats_licensed + remaining, unchanged: (now, before) => now.seats === before.seats });
      return reread?.applied ? { applied: true, performed: { account: undefined, billing: reread.performed } } : reread;
    },
    apply: async (trx, target, input, ctx, { account, billing }) => {
      await mirrorWritten(trx, ctx.deps, { account }, ctx.now);
      const row = await expansionToEnd(ending, trx, target.id, input.expansionId, ctx.now);
      await trx.updateTable("seat_expansions").set({ reverted_at: ctx.now }).where("id", "=", row.id).execute();
      const by = ending === "end" ? ` ended${ctx.now < new Date(row.expires_at) ? " early" : ""} by support (ticket ${ctx.ticketId})` : "";
      await trx.insertInto("activity_events").values({ account_id: target.id, user_id: null, type: "seats_expansion_ended", detail: `-${row.seats} temporary seats${by} (granted for ticket ${row.ticket_id})`, ip: null, occurred_at: ctx.now }).execute();
      return { after: { ...(await accountAfter(trx, target.id, account)), temporarySeats: await temporarySeats(trx, target.id), revertedExpansion: { id: row.id, seats: row.seats }, billing: billingSnapshot(billing) } };
    },
  });
}

/** seats.expansion_expire — Steward's own action (the sweep, a system actor), once the expansion is due. */
export const expireSeatExpansion = expansionEnder("seats.expansion_expire", "expire");
