import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "vite";

/**
 * Garden's CSS, trimmed to what the pages use, at build time: of css-variables' 255 custom properties
 * (--zd-*) only those some `var(--zd-…)` in the pages' CSS or the app's source names; of the component
 * CSS (buttons, forms, tags), rules for variants the app never uses (dark, compact, radio, icon
 * buttons…), judged by the `c-…` classes its source names. Tests: every var() in the build is defined
 * (sidebar.test.ts), and no dropped rule matches anything on the sidebar's views (a11y.test.ts).
 */
const srcDir = fileURLToPath(new URL("src/", import.meta.url));
const gardenDir = fileURLToPath(new URL("../node_modules/@zendeskgarden/", import.meta.url));
const TRIMMED = ["buttons", "forms", "tags"] as const;

/** A selector list split at its top-level commas (not those inside `:is(…)`, `:not(…)`…). */
export function splitSelectors(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      out.push(list.slice(start, i));
      start = i + 1;
    }
  }
  out.push(list.slice(start));
  return out;
}

/** A selector with everything inside parentheses removed. */
function outsideParentheses(selector: string): string {
  let depth = 0;
  let out = "";
  for (const c of selector) {
    if (c === "(") depth++;
    if (depth === 0) out += c;
    if (c === ")") depth--;
  }
  return out;
}

/** Garden component classes (`c-…`) the app's source names; `c-tag--${tone}` names every `c-tag--` modifier. */
function gardenClassesInSource(): (name: string) => boolean {
  const classes = new Set<string>();
  const prefixes: string[] = [];
  for (const file of (readdirSync(srcDir, { recursive: true }) as string[]).filter((f) => /\.tsx?$/.test(f))) {
    const code = readFileSync(join(srcDir, file), "utf8");
    for (const m of code.matchAll(/\bc-[a-z]+(?:__[a-z-]+)?(?:--[a-z0-9-]+)?/g)) classes.add(m[0]);
    for (const m of code.matchAll(/\b(c-[a-z]+(?:__[a-z-]+)?--)\$\{/g)) prefixes.push(m[1] as string);
  }
  return (name) => classes.has(name) || prefixes.some((p) => name.startsWith(p));
}

/**
 * One Garden component stylesheet without the selectors that need a class the app never sets (classes
 * inside :not(), :is() and the like are left alone: they may be optional there); returns what it dropped.
 */
export function trimComponentCss(code: string, used: (name: string) => boolean = gardenClassesInSource()): { code: string; dropped: string[] } {
  const dropped: string[] = [];
  const keeps = (selector: string) => [...outsideParentheses(selector).matchAll(/\.(c-[\w-]+)/g)].every((m) => used(m[1] as string));
  const trimmed = code.replace(/([^{}]+)\{([^{}]*)\}/g, (whole, selectors: string, body: string) => {
    if (selectors.trim().startsWith("@")) return whole;
    const all = splitSelectors(selectors);
    const kept = all.filter(keeps);
    dropped.push(...all.filter((s) => !kept.includes(s)).map((s) => s.trim()));
    return kept.length ? `${kept.join(",")}{${body}}` : "";
  });
  return { code: trimmed, dropped };
}

/** Every selector the build drops from Garden's component CSS (for the test that none of them matches). */
export function droppedGardenSelectors(): string[] {
  const used = gardenClassesInSource();
  return TRIMMED.flatMap((name) => trimComponentCss(readFileSync(join(gardenDir, `css-${name}`, "dist", "index.css"), "utf8"), used).dropped);
}

export function usedGardenOnly(): Plugin {
  const sources = () => [
    ...(readdirSync(srcDir, { recursive: true }) as string[]).filter((f) => /\.(css|tsx?)$/.test(f)).map((f) => join(srcDir, f)),
    ...readdirSync(gardenDir).filter((d) => d.startsWith("css-") && d !== "css-variables").map((d) => join(gardenDir, d, "dist", "index.css")),
  ];
  return {
    name: "steward:used-garden-only",
    transform(code, id) {
      const path = id.replace(/\\/g, "/");
      if (path.endsWith("@zendeskgarden/css-variables/dist/index.css")) {
        const used = new Set<string>();
        for (const file of sources()) for (const m of readFileSync(file, "utf8").matchAll(/var\(\s*(--zd-[\w-]+)/g)) used.add(m[1] as string);
        return { code: code.replace(/^\s*(--zd-[\w-]+)\s*:[^;]*;\n?/gm, (whole, name: string) => (used.has(name) ? whole : "")), map: null };
      }
      if (!new RegExp(`@zendeskgarden/css-(${TRIMMED.join("|")})/dist/index\\.css$`).test(path)) return null;
      return { code: trimComponentCss(code).code, map: null };
    },
  };
}
