import type { BillingSummary } from "../../../shared/schemas/context.js";
import type { Account } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import type { BillingAccountRef } from "../providers/ports.js";
import type { CommandContext } from "./command.js";

/**
 * The billing state a command works from: read once per request through the billing port (in
 * providerState, validate or preview, before the runner opens its transaction) and shared by every
 * later step, so one action costs one provider read and its preview and execution see the same figures.
 */
const readings = new WeakMap<CommandContext, Promise<BillingSummary | null>>();

export function billingRef(account: Account): BillingAccountRef {
  return { id: account.id, billingCustomerId: account.billing_customer_id };
}

export function currentBilling(ctx: CommandContext, account: Account): Promise<BillingSummary | null> {
  let reading = readings.get(ctx);
  if (!reading) {
    reading = ctx.deps.billing.getBilling(billingRef(account));
    readings.set(ctx, reading);
  }
  return reading;
}

/**
 * The reading taken earlier in this request. Inside the runner's transaction (built-in `perform`,
 * `apply`) a fresh read would wait on the embedded database's single connection, so never read there.
 */
export async function earlierBilling(ctx: CommandContext): Promise<BillingSummary | null> {
  const reading = readings.get(ctx);
  if (!reading) throw new Error("billing was not read before the transaction; read it (currentBilling) in providerState, validate or preview");
  return reading;
}

/** The reading this request took, if it took one and it succeeded: stored with a provider operation. */
export async function billingReadingOf(ctx: CommandContext): Promise<BillingSummary | null | undefined> {
  const reading = readings.get(ctx);
  return reading ? reading.catch(() => undefined) : undefined;
}

/**
 * The reconciler finishing an operation works from the reading the original request took, so the
 * provider gets the same request again (same idempotency key, same parameters).
 */
export function useEarlierReading(ctx: CommandContext, billing: BillingSummary | null): void {
  readings.set(ctx, Promise.resolve(billing));
}

export type LiveSubscription = BillingSummary & { subscriptionId: string; status: NonNullable<BillingSummary["status"]> };

/** A subscription that still renews or collects money: what ending an account must deal with. */
export function isLiveSubscription(billing: BillingSummary | null): billing is LiveSubscription {
  return billing !== null && billing.subscriptionId !== null && billing.status !== null && billing.status !== "canceled" && billing.status !== "incomplete";
}

/** The subscription a billing change applies to; 409 when there is none or it has ended. */
export function liveSubscription(billing: BillingSummary | null, accountId: string): LiveSubscription {
  if (!billing) throw Problem.conflict("no_billing_customer", `Account ${accountId} has no billing customer`, { accountId });
  if (!billing.subscriptionId || !billing.status) throw Problem.conflict("no_subscription", `Account ${accountId} has no subscription`, { accountId });
  if (billing.status === "canceled") throw Problem.conflict("subscription_ended", `The subscription of account ${accountId} is canceled`, { accountId, subscriptionId: billing.subscriptionId });
  return billing as LiveSubscription;
}

/** What an audit entry records of the billing state (before and after a change); null without a billing customer. */
export function billingSnapshot(billing: BillingSummary | null): Record<string, unknown> | null {
  if (!billing) return null;
  return {
    subscriptionId: billing.subscriptionId,
    plan: billing.plan,
    interval: billing.interval,
    status: billing.status,
    seats: billing.seats,
    trialEnd: billing.trialEnd,
    mrrCents: billing.mrrCents,
    cancelAtPeriodEnd: billing.cancelAtPeriodEnd,
    cancelRequestedAt: billing.cancelRequestedAt ?? null,
    currentPeriodEnd: billing.currentPeriodEnd,
    nextInvoice: billing.nextInvoice,
    balanceCents: billing.balanceCents,
    currency: billing.currency,
  };
}

/** `providerState` for seats and billing commands: the billing snapshot next to the account's. */
export async function billingBefore(target: { account: Account }, _input: unknown, ctx: CommandContext): Promise<Record<string, unknown>> {
  return { billing: billingSnapshot(await currentBilling(ctx, target.account)) };
}

/**
 * Billing changes (credits, trials, plans) are for accounts that still have a customer relationship: a
 * deactivated account's subscription is ending and a deleted one's is gone, so a credit there would
 * land on a balance no invoice will ever use.
 */
export function assertBillingOpen(action: string, account: Account): void {
  if (account.status !== "deleted" && account.status !== "deactivated") return;
  throw Problem.conflict("account_closed", `${action} is not possible on a ${account.status} account (${account.id})`, { accountStatus: account.status });
}
