import { describe, expect, it } from "vitest";
import { actionNames } from "../../shared/actions.js";
import { supportActionNames } from "../../shared/schemas/actions.js";
import { actionCatalog, dedicatedViews } from "../src/actions/catalog.js";
import de from "../translations/de.json";
import en from "../translations/en.json";

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
