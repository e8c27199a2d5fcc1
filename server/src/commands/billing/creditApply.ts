import { actionInputs } from "../../../../shared/schemas/actions.js";
import { Problem } from "../../http/problem.js";
import { accountAfter } from "../accountAfter.js";
import { defineCommand, type Reread } from "../command.js";
import { assertBillingOpen, billingRef, currentBilling, earlierBilling } from "../billingState.js";
import { actionEffects, formatMoney, said } from "../billingEffects.js";

/** billing.credit_apply — credits the customer balance (it reduces the next invoices); support_full up to its cap. */
export const applyCredit = defineCommand({
  action: "billing.credit_apply",
  targetType: "account",
  input: actionInputs["billing.credit_apply"],
  provider: "billing",
  capValue: (input) => input.amountCents,
  providerState: async (target, _input, ctx) => {
    const billing = await currentBilling(ctx, target.account);
    return { balanceCents: billing?.balanceCents ?? null, currency: billing?.currency ?? null };
  },
  precondition: async (target, ctx) => {
    assertBillingOpen("billing.credit_apply", target.account);
    if (!(await currentBilling(ctx, target.account))) throw Problem.conflict("no_billing_customer", `Account ${target.id} has no billing customer to credit`, { accountId: target.id });
  },
  // Not destructive, but it moves money: the balance after it and the next invoice it lowers are shown first.
  preview: async (target, input, ctx) => {
    const billing = await currentBilling(ctx, target.account);
    const currency = billing?.currency ?? "usd";
    const balanceAfter = (billing?.balanceCents ?? 0) - input.amountCents; // below zero is the customer's credit
    const amount = formatMoney(input.amountCents, currency);
    const summary =
      balanceAfter <= 0
        ? said("credit_apply", { name: target.account.name, amountCents: input.amountCents, creditCents: -balanceAfter }, `Credit ${amount} to ${target.account.name}: ${formatMoney(-balanceAfter, currency)} in credit after it, taken off the next invoices`)
        : said("credit_apply_owing", { name: target.account.name, amountCents: input.amountCents, owedCents: balanceAfter }, `Credit ${amount} to ${target.account.name}: ${formatMoney(balanceAfter, currency)} still owed after it`);
    const next = billing?.nextInvoice ?? null;
    return actionEffects(billing ?? null, {
      summary,
      billingAfter: { mrrCents: billing?.mrrCents ?? 0, nextInvoice: next && { amountCents: Math.max(0, next.amountCents - input.amountCents), date: next.date } },
      warnings: [said("credit_not_refund", {}, "A credit is not a refund: nothing goes back to the card")],
    });
  },
  perform: (target, input, ctx, call) => ctx.deps.billing.applyCredit(billingRef(target.account), input.amountCents, input.description ?? `Support credit (ticket ${ctx.ticketId})`, call),
  // Stripe keeps the credit's key in its metadata: the credit is found (or known absent) after a 500 or past the key's retention.
  verify: async (target, _input, ctx, call): Promise<Reread<{ balanceCents: number }>> => {
    const found = await ctx.deps.billing.findCredit?.(billingRef(target.account), call);
    if (!found) return null;
    return found.found ? { applied: true, performed: { balanceCents: found.balanceCents } } : { applied: false };
  },
  apply: async (trx, target, input, ctx, credited) => {
    const billing = await earlierBilling(ctx);
    const amount = formatMoney(input.amountCents, billing?.currency ?? "usd");
    await trx.insertInto("activity_events").values({ account_id: target.id, user_id: null, type: "credit_applied", detail: `${amount} credit by support (ticket ${ctx.ticketId})`, ip: null, occurred_at: ctx.now }).execute();
    return { after: { ...(await accountAfter(trx, target.id)), balanceCents: credited.balanceCents, creditedCents: input.amountCents }, result: { balanceCents: credited.balanceCents } };
  },
});
