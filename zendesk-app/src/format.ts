import { formatMoney } from "../../shared/money";
import { currentLocale } from "./i18n";

/**
 * Money comes in the currency's minor unit (as Stripe counts it: ¥5,000 is 5000, $12.50 is 1250) with an ISO
 * currency; dates as ISO strings. Shown in the agent's locale.
 */
export function money(minor: number, currency: string): string {
  return formatMoney(minor, currency, currentLocale());
}

export function date(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : new Intl.DateTimeFormat(currentLocale(), { dateStyle: "medium" }).format(d);
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : new Intl.DateTimeFormat(currentLocale(), { dateStyle: "medium", timeStyle: "short" }).format(d);
}

/** The time of day alone ("7:46 AM"), for sentences that say the date apart: "on Nov 28, 2026 at 7:46 AM". */
export function timeOfDay(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : new Intl.DateTimeFormat(currentLocale(), { timeStyle: "short" }).format(d);
}

/** Today's moments as a time ("11:34 PM"), others with their date: "unlocks by itself at 11:34 PM". */
export function dateOrTime(iso: string, now = Date.now()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const sameDay = new Date(now).toDateString() === d.toDateString();
  return sameDay ? new Intl.DateTimeFormat(currentLocale(), { timeStyle: "short" }).format(d) : dateTime(iso);
}
