import { randomUUID } from "node:crypto";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { Problem } from "../../http/problem.js";
import { accountAfter } from "../accountAfter.js";
import { billingBefore, billingRef, billingSnapshot, currentBilling, liveSubscription } from "../billingState.js";
import { subscriptionReread, withBilling } from "../billingReread.js";
import { directoryStep, runSteps, writeAccount } from "../directoryWrite.js";
import { mirrorWritten } from "../../directory/readThrough.js";
import type { DirectoryAccount } from "../../../../shared/directory/contract.js";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { defineCommand, type CommandContext } from "../command.js";
import type { Transaction } from "kysely";
import type { DB } from "../../db/schema.js";
import { temporarySeats } from "./seatHolders.js";
import { actionEffects, formatMoney, said, projectedMrrCents, projectedNextInvoice } from "../billingEffects.js";

const DAY_MS = 86_400_000;
const EXPANDABLE = new Set(["active", "trialing", "past_due"]);

/**
 * seats.expand_temporarily — extra seats for a few days (a busy week, an onboarding): billed on top of
 * the licence and recorded in seat_expansions, which the sweep reverts (seats.expansion_expire).
 */
export const expandSeatsTemporarily = defineCommand({
  action: "seats.expand_temporarily",
  targetType: "account",
  input: actionInputs["seats.expand_temporarily"],
  provider: "billing",
  capValue: (input) => input.seats,
  providerState: billingBefore,
  precondition: async (target, ctx) => {
    const { account } = target;
    if (!EXPANDABLE.has(account.status)) throw Problem.conflict("invalid_transition", `Seats cannot be added to a ${account.status} account`, { status: account.status });
    liveSubscription(await currentBilling(ctx, account), account.id);
  },
  // Not destructive, but it raises the next invoices until the seats expire: shown before it happens.
  preview: async (target, input, ctx) => {
    const { account } = target;
    const billing = liveSubscription(await currentBilling(ctx, account), account.id);
    const open = await temporarySeats(ctx.deps.database.db, account.id);
    const billed = account.seats_licensed + open + input.seats;
    const untilDate = new Date(ctx.now.getTime() + input.days * DAY_MS).toISOString();
    const until = untilDate.slice(0, 10);
    const nextInvoice = projectedNextInvoice(billing, { seats: billed });
    const raise = nextInvoice && billing.nextInvoice ? nextInvoice.amountCents - billing.nextInvoice.amountCents : null;
    return actionEffects(billing, {
      summary:
        raise !== null
          ? said("seats_expand_billed", { seats: input.seats, count: input.days, untilDate, raiseCents: raise }, `+${input.seats} seats for ${input.days} day(s), until ${until}: next invoice +${formatMoney(raise, billing.currency)} until ${until}`)
          : said("seats_expand", { seats: input.seats, count: input.days, untilDate }, `+${input.seats} seats for ${input.days} day(s), until ${until}`),
      billingAfter: { mrrCents: projectedMrrCents(billing, { seats: billed }), nextInvoice },
      warnings: [said("estimates", {}, "Figures are estimates: the provider prorates the change on the next invoice")],
    });
  },
  // Billing, then the product's count of temporary seats (keyed, last as in every action): the product
  // owns the seats, so it lets the account use them. Neither is undone: a product refusal after billing
  // changed is an unknown outcome the reconciler completes with the same keys.
  perform: async (target, input, ctx, call) => {
    const open = await temporarySeats(call.executor ?? ctx.deps.database.db, target.id);
    let account: DirectoryAccount | undefined;
    let billing: BillingSummary | undefined;
    await runSteps(
      [
        { label: `bill ${input.seats} more seats`, run: async () => void (billing = await ctx.deps.billing.changeSeats(billingRef(target.account), target.account.seats_licensed + open + input.seats, call)) },
        ...directoryStep(ctx, `give ${target.id} ${open + input.seats} temporary seats in the directory`, async () => void (account = await writeAccount(target, { seatsTemporary: open + input.seats }, ctx, call))),
      ],
      ctx,
      call,
    );
    return { account, billing: billing! };
  },
  // The expansion is recorded only by apply, so the open ones are still those the request counted.
  // Only with the builtin directory: billing's re-read cannot see the product's write.
  verify: async (target, input, ctx) => {
    if (ctx.deps.directory.name !== "builtin") return null;
    const quantity = target.account.seats_licensed + (await temporarySeats(ctx.deps.database.db, target.id)) + input.seats;
    return withBilling(await subscriptionReread(target.account, ctx, { intended: (now) => now.seats === quantity, unchanged: (now, before) => now.seats === before.seats }));
  },
  apply: async (trx, target, input, ctx, { account, billing }) => {
    await mirrorWritten(trx, ctx.deps, { account }, ctx.now);
    const expansion = await recordExpansion(trx, target.id, input, ctx);
    const { id } = expansion;
    return {
      after: { ...(await accountAfter(trx, target.id, account)), temporarySeats: await temporarySeats(trx, target.id), expansion, billing: billingSnapshot(billing) },
      result: { expansionId: id, expiresAt: expansion.expiresAt },
    };
  },
});

/**
 * The expansion the sweep reverts, dated from the request (`grant.now`): written by apply, and by
 * operation.resolve when a person confirms a lost expansion did reach the provider.
 */
export async function recordExpansion(trx: Transaction<DB>, accountId: string, input: { seats: number; days: number }, grant: Pick<CommandContext, "actor" | "ticketId" | "now">): Promise<{ id: string; seats: number; expiresAt: string }> {
  const id = `sx_${randomUUID()}`;
  const expiresAt = new Date(grant.now.getTime() + input.days * DAY_MS);
  const grantedBy = grant.actor.kind === "staff" ? grant.actor.staffId : `system:${grant.actor.component}`;
  await trx.insertInto("seat_expansions").values({ id, account_id: accountId, seats: input.seats, expires_at: expiresAt, ticket_id: grant.ticketId, granted_by_staff_id: grantedBy, created_at: grant.now }).execute();
  await trx.insertInto("activity_events").values({ account_id: accountId, user_id: null, type: "seats_expanded", detail: `+${input.seats} seats until ${expiresAt.toISOString()} by support (ticket ${grant.ticketId})`, ip: null, occurred_at: grant.now }).execute();
  return { id, seats: input.seats, expiresAt: expiresAt.toISOString() };
}
