import en from "../translations/en.json";
import deUrl from "../translations/de.json?url";

/**
 * Sidebar strings, chosen by the agent's Zendesk locale (currentUser.locale); English fills gaps.
 * English ships in the bundle; other languages are fetched once as a JSON asset, so no agent loads
 * every language on every ticket.
 */
export type MessageKey = keyof typeof en;
type Catalog = Partial<Record<MessageKey, string>>;

const catalogUrls: Record<string, string> = { de: deUrl };
const catalogs: Record<string, Catalog> = { en };
let language = "en";
let locale = "en";

async function loadCatalog(lang: string): Promise<boolean> {
  if (catalogs[lang]) return true;
  const url = catalogUrls[lang];
  if (!url) return false;
  try {
    const response = await fetch(url);
    if (!response.ok) return false;
    catalogs[lang] = (await response.json()) as Catalog;
    return true;
  } catch {
    // Without its catalog the agent reads English, never raw keys.
    return false;
  }
}

/** Sets the agent's language (and locale for dates and money), loading its strings first. */
export async function chooseLocale(zendeskLocale: string): Promise<void> {
  const base = zendeskLocale.toLowerCase().split(/[-_]/)[0] ?? "en";
  language = (await loadCatalog(base)) ? base : "en";
  locale = zendeskLocale.replace("_", "-") || "en";
  document.documentElement.lang = language;
}

export function currentLocale(): string {
  return locale;
}

export function currentLanguage(): string {
  return language;
}

export function t(key: MessageKey, vars: Record<string, string | number> = {}): string {
  const template = catalogs[language]?.[key] ?? en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

/** A count in words, with the plural form the agent's language uses for it (`<base>.one`, `<base>.other`). */
type PluralBase = MessageKey extends infer K ? (K extends `${infer B}.one` ? B : never) : never;
export function plural(base: PluralBase, count: number, vars: Record<string, string | number> = {}): string {
  const form = new Intl.PluralRules(locale).select(count) === "one" ? "one" : "other";
  return t(`${base}.${form}` as MessageKey, { ...vars, count: new Intl.NumberFormat(locale).format(count) });
}

/** For keys built from data (action names, statuses): falls back to the raw value when unknown. */
export function tOr(key: string, fallback: string, vars?: Record<string, string | number>): string {
  return key in en ? t(key as MessageKey, vars) : fallback;
}

export function hasMessage(key: string): key is MessageKey {
  return key in en;
}

/** A message in another language than the agent's (a reply in the ticket's language); English when there is no catalog for it. */
export async function tIn(zendeskLocale: string, key: MessageKey, vars: Record<string, string | number> = {}): Promise<{ language: string; text: string }> {
  const base = zendeskLocale.toLowerCase().split(/[-_]/)[0] ?? "en";
  const lang = (await loadCatalog(base)) ? base : "en";
  const template = catalogs[lang]?.[key] ?? en[key] ?? key;
  return { language: lang, text: template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole)) };
}
