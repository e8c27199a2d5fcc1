import type { BillingSummary } from "../../../shared/schemas/context.js";
import type { Account } from "../db/schema.js";
import { billingReadingOf, billingRef } from "./billingState.js";
import type { CommandContext, Reread } from "./command.js";

/**
 * The reconciler's re-read of a subscription change whose answer was lost and whose key cannot settle
 * it (a replayed 500, or past Stripe's key retention): the subscription now against the state the
 * change was meant to leave (applied) and the state the request read before it (not applied). Anything
 * else (someone changed it at Stripe meanwhile) cannot be told apart: null, for a person to resolve.
 */
export async function subscriptionReread(
  account: Account,
  ctx: CommandContext,
  shows: { intended: (now: BillingSummary, before: BillingSummary) => boolean; unchanged: (now: BillingSummary, before: BillingSummary) => boolean },
): Promise<Reread<BillingSummary>> {
  const before = await billingReadingOf(ctx);
  if (!before?.subscriptionId) return null;
  const now = await ctx.deps.billing.getBilling(billingRef(account));
  // Another subscription now (or none): not the one the change was made to.
  if (!now || now.subscriptionId !== before.subscriptionId) return null;
  if (shows.intended(now, before)) return { applied: true, performed: now };
  if (shows.unchanged(now, before)) return { applied: false };
  return null;
}

/** Stripe keeps times in whole seconds. */
export const sameSecond = (a: string | null, b: Date | string | null): boolean => a !== null && b !== null && Math.floor(new Date(a).getTime() / 1000) === Math.floor(new Date(b).getTime() / 1000);

/** A billing re-read in the shape of commands whose perform also wrote the product's copy (builtin: nothing to write). */
export function withBilling(reread: Reread<BillingSummary>): Reread<{ billing: BillingSummary; account: undefined }> {
  if (!reread || !reread.applied) return reread;
  return { applied: true, performed: { billing: reread.performed, account: undefined } };
}
