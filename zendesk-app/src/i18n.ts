import boot from "virtual:steward-strings/boot/en";
import type en from "../translations/en.json";
import { partOf } from "./stringPart";

/**
 * Sidebar strings, chosen by the agent's Zendesk locale (currentUser.locale). Each language ships in
 * parts (zendesk-app/stringParts.ts): a ticket view loads its agent's language only, the "core" part
 * before the first paint, the "more" part with the views that need it (an action form, the history tab).
 * German has every English key (a test says so), so no English is loaded beside it.
 */
export type MessageKey = keyof typeof en;
type Catalog = Record<string, string>;
type Part = "core" | "more";

const parts: Record<string, Record<Part, () => Promise<{ default: Catalog }>>> = {
  en: { core: () => import("virtual:steward-strings/core/en"), more: () => import("virtual:steward-strings/more/en") },
  de: { core: () => import("virtual:steward-strings/core/de"), more: () => import("virtual:steward-strings/more/de") },
};
/** Each language's strings loaded so far (its parts merged), and the loads under way. */
const catalogs: Record<string, Catalog> = {};
const loads = new Map<string, Promise<boolean>>();
let language = "en";
let locale = "en";

function loadPart(lang: string, part: Part): Promise<boolean> {
  const load = parts[lang]?.[part];
  if (!load) return Promise.resolve(false);
  const id = `${part}/${lang}`;
  let pending = loads.get(id);
  if (!pending) {
    pending = load().then(
      (module) => {
        catalogs[lang] = { ...catalogs[lang], ...module.default };
        return true;
      },
      () => {
        loads.delete(id); // a failed chunk may load on the next try
        return false;
      },
    );
    loads.set(id, pending);
  }
  return pending;
}

const baseOf = (zendeskLocale: string) => zendeskLocale.toLowerCase().split(/[-_]/)[0] ?? "en";

/** Sets the agent's language (and locale for dates and money), loading its first-view strings first. */
export async function chooseLocale(zendeskLocale: string): Promise<void> {
  const base = baseOf(zendeskLocale);
  language = (await loadPart(base, "core")) ? base : "en";
  if (language !== base) await loadPart("en", "core");
  locale = zendeskLocale.replace("_", "-") || "en";
  document.documentElement.lang = language;
}

/** The strings only on-demand views show (forms, previews, replies, history), in the agent's language: await before showing them. */
export async function loadMoreStrings(): Promise<void> {
  if (!(await loadPart(language, "more")) && language !== "en") await loadPart("en", "more");
}

export function currentLocale(): string {
  return locale;
}

export function currentLanguage(): string {
  return language;
}

const fill = (template: string, vars: Record<string, string | number>) => template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
const lookup = (key: string): string | undefined => catalogs[language]?.[key] ?? catalogs.en?.[key] ?? boot[key];

export function t(key: MessageKey, vars: Record<string, string | number> = {}): string {
  return fill(lookup(key) ?? key, vars);
}

/** A count in words, with the plural form the agent's language uses for it (`<base>.one`, `<base>.other`). */
type PluralBase = MessageKey extends infer K ? (K extends `${infer B}.one` ? B : never) : never;
export function plural(base: PluralBase, count: number, vars: Record<string, string | number> = {}): string {
  const form = new Intl.PluralRules(locale).select(count) === "one" ? "one" : "other";
  return t(`${base}.${form}` as MessageKey, { ...vars, count: new Intl.NumberFormat(locale).format(count) });
}

/** For keys built from data (action names, statuses): falls back to the raw value when unknown. */
export function tOr(key: string, fallback: string, vars?: Record<string, string | number>): string {
  return hasMessage(key) ? t(key, vars) : fallback;
}

/** Whether the strings loaded so far have this key (a view's own part is loaded before it shows). */
export function hasMessage(key: string): key is MessageKey {
  return lookup(key) !== undefined;
}

/** A message in another language than the agent's (a reply in the ticket's language); English when there is no catalog for it. */
export async function tIn(zendeskLocale: string, key: MessageKey, vars: Record<string, string | number> = {}): Promise<{ language: string; text: string }> {
  const base = baseOf(zendeskLocale);
  const lang = (await loadPart(base, partOf(key))) ? base : "en";
  if (lang === "en") await loadPart("en", partOf(key));
  return { language: lang, text: fill(catalogs[lang]?.[key] ?? lookup(key) ?? key, vars) };
}
