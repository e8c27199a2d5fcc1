import type { ActionEffects } from "../../../../shared/schemas/actions.js";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { isPlanName, monthlyRecurringCents, unitPriceCents, type BillingInterval } from "../../providers/planCatalog.js";

/**
 * The billing-aware preview of seat and plan changes and cancellations: what the customer pays
 * per month now and after, and what the next invoice would ask for. Figures are estimates from the
 * plan catalogue; the provider prorates the actual invoice.
 */
const EARNING = new Set(["active", "past_due"]);

export function formatMoney(cents: number, currency: string): string {
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency: currency.toUpperCase() }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;
  }
}

/** Price of one seat for one billing interval, from the catalogue, else from what is charged now. */
export function seatPriceCents(billing: BillingSummary, plan: string | null = billing.plan): number {
  const interval: BillingInterval = billing.interval ?? "month";
  if (plan && isPlanName(plan)) return unitPriceCents(plan, interval);
  if (!billing.seats || !billing.mrrCents) return 0;
  return Math.round((billing.mrrCents * (interval === "year" ? 12 : 1)) / billing.seats);
}

/** Monthly recurring revenue with another plan or seat count; trials and lapsed subscriptions earn nothing. */
export function projectedMrrCents(billing: BillingSummary, change: { plan?: string; seats?: number }): number {
  if (!billing.status || !EARNING.has(billing.status)) return 0;
  const seats = change.seats ?? billing.seats ?? 0;
  return monthlyRecurringCents(seatPriceCents(billing, change.plan ?? billing.plan) * seats, billing.interval ?? "month");
}

/** The next invoice with another plan or seat count (a credit balance reduces it, as the providers do). */
export function projectedNextInvoice(billing: BillingSummary, change: { plan?: string; seats?: number }): ActionEffects["nextInvoice"] {
  if (!billing.nextInvoice) return null;
  const seats = change.seats ?? billing.seats ?? 0;
  return { amountCents: Math.max(0, seatPriceCents(billing, change.plan ?? billing.plan) * seats + billing.balanceCents), date: billing.nextInvoice.date };
}

/** Assembles ActionEffects; the open-invoice figures come from the billing reading as they are. */
export function billingEffects(
  billing: BillingSummary | null,
  parts: Pick<ActionEffects, "summary" | "nextInvoice"> & { mrrAfterCents: number; usersLosingAccess?: ActionEffects["usersLosingAccess"]; usersOverSeats?: ActionEffects["usersOverSeats"]; warnings?: string[] },
): ActionEffects {
  const open = (billing?.recentInvoices ?? []).filter((i) => i.status === "open");
  return {
    summary: parts.summary,
    activeSubscription: Boolean(billing?.status && billing.status !== "canceled"),
    mrrLostCents: (billing?.mrrCents ?? 0) - parts.mrrAfterCents,
    currency: billing?.currency ?? "usd",
    nextInvoice: parts.nextInvoice,
    openInvoices: open.length,
    amountDueCents: open.reduce((sum, i) => sum + i.amountRemainingCents, 0),
    usersLosingAccess: parts.usersLosingAccess ?? [],
    ...(parts.usersOverSeats ? { usersOverSeats: parts.usersOverSeats } : {}),
    retentionUntil: null,
    warnings: parts.warnings ?? [],
  };
}
