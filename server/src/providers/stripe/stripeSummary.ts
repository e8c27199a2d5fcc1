import type Stripe from "stripe";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { isPlanName, monthlyRecurringCents, planFromLookupKey } from "../planCatalog.js";

const RECENT_INVOICES = 5;
type Status = NonNullable<BillingSummary["status"]>;

/** Stripe's statuses that Steward's schema does not name are folded into the nearest one. */
const STATUS: Record<string, Status> = {
  trialing: "trialing",
  active: "active",
  past_due: "past_due",
  unpaid: "unpaid",
  canceled: "canceled",
  incomplete: "incomplete",
  incomplete_expired: "canceled",
  paused: "incomplete",
};
/** Subscriptions that bring in money now; trials and lapsed ones count for nothing. */
const EARNING = new Set<Status>(["active", "past_due"]);

const iso = (unix: number | null | undefined) => (unix ? new Date(unix * 1000).toISOString() : null);

/** The subscription support means by "the subscription": the newest live one, else the newest. */
export function currentSubscription(subscriptions: Stripe.Subscription[]): Stripe.Subscription | undefined {
  const live = subscriptions.filter((s) => s.status !== "canceled" && s.status !== "incomplete_expired");
  const newest = (list: Stripe.Subscription[]) => [...list].sort((a, b) => b.created - a.created)[0];
  return newest(live) ?? newest(subscriptions);
}

export function planOf(price: Stripe.Price): string {
  return price.lookup_key ? planFromLookupKey(price.lookup_key) : (price.nickname ?? price.id);
}

/**
 * The item that carries the plan and its seats: the first whose price is one of the catalogue's
 * plans, else the first item. Other items (add-ons) are billed beside it.
 */
export function planItem(sub: Stripe.Subscription): Stripe.SubscriptionItem | undefined {
  return sub.items.data.find((i) => isPlanName(planOf(i.price))) ?? sub.items.data[0];
}

const intervalOf = (price: Stripe.Price) => (price.recurring?.interval === "year" ? "year" : price.recurring?.interval === "month" ? "month" : null);
const itemAmount = (i: Stripe.SubscriptionItem) => (i.price.unit_amount ?? 0) * (i.quantity ?? 1);

/** Monthly recurring revenue of every item, each by its own interval (mixed-interval subscriptions exist). */
function monthlyCents(items: Stripe.SubscriptionItem[]): number {
  return items.reduce((sum, i) => {
    const interval = intervalOf(i.price);
    return interval ? sum + monthlyRecurringCents(itemAmount(i), interval) : sum;
  }, 0);
}

export function summarizeStripeBilling(parts: {
  customer: Stripe.Customer;
  subscriptions: Stripe.Subscription[];
  invoices: Stripe.Invoice[];
  /** The next invoice of the current subscription as Stripe previews it; null when nothing is due (canceled, ending). */
  upcoming: Stripe.Invoice | null;
}): BillingSummary {
  const { customer, invoices, upcoming } = parts;
  const sub = currentSubscription(parts.subscriptions);
  const items = sub?.items.data ?? [];
  const item = sub ? planItem(sub) : undefined;
  const interval = item ? intervalOf(item.price) : null;
  // A status newer than this code is shown as incomplete rather than guessed at.
  const status = sub ? (STATUS[sub.status] ?? "incomplete") : null;
  const failing = invoices.filter((i) => i.status === "open" && i.attempt_count > 0).sort((a, b) => b.created - a.created);
  const newestFailing = failing[0];
  // Since API 2025-03-31 the period lives on each item; the next renewal is the earliest of them.
  const periodEnd = items.length ? Math.min(...items.map((i) => i.current_period_end)) : null;
  const ending = sub !== undefined && sub.status !== "canceled" && (sub.cancel_at_period_end || sub.cancel_at !== null);
  return {
    customerId: customer.id,
    subscriptionId: sub?.id ?? null,
    plan: item ? planOf(item.price) : null,
    interval,
    status,
    trialEnd: iso(sub?.trial_end),
    seats: item?.quantity ?? null,
    currency: customer.currency ?? sub?.currency ?? "usd",
    mrrCents: status && EARNING.has(status) ? monthlyCents(items) : 0,
    cancelAtPeriodEnd: ending,
    cancelAt: ending ? iso(sub.cancel_at ?? periodEnd) : null,
    // Stripe clears canceled_at when the cancellation is removed and sets it anew on each request that sets one.
    cancelRequestedAt: iso(sub?.canceled_at),
    currentPeriodEnd: iso(periodEnd),
    addOnCents: items.filter((i) => i !== item && intervalOf(i.price) === interval).reduce((sum, i) => sum + itemAmount(i), 0),
    nextInvoice: upcoming ? { amountCents: upcoming.amount_due, date: iso(upcoming.next_payment_attempt ?? upcoming.due_date) } : null,
    balanceCents: customer.balance,
    recentInvoices: invoices.slice(0, RECENT_INVOICES).map((i) => ({
      id: i.id,
      number: i.number,
      status: i.status ?? "draft",
      amountDueCents: i.amount_due,
      amountRemainingCents: i.amount_remaining,
      attemptCount: i.attempt_count,
      nextPaymentAttempt: iso(i.next_payment_attempt),
      createdAt: iso(i.created) ?? new Date(0).toISOString(),
    })),
    dunning: newestFailing
      ? { failedAttempts: newestFailing.attempt_count, nextRetryAt: iso(newestFailing.next_payment_attempt), amountDueCents: failing.reduce((sum, i) => sum + i.amount_remaining, 0) }
      : null,
  };
}
