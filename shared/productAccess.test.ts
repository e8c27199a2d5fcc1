import { describe, expect, it } from "vitest";
import { elevationChoices, gainAccessBlock, productRoleRank, roleChangeChoices } from "./productAccess.js";
import { productRoles } from "./roles.js";

describe("who can be given more access (the server's check and the sidebar's role choices)", () => {
  it("ranks product roles from viewer to owner", () => {
    expect([...productRoles].sort((a, b) => productRoleRank(a) - productRoleRank(b))).toEqual(["viewer", "member", "billing", "admin", "owner"]);
  });

  it("blocks a suspended or deactivated user, then a closed account; not an active or invited user on an open one, nor an account not read", () => {
    expect(gainAccessBlock("deactivated", "active")).toEqual({ by: "user", status: "deactivated" });
    expect(gainAccessBlock("suspended", "suspended")).toEqual({ by: "user", status: "suspended" });
    for (const status of ["suspended", "deactivated", "deleted"] as const) expect(gainAccessBlock("active", status)).toEqual({ by: "account", status });
    for (const status of ["active", "trialing", "past_due"] as const) expect(gainAccessBlock("invited", status)).toBeNull();
    expect(gainAccessBlock("active", undefined)).toBeNull();
    // Elevation and admin promotion need someone active now.
    expect(gainAccessBlock("invited", "active", ["active"])).toEqual({ by: "user", status: "invited" });
  });

  it("offers the current role and every role support grants (never owner or admin) when nothing blocks; otherwise only those not above the current one", () => {
    expect(roleChangeChoices(productRoles, "viewer", null)).toEqual(["billing", "member", "viewer"]);
    expect(roleChangeChoices(productRoles, "admin", null)).toEqual(["admin", "billing", "member", "viewer"]);
    expect(roleChangeChoices(productRoles, "owner", null)).toEqual(["owner", "billing", "member", "viewer"]);
    expect(roleChangeChoices(productRoles, "billing", { by: "user", status: "deactivated" })).toEqual(["billing", "member", "viewer"]);
    expect(roleChangeChoices(productRoles, "viewer", { by: "account", status: "suspended" })).toEqual(["viewer"]);
    expect(roleChangeChoices(productRoles, "owner", { by: "user", status: "deactivated" })).toEqual(["owner", "billing", "member", "viewer"]);
  });

  it("offers an elevation only to roles above the current one: none for an owner", () => {
    expect(elevationChoices(productRoles, "viewer")).toEqual(["owner", "admin", "billing", "member"]);
    expect(elevationChoices(productRoles, "admin")).toEqual(["owner"]);
    expect(elevationChoices(productRoles, "owner")).toEqual([]);
  });
});
