/**
 * The product's plans and their per-seat prices. The built-in billing adapter prices plan changes
 * from here; the Stripe adapter finds each plan's Stripe price by lookup key `<plan>_<interval>`.
 */
export const PLAN_CATALOG = {
  starter: { monthlyCents: 1_500 },
  team: { monthlyCents: 2_900 },
  business: { monthlyCents: 4_900 },
  enterprise: { monthlyCents: 8_900 },
} as const;

export type PlanName = keyof typeof PLAN_CATALOG;
export type BillingInterval = "month" | "year";

export const planNames = Object.keys(PLAN_CATALOG) as PlanName[];

export function isPlanName(plan: string): plan is PlanName {
  return Object.hasOwn(PLAN_CATALOG, plan);
}

/** Yearly plans cost ten months. */
export function unitPriceCents(plan: PlanName, interval: BillingInterval): number {
  const monthly = PLAN_CATALOG[plan].monthlyCents;
  return interval === "year" ? monthly * 10 : monthly;
}

export function priceLookupKey(plan: string, interval: BillingInterval): string {
  return `${plan}_${interval}`;
}

/** `team_month` → `team`; other lookup keys are returned unchanged. */
export function planFromLookupKey(key: string): string {
  return key.replace(/_(month|year)$/, "");
}

/** Monthly recurring revenue: yearly amounts spread over twelve months. */
export function monthlyRecurringCents(amountCents: number, interval: BillingInterval): number {
  return interval === "year" ? Math.round(amountCents / 12) : amountCents;
}

/** The start of the period that ends at `periodEnd`: one calendar month or year before it (UTC). */
export function periodStart(periodEnd: Date, interval: BillingInterval): Date {
  const start = new Date(periodEnd);
  if (interval === "year") start.setUTCFullYear(start.getUTCFullYear() - 1);
  else start.setUTCMonth(start.getUTCMonth() - 1);
  return start;
}

/**
 * What ending a paid period early leaves unused, pro rata by days rounded to the nearest (so a
 * preview and its execution minutes later agree): the credit a cancel-now gives the customer, in cents.
 */
export function unusedTimeCents(amountCents: number, periodEnd: Date, interval: BillingInterval, now: Date): number {
  const DAY = 86_400_000;
  const total = Math.round((periodEnd.getTime() - periodStart(periodEnd, interval).getTime()) / DAY);
  const left = Math.max(0, Math.min(total, Math.round((periodEnd.getTime() - now.getTime()) / DAY)));
  return total > 0 ? Math.round((amountCents * left) / total) : 0;
}
