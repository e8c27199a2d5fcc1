import sidebarDeUrl from "../../translations/de.json?url";
import sidebarEn from "../../translations/en.json";
import de from "./translations/de.json";
import en from "./translations/en.json";

/**
 * Console strings by the agent's Zendesk locale (English fills gaps); action names come from the sidebar's catalog.
 * The console's own strings are bundled; the sidebar's catalog (action names) ships English only and other
 * languages are fetched once as the same JSON asset the sidebar uses, which keeps the console within its budget.
 */
export type ConsoleKey = keyof typeof en;
const catalogs: Record<string, Partial<Record<ConsoleKey, string>>> = { en, de };
const actionCatalogUrls: Record<string, string> = { de: sidebarDeUrl };
const actionCatalogs: Record<string, Record<string, string>> = { en: sidebarEn };
let language = "en";
let locale = "en";

async function loadActionCatalog(lang: string): Promise<void> {
  const url = actionCatalogUrls[lang];
  if (actionCatalogs[lang] || !url) return;
  try {
    const response = await fetch(url);
    if (response.ok) actionCatalogs[lang] = (await response.json()) as Record<string, string>;
  } catch {
    // Without it action names read in English, never as raw keys.
  }
}

export async function chooseConsoleLocale(zendeskLocale: string): Promise<void> {
  const base = zendeskLocale.toLowerCase().split(/[-_]/)[0] ?? "en";
  language = base in catalogs ? base : "en";
  await loadActionCatalog(language);
  locale = zendeskLocale.replace("_", "-") || "en";
  document.documentElement.lang = language;
}

export const consoleLanguage = (): "en" | "de" => (language === "de" ? "de" : "en");
export const consoleLocale = (): string => locale;

export function ct(key: ConsoleKey, vars: Record<string, string | number> = {}): string {
  const template = catalogs[language]?.[key] ?? en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

/** A panel role as the sidebar names it ("Read-only", "Nur lesen"), never its key. */
export function roleLabel(role: string): string {
  return actionCatalogs[language]?.[`panel_role.${role}`] ?? sidebarEn[`panel_role.${role}` as keyof typeof sidebarEn] ?? role;
}

export function actionLabel(action: string): string {
  return actionCatalogs[language]?.[`action.${action}`] ?? sidebarEn[`action.${action}` as keyof typeof sidebarEn] ?? action;
}

/** An action group as people name it ("Customer lookup", "Kundensuche"); the raw key only for a group the catalog lacks. */
export function groupLabel(group: string): string {
  return catalogs[language]?.[`group.${group}` as ConsoleKey] ?? en[`group.${group}` as ConsoleKey] ?? group;
}
