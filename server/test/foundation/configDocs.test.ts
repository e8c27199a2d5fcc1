import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configVariables } from "../../src/config.js";

const root = new URL("../../../", import.meta.url);
const read = (file: string) => readFileSync(new URL(file, root), "utf8");

/** `NAME=` lines of .env.example, set or commented out. */
function envExampleVariables(): string[] {
  return [...read(".env.example").matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string);
}

/** Every `NAME` in the first column of the README's configuration table. */
function readmeVariables(): string[] {
  const readme = read("README.md");
  const table = readme.slice(readme.indexOf("<!-- config-table:start -->"), readme.indexOf("<!-- config-table:end -->"));
  expect(table.length).toBeGreaterThan(100);
  return table
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .flatMap((line) => [...(line.split("|")[1] ?? "").matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] as string));
}

describe("configuration docs match what config.ts reads", () => {
  it("reads a known set of variables", () => {
    expect(configVariables).toEqual(expect.arrayContaining(["STEWARD_MODE", "DATABASE_URL", "PUBLIC_URL", "MAIL_FROM", "PRODUCT_RESET_URL", "ENV_FILE", "TRUST_PROXY"]));
  });

  it(".env.example documents every variable, and nothing else", () => {
    expect([...new Set(envExampleVariables())].sort()).toEqual([...configVariables].sort());
  });

  it("the README's configuration table lists every variable, and nothing else", () => {
    expect([...new Set(readmeVariables())].sort()).toEqual([...configVariables].sort());
  });
});
