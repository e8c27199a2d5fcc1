import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Garden's CSS components are plain class names: one the installed packages do not define (an older
 * version's `c-txt__input`, say) styles nothing, and the form it is on renders as bare browser inputs.
 * Every Garden class the sidebar and the console write must be defined by the Garden CSS they import.
 */
const require = createRequire(import.meta.url);
const SRC = join(process.cwd(), "zendesk-app", "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : []));
}

/** The Garden stylesheets an entry imports (`import "@zendeskgarden/…/dist/index.css"`), as text. */
function gardenCss(entry: string): string {
  const imports = [...readFileSync(join(SRC, entry), "utf8").matchAll(/^import "(@zendeskgarden\/[^"]+\.css)";/gm)].map((m) => m[1] as string);
  expect(imports.length).toBeGreaterThan(0);
  return imports.map((name) => readFileSync(require.resolve(name), "utf8")).join("\n");
}

/** Garden class names (c-…) in the source's string literals; a name built at run time (`c-tag--${tone}`) is left out. */
function gardenClassesIn(text: string): Set<string> {
  return new Set([...text.matchAll(/(?<=["'` ])c-[a-z0-9]+(?:(?:__|--)[a-z0-9-]+)*(?=["'` ])/g)].map((m) => m[0]));
}

const defines = (css: string, name: string) => new RegExp(`\\.${name.replace(/[-_]/g, (c) => `\\${c}`)}(?![A-Za-z0-9_-])`).test(css);

describe("Garden classes", () => {
  it("finds the class names it checks, and tells a defined one from an undefined one", () => {
    const css = gardenCss("main.tsx");
    expect(gardenClassesIn(`<input class="c-field__input c-txt__input" />`)).toEqual(new Set(["c-field__input", "c-txt__input"]));
    expect(defines(css, "c-field__input")).toBe(true);
    expect(defines(css, "c-txt__input")).toBe(false);
    expect(defines(css, "c-field__in")).toBe(false);
  });

  for (const [part, entry, dir] of [
    ["sidebar", "main.tsx", SRC],
    ["console", "console/console.tsx", join(SRC, "console")],
  ] as const) {
    it(`every Garden class the ${part} uses is defined by the Garden CSS it imports`, () => {
      const css = gardenCss(entry);
      const files = part === "sidebar" ? sources(SRC).filter((f) => !f.startsWith(join(SRC, "console"))) : sources(dir);
      const used = new Map<string, string>();
      for (const file of files) for (const name of gardenClassesIn(readFileSync(file, "utf8"))) used.set(name, file.slice(SRC.length + 1));
      expect(used.size).toBeGreaterThan(5);
      const undefinedOnes = [...used].filter(([name]) => !defines(css, name)).map(([name, file]) => `${name} (${file})`);
      expect(undefinedOnes).toEqual([]);
    });
  }
});
