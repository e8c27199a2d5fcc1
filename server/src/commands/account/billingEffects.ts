import type { ActionEffects } from "../../../../shared/schemas/actions.js";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import type { Account, User } from "../../db/schema.js";
import type { CommandContext } from "../command.js";

/** Subscriptions that still renew or collect money: what ending an account must deal with. */
export function isLiveSubscription(billing: BillingSummary | null): billing is BillingSummary {
  return billing !== null && billing.subscriptionId !== null && billing.status !== null && billing.status !== "canceled" && billing.status !== "incomplete";
}

export function readBilling(account: Account, ctx: CommandContext): Promise<BillingSummary | null> {
  return ctx.deps.billing.getBilling({ id: account.id, billingCustomerId: account.billing_customer_id });
}

/**
 * Billing as read before the runner opens its transaction (in `validate`). `perform` decides from
 * this copy: with the built-in adapter it runs inside the transaction, where reading the port
 * would wait for the transaction's own connection (PGlite has one).
 */
const readBeforePerform = new WeakMap<CommandContext, BillingSummary | null>();

export async function billingBefore(account: Account, ctx: CommandContext): Promise<BillingSummary | null> {
  if (!readBeforePerform.has(ctx)) readBeforePerform.set(ctx, await readBilling(account, ctx));
  return readBeforePerform.get(ctx) ?? null;
}

export function billingSeen(ctx: CommandContext): BillingSummary | null {
  if (!readBeforePerform.has(ctx)) throw new Error("billing must be read in validate (billingBefore) before perform");
  return readBeforePerform.get(ctx) ?? null;
}

/** What the audit entry shows of the subscription after the action. */
export function subscriptionState(billing: BillingSummary | null): Record<string, unknown> | null {
  if (!billing?.subscriptionId) return null;
  return { subscriptionId: billing.subscriptionId, plan: billing.plan, status: billing.status, cancelAtPeriodEnd: billing.cancelAtPeriodEnd, currentPeriodEnd: billing.currentPeriodEnd, mrrCents: billing.mrrCents };
}

export function money(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

/**
 * The billing-aware preview (read through the billing port). Everything in it is stable between
 * preview and execution unless the account really changed, because the confirmation fingerprints it.
 */
export function effectsOf(
  billing: BillingSummary | null,
  parts: { summary: string; endsSubscription: boolean; usersLosingAccess: Pick<User, "id" | "email" | "name">[]; retentionUntil?: string | null; warnings?: string[] },
): ActionEffects {
  const open = (billing?.recentInvoices ?? []).filter((i) => i.status === "open");
  const amountDueCents = open.reduce((sum, i) => sum + i.amountRemainingCents, 0);
  const currency = billing?.currency ?? "usd";
  const warnings = [...(parts.warnings ?? [])];
  if (open.length) warnings.push(`${open.length} open invoice(s) totalling ${money(amountDueCents, currency)} stay due`);
  return {
    summary: parts.summary,
    activeSubscription: isLiveSubscription(billing),
    mrrLostCents: parts.endsSubscription && billing ? billing.mrrCents : 0,
    currency,
    nextInvoice: billing?.nextInvoice ?? null,
    openInvoices: open.length,
    amountDueCents,
    usersLosingAccess: parts.usersLosingAccess.map((u) => ({ id: u.id, email: u.email, name: u.name })),
    retentionUntil: parts.retentionUntil ?? null,
    warnings,
  };
}
