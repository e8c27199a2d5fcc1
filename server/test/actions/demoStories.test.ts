import request from "supertest";
import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import type { AvailableActions } from "../../../shared/schemas/availability.js";
import { databaseKinds } from "../support/databases.js";
import { act, preview, sessionOf, userRow, useHarness, type Harness } from "./harness.js";

/**
 * The demo tickets tell their stories through Steward's own actions, on a fresh demo seed: the sidebar offers what
 * the ticket asks for, and it does what its preview says.
 */
async function offered(h: Harness, role: PanelRole, targetType: string, targetId: string, ticketId: string): Promise<string[]> {
  const res = await request(h.app).get("/api/actions/available").query({ targetType, targetId, ticketId }).set("Authorization", `Bearer ${await sessionOf(h, role)}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body as AvailableActions).actions.filter((a) => a.status === "available").map((a) => a.action);
}

describe.each(databaseKinds)("demo stories (%s)", (kind) => {
  const h = useHarness(kind);

  it("1008 'Lost my phone, can't get past 2FA': Reset 2FA is offered and removes the factor", async () => {
    expect(await offered(h, "support_full", "user", "usr_demo_008_2", "1008")).toContain("user.mfa_reset");
    const input = { identityVerification: "verified_email_reply", verificationNote: "Replied from the address on file" };
    const res = await act(h, "support_full", "user.mfa_reset", { target: { type: "user", id: "usr_demo_008_2" }, input, ticketId: "1008" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.result.removedMethods).toEqual(["totp"]);
    expect(await userRow(h.deps, "usr_demo_008_2")).toMatchObject({ mfa_enrolled: false, mfa_methods: [] });
  });

  it("1004 'Why is our workspace suspended?': lifting the suspension lets the requester sign in again", async () => {
    expect(await offered(h, "support_full", "account", "acc_demo_004", "1004")).toContain("account.unsuspend");
    const previewed = await preview(h, "support_full", "account.unsuspend", { target: { type: "account", id: "acc_demo_004" }, ticketId: "1004" });
    expect(previewed.status, JSON.stringify(previewed.body)).toBe(200);
    expect(JSON.stringify(previewed.body)).toMatch(/[1-9]\d* user\(s\) can sign in again/);
    const res = await act(h, "support_full", "account.unsuspend", { target: { type: "account", id: "acc_demo_004" }, ticketId: "1004" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.result.unblockedUsers).toBeGreaterThan(0);
    expect(await userRow(h.deps, "usr_demo_004_1")).toMatchObject({ status: "active", blocked: false });
  });

  it("1005 'Please reactivate our old account': activating gives the requester access again", async () => {
    expect(await offered(h, "operations", "account", "acc_demo_005", "1005")).toContain("account.activate");
    const previewed = await preview(h, "operations", "account.activate", { target: { type: "account", id: "acc_demo_005" }, ticketId: "1005" });
    expect(previewed.status, JSON.stringify(previewed.body)).toBe(200);
    expect(JSON.stringify(previewed.body)).toMatch(/[1-9]\d* user\(s\) can sign in again/);
    const res = await act(h, "operations", "account.activate", { target: { type: "account", id: "acc_demo_005" }, ticketId: "1005" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await userRow(h.deps, "usr_demo_005_1")).toMatchObject({ status: "active", blocked: false });
  });
});
