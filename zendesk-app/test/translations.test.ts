import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { actionNames } from "../../shared/actions.js";
import { supportActionNames } from "../../shared/schemas/actions.js";
import { actionCatalog, dedicatedViews } from "../src/actions/catalog.js";
import de from "../translations/de.json";
import en from "../translations/en.json";
import { onDemandPrefixes, partOf } from "../src/stringPart.js";

/** The sidebar's strings: German has every English key with the same placeholders, and every action and field has a label. */
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("sidebar translations", () => {
  it("has the same keys and placeholders in de as in en", () => {
    expect(Object.keys(de).sort()).toEqual(Object.keys(en).sort());
    for (const [key, text] of Object.entries(en)) expect(placeholders((de as Record<string, string>)[key] ?? ""), key).toEqual(placeholders(text));
  });

  it("labels every action (the history tab shows them all), and the catalog or a dedicated view offers each support action exactly once", () => {
    for (const name of actionNames) expect(en, name).toHaveProperty([`action.${name}`]);
    expect([...actionCatalog.map((s) => s.action), ...dedicatedViews].sort()).toEqual([...supportActionNames].sort());
  });

  it("labels every form field and select option", () => {
    for (const spec of actionCatalog) {
      for (const field of spec.fields) {
        expect(en, `${spec.action} ${field.name}`).toHaveProperty([`field.${field.name}`]);
        for (const option of field.options ?? []) expect(en, `${spec.action} ${option}`).toHaveProperty([`option.${option}`]);
      }
    }
  });
});

describe("sidebar strings in parts", () => {
  const src = join(import.meta.dirname, "..", "src");
  const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => /\.tsx?$/.test(f) && !f.startsWith("console")).map((f) => f.replaceAll("\\", "/"));
  /** The views that load the on-demand part ("more") before they show (ActionsPanel, App), and what only they import. */
  const onDemandViews = ["views/ActionForm.tsx", "views/ActionFields.tsx", "views/SuggestedReply.tsx", "views/AuditTab.tsx"];
  const usesOnDemandKey = new RegExp(`["'\`](${onDemandPrefixes.join("|")})\\.[a-z_$]`);

  it("keeps the keys of on-demand views out of the first view, and every other view's keys in it", () => {
    expect(files).toEqual(expect.arrayContaining(onDemandViews));
    for (const file of files) {
      const code = readFileSync(join(src, file), "utf8");
      if (!onDemandViews.includes(file)) expect(usesOnDemandKey.test(code), `${file} uses a key loaded on demand only`).toBe(false);
    }
    expect(partOf("effect.account_suspend")).toBe("more");
    expect(partOf("action.account.suspend")).toBe("core");
    // The forms' strings (field labels, previews) are a real part of the catalog, not a token split.
    expect(Object.keys(en).filter((k) => partOf(k) === "more").length).toBeGreaterThan(50);
  });

  it("imports the on-demand views only lazily, with their strings (no static import outside them)", () => {
    for (const file of files.filter((f) => !onDemandViews.includes(f))) {
      const code = readFileSync(join(src, file), "utf8");
      for (const view of onDemandViews) {
        const name = view.slice("views/".length).replace(/\.tsx$/, "");
        expect(new RegExp(`^import (?!type )[^;]*from "\\./${name}"`, "m").test(code), `${relative(src, join(src, file))} imports ${name}`).toBe(false);
      }
    }
  });
});
