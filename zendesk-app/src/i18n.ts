import de from "../translations/de.json";
import en from "../translations/en.json";

/** Sidebar strings, chosen by the agent's Zendesk locale (currentUser.locale); English fills gaps. */
export type MessageKey = keyof typeof en;
type Catalog = Partial<Record<MessageKey, string>>;

const catalogs: Record<string, Catalog> = { en, de };
let language = "en";
let locale = "en";

export function chooseLocale(zendeskLocale: string): void {
  const base = zendeskLocale.toLowerCase().split(/[-_]/)[0] ?? "en";
  language = base in catalogs ? base : "en";
  locale = zendeskLocale.replace("_", "-") || "en";
  document.documentElement.lang = language;
}

export function currentLocale(): string {
  return locale;
}

export function t(key: MessageKey, vars: Record<string, string | number> = {}): string {
  const template = catalogs[language]?.[key] ?? en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

/** For keys built from data (action names, statuses): falls back to the raw value when unknown. */
export function tOr(key: string, fallback: string, vars?: Record<string, string | number>): string {
  return key in en ? t(key as MessageKey, vars) : fallback;
}
