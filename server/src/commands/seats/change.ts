import { actionInputs } from "../../../../shared/schemas/actions.js";
import { Problem } from "../../http/problem.js";
import { accountAfter } from "../accountAfter.js";
import { actionEffects, formatMoney, said, type Said, projectedMrrCents, projectedNextInvoice } from "../billingEffects.js";
import { billingBefore, billingRef, billingSnapshot, currentBilling, liveSubscription } from "../billingState.js";
import { subscriptionReread, withBilling } from "../billingReread.js";
import { defineCommand } from "../command.js";
import { billedSeats, seatHolders, temporarySeats, userRef } from "./seatHolders.js";
import { directoryStep, runSteps, writeAccount } from "../directoryWrite.js";
import { mirrorWritten, recordAccountWrite } from "../../directory/readThrough.js";
import type { DirectoryAccount } from "../../../../shared/directory/contract.js";
import type { BillingSummary } from "../../../../shared/schemas/context.js";

const SEATED_ACCOUNT = new Set(["active", "trialing", "past_due", "suspended"]);

/**
 * seats.change — sets the permanent licence; the provider bills it plus any open temporary
 * expansions. Going below the users holding seats needs the preview's confirmation: it lists who is over.
 */
export const changeSeats = defineCommand({
  action: "seats.change",
  targetType: "account",
  input: actionInputs["seats.change"],
  provider: ["billing", "directory"],
  providerState: billingBefore,
  precondition: async (target, ctx) => {
    const { account } = target;
    if (!SEATED_ACCOUNT.has(account.status)) throw Problem.conflict("invalid_transition", `Seats cannot change on a ${account.status} account`, { status: account.status });
    liveSubscription(await currentBilling(ctx, account), account.id);
  },
  validate: (target, input) => {
    if (input.seats === target.account.seats_licensed) throw Problem.conflict("invalid_transition", `The account already has ${input.seats} licensed seats`);
  },
  preview: async (target, input, ctx) => {
    const { account } = target;
    const db = ctx.deps.database.db;
    const billing = liveSubscription(await currentBilling(ctx, account), account.id);
    const [holders, temporary] = await Promise.all([seatHolders(db, account.id), temporarySeats(db, account.id)]);
    const billed = input.seats + temporary;
    // The least attached holders are the ones "over" the new limit.
    const over = holders.length > billed ? holders.slice(0, holders.length - billed) : [];
    const mrrAfter = projectedMrrCents(billing, { seats: billed });
    const warnings: Said[] = [];
    if (over.length) warnings.push(said("seats_over_limit", { count: over.length, holders: holders.length }, `${over.length} of ${holders.length} users holding seats are over the new limit: they keep access, and the account is over its seats until some leave (seats.reclaim)`));
    if (temporary) warnings.push(said("seats_temporary_stay", { count: temporary }, `${temporary} temporary seats stay on top of the licence until they expire`));
    warnings.push(said("estimates", {}, "Figures are estimates: the provider prorates the change on the next invoice"));
    return actionEffects(billing, {
      summary: said(
        "seats_change",
        { from: account.seats_licensed, to: input.seats, inUse: holders.length, mrrBeforeCents: billing.mrrCents, mrrAfterCents: mrrAfter },
        `Licensed seats ${account.seats_licensed} → ${input.seats} (${holders.length} in use); MRR ${formatMoney(billing.mrrCents, billing.currency)} → ${formatMoney(mrrAfter, billing.currency)}`,
      ),
      billingAfter: { mrrCents: mrrAfter, nextInvoice: projectedNextInvoice(billing, { seats: billed }) },
      usersOverSeats: over.map(userRef),
      warnings,
    });
  },
  // Only a reduction below the users holding seats is destructive.
  confirmationRequired: async (target, input, ctx) => {
    if (input.seats >= target.account.seats_licensed) return false;
    const holders = await seatHolders(ctx.deps.database.db, target.id);
    return input.seats < holders.length;
  },
  // Billing, then the product's licence (keyed, last as in every action); both keyed, neither undoable:
  // a product refusal after billing changed is an unknown outcome the reconciler completes.
  perform: async (target, input, ctx, call) => {
    const quantity = input.seats + (await temporarySeats(call.executor ?? ctx.deps.database.db, target.id));
    let account: DirectoryAccount | undefined;
    let billing: BillingSummary | undefined;
    await runSteps(
      [
        { label: `bill ${quantity} seats`, run: async () => void (billing = await ctx.deps.billing.changeSeats(billingRef(target.account), quantity, call)) },
        ...directoryStep(ctx, `set ${target.id} to ${input.seats} seats in the directory`, async () => void (account = await writeAccount(target, { seatsLicensed: input.seats }, ctx, call))),
      ],
      ctx,
      call,
    );
    return { account, billing: billing! };
  },
  // The plan item's quantity: the licence asked for (plus open temporary seats, unchanged while this is open),
  // or still the one before. Only with the builtin directory: billing's re-read cannot see the product's write.
  verify: async (target, input, ctx) => {
    if (ctx.deps.directory.name !== "builtin") return null;
    const quantity = input.seats + (await temporarySeats(ctx.deps.database.db, target.id));
    return withBilling(await subscriptionReread(target.account, ctx, { intended: (now) => now.seats === quantity, unchanged: (now, before) => now.seats === before.seats }));
  },
  apply: async (trx, target, input, ctx, { account, billing }) => {
    await recordAccountWrite(trx, ctx.deps, target.id, { seats_licensed: input.seats }, { answer: account, now: ctx.now });
    await mirrorWritten(trx, ctx.deps, { account }, ctx.now);
    await trx.insertInto("activity_events").values({ account_id: target.id, user_id: null, type: "seats_changed", detail: `${target.account.seats_licensed} → ${input.seats} seats by support (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now }).execute();
    const after = await accountAfter(trx, target.id, account);
    return { after: { ...after, billedSeats: await billedSeats(trx, { ...target.account, seats_licensed: input.seats }), billing: billingSnapshot(billing) } };
  },
});
