import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderPermissionTable } from "./permissionTable.js";

describe("the README's permission table", () => {
  it("is the one rendered from shared/actions.ts", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const between = /<!-- permission-table:start -->\n([\s\S]*?)<!-- permission-table:end -->/.exec(readme)?.[1];
    expect(between, "README.md lacks the permission-table markers").toBeDefined();
    expect(between).toBe(renderPermissionTable());
  });
});
