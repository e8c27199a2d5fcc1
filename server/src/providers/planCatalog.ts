import { readFileSync } from "node:fs";
import { z } from "zod";

/**
 * The product's plans and their per-seat prices: configuration, not source. The built-in billing
 * adapter prices plan changes from here; the Stripe adapter finds each plan's price by its lookup key
 * (default `<plan>_<interval>`). PLAN_CATALOG_FILE names a JSON file of this shape; without it the
 * demo catalog below applies. Validated at start (see config.ts), activated by buildDeps.
 */
export type BillingInterval = "month" | "year";

const cents = z.number({ message: "expected a whole number of cents" }).int("expected a whole number of cents").positive("expected a positive amount");
const lookupKey = z.string().min(1).max(200);

export const PlanSlug = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, "expected a plan name of lowercase letters, digits, - or _ (at most 40)");

export const PlanCatalogSchema = z
  .record(
    PlanSlug,
    z
      .object({
        /** Price per seat per month, in the account's currency's minor unit. */
        monthlyCents: cents,
        /** Price per seat per year; default ten months. */
        yearlyCents: cents.optional(),
        /** Stripe price lookup keys; default `<plan>_month` and `<plan>_year`. */
        stripeLookupKeys: z.object({ month: lookupKey.optional(), year: lookupKey.optional() }).strict().optional(),
      })
      .strict(),
  )
  .refine((catalog) => Object.keys(catalog).length > 0, "expected at least one plan");
export type PlanCatalog = z.infer<typeof PlanCatalogSchema>;

export const DEFAULT_PLAN_CATALOG: PlanCatalog = {
  starter: { monthlyCents: 1_500 },
  team: { monthlyCents: 2_900 },
  business: { monthlyCents: 4_900 },
  enterprise: { monthlyCents: 8_900 },
};

/** Reads and validates a catalog file; the message names the file and the first bad path. */
export function readPlanCatalog(file: string): PlanCatalog {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = PlanCatalogSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file}: ${issue?.path.length ? `${issue.path.join(".")}: ` : ""}${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

// One catalog per process, set from the configuration at start-up.
let active: PlanCatalog = DEFAULT_PLAN_CATALOG;

export function activatePlanCatalog(catalog: PlanCatalog): void {
  active = catalog;
}

export function planNames(): string[] {
  return Object.keys(active);
}

export function isPlanName(plan: string): boolean {
  return Object.hasOwn(active, plan);
}

/** Per-seat price for the interval; yearly defaults to ten months. */
export function unitPriceCents(plan: string, interval: BillingInterval): number {
  const entry = active[plan];
  if (!entry) throw new Error(`unknown plan ${plan}`);
  return interval === "year" ? (entry.yearlyCents ?? entry.monthlyCents * 10) : entry.monthlyCents;
}

export function priceLookupKey(plan: string, interval: BillingInterval): string {
  return active[plan]?.stripeLookupKeys?.[interval] ?? `${plan}_${interval}`;
}

/** A Stripe price's lookup key → the plan it belongs to; `team_month` → `team`; unknown keys unchanged. */
export function planFromLookupKey(key: string): string {
  for (const [plan, entry] of Object.entries(active)) {
    if (entry.stripeLookupKeys?.month === key || entry.stripeLookupKeys?.year === key) return plan;
  }
  return key.replace(/_(month|year)$/, "");
}

/** Monthly recurring revenue: yearly amounts spread over twelve months. */
export function monthlyRecurringCents(amountCents: number, interval: BillingInterval): number {
  return interval === "year" ? Math.round(amountCents / 12) : amountCents;
}
