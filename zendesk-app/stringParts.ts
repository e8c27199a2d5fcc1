import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Plugin } from "vite";
import { partOf } from "./src/stringPart.js";

/**
 * The sidebar's strings (translations/<lang>.json, one file per language, the source of truth) ship in
 * parts, so a ticket view loads only its agent's language and only what it shows:
 * - "boot": the few English lines shown before the agent's language is known (bundled);
 * - "core": everything the ticket's views show, loaded for the agent's language before the first paint
 *   (counted in the sidebar's budget: every ticket view loads exactly one);
 * - "more": what only an opened action form, its preview, the suggested reply after it and the history
 *   tab show, loaded with those views, on demand (which keys: src/stringPart.ts).
 */
export type StringPart = "boot" | "core" | "more";

const bootKeys = (key: string) => key.startsWith("boot.") || key === "common.loading";

export const stringLanguages = ["en", "de"] as const;
const PREFIX = "virtual:steward-strings/";

/**
 * `import("virtual:steward-strings/<part>/<lang>")`: that part of translations/<lang>.json as a module of
 * its own (a chunk of its own when imported dynamically, named strings-<part>-<lang>).
 */
export function stringsPlugin(): Plugin {
  const dir = fileURLToPath(new URL("translations/", import.meta.url));
  return {
    name: "steward:strings",
    resolveId(id) {
      return id.startsWith(PREFIX) ? `\0${id}` : null;
    },
    load(id) {
      if (!id.startsWith(`\0${PREFIX}`)) return null;
      const [part, lang] = id.slice(PREFIX.length + 1).split("/") as [StringPart, string];
      if (!(stringLanguages as readonly string[]).includes(lang) || !["boot", "core", "more"].includes(part)) this.error(`unknown strings ${id.slice(1)}`);
      const file = `${dir}${lang}.json`;
      this.addWatchFile(file);
      const all = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
      const picked = Object.fromEntries(Object.entries(all).filter(([key]) => (part === "boot" ? bootKeys(key) : partOf(key) === part)));
      return `export default ${JSON.stringify(picked)};`;
    },
  };
}

/** Names the parts' chunks strings-<part>-<lang>-<hash>.js, which is how the budget script finds them. */
export function stringsChunkName(facadeModuleId: string | null): string | null {
  if (!facadeModuleId?.startsWith(`\0${PREFIX}`)) return null;
  return `assets/strings-${facadeModuleId.slice(PREFIX.length + 1).replace("/", "-")}-[hash].js`;
}
