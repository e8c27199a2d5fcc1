import type { ActionEffects, EffectPhrase } from "../../../shared/schemas/actions.js";
import type { BillingSummary } from "../../../shared/schemas/context.js";
import { formatMoney as formatSharedMoney } from "../../../shared/money.js";
import type { User } from "../db/schema.js";
import { isPlanName, monthlyRecurringCents, unitPriceCents, unusedTimeCents, type BillingInterval } from "../providers/planCatalog.js";
import { isLiveSubscription } from "./billingState.js";

/**
 * The billing-aware preview of every destructive action (account, user, seats, billing), with one
 * meaning: `nextInvoice` is the next invoice AFTER the action (null when the action ends the
 * subscription), `mrrLostCents` is MRR now minus MRR after, `activeSubscription` says whether a live
 * subscription exists NOW. Projected figures are estimates from the plan catalogue; the provider
 * prorates the actual invoice. The confirmation fingerprints the result, so it must be stable.
 */
const EARNING = new Set(["active", "past_due"]);

export function formatMoney(cents: number, currency: string): string {
  // "cents" are the currency's minor unit: a yen amount is already in yen.
  return formatSharedMoney(cents, currency, "en-US");
}

/** Price of one seat for one billing interval, from the catalogue, else from what is charged now. */
export function seatPriceCents(billing: BillingSummary, plan: string | null = billing.plan): number {
  const interval: BillingInterval = billing.interval ?? "month";
  if (plan && isPlanName(plan)) return unitPriceCents(plan, interval);
  if (!billing.seats || !billing.mrrCents) return 0;
  const seatsMonthly = billing.mrrCents - monthlyRecurringCents(billing.addOnCents, interval);
  return Math.max(0, Math.round((seatsMonthly * (interval === "year" ? 12 : 1)) / billing.seats));
}

/** What the subscription costs per interval with another plan or seat count: the seats plus the add-ons, which stay. */
function recurringCents(billing: BillingSummary, change: { plan?: string; seats?: number }): number {
  const seats = change.seats ?? billing.seats ?? 0;
  return seatPriceCents(billing, change.plan ?? billing.plan) * seats + billing.addOnCents;
}

/** Monthly recurring revenue with another plan or seat count; trials and lapsed subscriptions earn nothing. */
export function projectedMrrCents(billing: BillingSummary, change: { plan?: string; seats?: number }): number {
  if (!billing.status || !EARNING.has(billing.status)) return 0;
  return monthlyRecurringCents(recurringCents(billing, change), billing.interval ?? "month");
}

/** The next invoice with another plan or seat count (a credit balance reduces it, as the providers do). */
export function projectedNextInvoice(billing: BillingSummary, change: { plan?: string; seats?: number }): ActionEffects["nextInvoice"] {
  if (!billing.nextInvoice) return null;
  return { amountCents: Math.max(0, recurringCents(billing, change) + billing.balanceCents), date: billing.nextInvoice.date };
}

/**
 * What cancelling now does with the paid period (CancelMode "now"): the unused time is credited pro
 * rata to the customer's balance, not refunded to the card, on a final invoice issued at once.
 */
export function cancelNowTerms(billing: BillingSummary, now: Date): Said {
  const periodEnd = billing.currentPeriodEnd ? new Date(billing.currentPeriodEnd) : null;
  const paid = billing.status !== null && EARNING.has(billing.status);
  if (!paid || !periodEnd || !billing.interval) return said("cancel_now_unpaid", {}, "Nothing has been paid for the current period (trial or unpaid), so no unused time is credited; a final invoice is issued now for any pending charges");
  // What is charged per period now (MRR is that amount per month), not a catalogue price.
  const amount = billing.interval === "year" ? billing.mrrCents * 12 : billing.mrrCents;
  const credit = unusedTimeCents(amount, periodEnd, billing.interval, now);
  return said("cancel_now_credit", { untilDate: periodEnd.toISOString(), creditCents: credit }, `The unused time until ${periodEnd.toISOString().slice(0, 10)} (about ${formatMoney(credit, billing.currency)}) is credited to the customer's balance, not refunded to the card, on a final invoice issued now`);
}

/**
 * The subscription after the action: as it is now, ended (no MRR, no further invoice, whether it
 * ends now or at the period end), or changed to the given MRR and next invoice.
 */
export type BillingAfter = "unchanged" | "ended" | { mrrCents: number; nextInvoice: ActionEffects["nextInvoice"] };

/** A sentence of a preview: its code and values for clients that word it in the agent's language, and its English. */
export interface Said extends EffectPhrase {
  text: string;
}

/** Params named `...Cents` are amounts, `...Date` ISO timestamps, `count` picks the plural (see EffectPhrase). */
export function said(code: string, params: EffectPhrase["params"], text: string): Said {
  return { code, params, text };
}

const phrase = ({ code, params }: Said): EffectPhrase => ({ code, params });

type Person = Pick<User, "id" | "email" | "name">;

export interface EffectParts {
  summary: Said;
  billingAfter: BillingAfter;
  usersLosingAccess?: readonly Person[];
  usersOverSeats?: readonly Person[];
  retentionUntil?: string | null;
  warnings?: readonly Said[];
}

const person = (u: Person) => ({ id: u.id, email: u.email, name: u.name });

/** Assembles ActionEffects from the billing reading taken before the action and what the action changes. */
export function actionEffects(billing: BillingSummary | null, parts: EffectParts): ActionEffects {
  const currency = billing?.currency ?? "usd";
  const mrrNowCents = billing?.mrrCents ?? 0;
  const after =
    parts.billingAfter === "unchanged"
      ? { mrrCents: mrrNowCents, nextInvoice: billing?.nextInvoice ?? null }
      : parts.billingAfter === "ended"
        ? { mrrCents: 0, nextInvoice: null }
        : parts.billingAfter;
  const open = (billing?.recentInvoices ?? []).filter((i) => i.status === "open");
  const amountDueCents = open.reduce((sum, i) => sum + i.amountRemainingCents, 0);
  const warnings = [...(parts.warnings ?? [])];
  if (open.length) warnings.push(said("open_invoices_due", { count: open.length, amountCents: amountDueCents }, `${open.length} open invoice(s) totalling ${formatMoney(amountDueCents, currency)} stay due`));
  return {
    summary: parts.summary.text,
    summaryPhrase: phrase(parts.summary),
    activeSubscription: isLiveSubscription(billing),
    mrrLostCents: mrrNowCents - after.mrrCents,
    currency,
    nextInvoice: after.nextInvoice,
    openInvoices: open.length,
    amountDueCents,
    usersLosingAccess: (parts.usersLosingAccess ?? []).map(person),
    ...(parts.usersOverSeats ? { usersOverSeats: parts.usersOverSeats.map(person) } : {}),
    retentionUntil: parts.retentionUntil ?? null,
    warnings: warnings.map((w) => w.text),
    warningPhrases: warnings.map(phrase),
  };
}
