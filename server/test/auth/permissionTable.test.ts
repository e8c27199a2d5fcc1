import { describe, expect, it } from "vitest";
import { actionNames, actionRules, type ActionRule } from "../../../shared/actions.js";
import { renderPermissionTable } from "../../../shared/permissionTable.js";

describe("renderPermissionTable (README)", () => {
  const table = renderPermissionTable();
  const rows = table.split("\n").filter((l) => l.startsWith("| `"));

  it("has one row per action with a column per panel role", () => {
    expect(table.split("\n")[0]).toBe("| Action | What it does | Read-only | Support | Operations | Admin |");
    expect(rows.map((r) => /^\| `([^`]+)`/.exec(r)?.[1])).toEqual(actionNames);
    for (const row of rows) expect(row.split(" | ")).toHaveLength(6);
  });

  it("marks exactly the roles allowed by each rule, with their caps", () => {
    const cells = (name: string) => (rows.find((r) => r.startsWith(`| \`${name}\``)) ?? "").split(" | ").slice(2).map((c) => c.replace(/ \|$/, "").trim());
    expect(cells("context.view")).toEqual(["✓", "✓", "✓", "✓"]);
    expect(cells("seats.change")).toEqual(["", "", "✓", "✓"]);
    expect(cells("staff.grant")).toEqual(["", "", "", "✓"]);
    expect(cells("mail.deliver")).toEqual(["", "", "", ""]);
    expect(cells("billing.credit_apply")).toEqual(["", "✓ ≤ $50", "✓ ≤ $1,000", "✓ ≤ $1,000"]);
    expect(cells("billing.trial_extend")).toEqual(["", "✓ ≤ 14 d", "✓ ≤ 90 d", "✓ ≤ 90 d"]);
    const marks = rows.reduce((n, r) => n + (r.match(/✓/g)?.length ?? 0), 0);
    const rank = { support_read_only: 0, support_full: 1, operations: 2, admin: 3 } as const;
    const expected = Object.values(actionRules as Record<string, ActionRule>).reduce((n, r) => n + (r.minRole === "system" ? 0 : 4 - rank[r.minRole]), 0);
    expect(marks).toBe(expected);
  });

  it("escapes pipes in summaries", () => {
    const custom = renderPermissionTable({ "x.y": { target: "system", minRole: "admin", kind: "read", summary: "a | b" } });
    expect(custom).toContain("a \\| b");
  });
});
