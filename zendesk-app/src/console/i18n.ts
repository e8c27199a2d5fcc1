import sidebarDe from "../../translations/de.json";
import sidebarEn from "../../translations/en.json";
import de from "./translations/de.json";
import en from "./translations/en.json";

/** Console strings by the agent's Zendesk locale (English fills gaps); action names come from the sidebar's catalog. */
export type ConsoleKey = keyof typeof en;
const catalogs: Record<string, Partial<Record<ConsoleKey, string>>> = { en, de };
const actionCatalogs: Record<string, Record<string, string>> = { en: sidebarEn, de: sidebarDe };
let language = "en";
let locale = "en";

export function chooseConsoleLocale(zendeskLocale: string): void {
  const base = zendeskLocale.toLowerCase().split(/[-_]/)[0] ?? "en";
  language = base in catalogs ? base : "en";
  locale = zendeskLocale.replace("_", "-") || "en";
  document.documentElement.lang = language;
}

export const consoleLanguage = (): "en" | "de" => (language === "de" ? "de" : "en");
export const consoleLocale = (): string => locale;

export function ct(key: ConsoleKey, vars: Record<string, string | number> = {}): string {
  const template = catalogs[language]?.[key] ?? en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

export function actionLabel(action: string): string {
  return actionCatalogs[language]?.[`action.${action}`] ?? sidebarEn[`action.${action}` as keyof typeof sidebarEn] ?? action;
}
