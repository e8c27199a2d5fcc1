import { currentLocale } from "./i18n";

/** Money comes in cents with an ISO currency; dates as ISO strings. Shown in the agent's locale. */
export function money(cents: number, currency: string): string {
  try {
    return new Intl.NumberFormat(currentLocale(), { style: "currency", currency: currency.toUpperCase() }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;
  }
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

/** Today's moments as a time ("11:34 PM"), others with their date: "unlocks by itself at 11:34 PM". */
export function dateOrTime(iso: string, now = Date.now()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const sameDay = new Date(now).toDateString() === d.toDateString();
  return sameDay ? new Intl.DateTimeFormat(currentLocale(), { timeStyle: "short" }).format(d) : dateTime(iso);
}
