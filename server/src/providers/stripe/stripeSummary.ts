import type Stripe from "stripe";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { monthlyRecurringCents, planFromLookupKey } from "../planCatalog.js";

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

export function summarizeStripeBilling(parts: {
  customer: Stripe.Customer;
  subscriptions: Stripe.Subscription[];
  invoices: Stripe.Invoice[];
  /** The next invoice as Stripe previews it; null when nothing is due (canceled, cancelling). */
  upcoming: Stripe.Invoice | null;
}): BillingSummary {
  const { customer, invoices, upcoming } = parts;
  const sub = currentSubscription(parts.subscriptions);
  const item = sub?.items.data[0];
  const recurring = item?.price.recurring?.interval;
  const interval = recurring === "month" ? "month" : recurring === "year" ? "year" : null;
  // A status newer than this code is shown as incomplete rather than guessed at.
  const status = sub ? (STATUS[sub.status] ?? "incomplete") : null;
  const amount = (sub?.items.data ?? []).reduce((sum, i) => sum + (i.price.unit_amount ?? 0) * (i.quantity ?? 1), 0);
  const failing = invoices.filter((i) => i.status === "open" && i.attempt_count > 0).sort((a, b) => b.created - a.created);
  const newestFailing = failing[0];
  return {
    customerId: customer.id,
    subscriptionId: sub?.id ?? null,
    plan: item ? planOf(item.price) : null,
    interval,
    status,
    trialEnd: iso(sub?.trial_end),
    seats: item?.quantity ?? null,
    currency: customer.currency ?? sub?.currency ?? "usd",
    mrrCents: status && EARNING.has(status) && interval ? monthlyRecurringCents(amount, interval) : 0,
    cancelAtPeriodEnd: sub?.cancel_at_period_end ?? false,
    // Since API 2025-03-31 the period lives on the subscription item.
    currentPeriodEnd: iso(item?.current_period_end),
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
