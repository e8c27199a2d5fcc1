/**
 * Amounts travel in the currency's minor unit, as Stripe counts it: most currencies in hundredths,
 * its zero-decimal ones in whole units (¥5,000 is 5000) and its three-decimal ones in thousandths.
 */
const ZERO_DECIMAL = new Set(["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]);
const THREE_DECIMAL = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

/** How many minor units make one unit of the currency. */
export function minorUnitsPerUnit(currency: string): number {
  const code = currency.toLowerCase();
  return ZERO_DECIMAL.has(code) ? 1 : THREE_DECIMAL.has(code) ? 1_000 : 100;
}

/** An amount in minor units as a number of whole units (5000 jpy → 5000, 1250 usd → 12.5). */
export function fromMinorUnits(amount: number, currency: string): number {
  return amount / minorUnitsPerUnit(currency);
}

/** An amount in minor units, worded in `locale` (the server words previews and audit text in en-US, the sidebar in the agent's locale). */
export function formatMoney(minor: number, currency: string, locale: string): string {
  const units = fromMinorUnits(minor, currency);
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency: currency.toUpperCase() }).format(units);
  } catch {
    return `${units.toFixed(Math.log10(minorUnitsPerUnit(currency)))} ${currency.toUpperCase()}`;
  }
}
