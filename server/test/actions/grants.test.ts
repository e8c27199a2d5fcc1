import request from "supertest";
import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import type { AvailableActions } from "../../../shared/schemas/availability.js";
import { runSweeps } from "../../src/sweeps/runSweeps.js";
import { databaseKinds } from "../support/databases.js";
import { raisedBy } from "../support/tickets.js";
import { act, auditOf, preview, sessionOf, useHarness, type Harness } from "./harness.js";

/**
 * "End now" for temporary grants, through the HTTP API on both databases: the available actions list
 * the open grants with their end time and who gave them, and user.elevation_end / seats.expansion_end
 * end one before it is due with the same effect as the sweep, audited with the agent and the ticket.
 */
const HOUR_MS = 3_600_000;
const user = { type: "user" as const, id: "usr_demo_026_4" };
const account = { type: "account" as const, id: "acc_demo_006" };

async function available(h: Harness, role: PanelRole, target: { type: string; id: string }): Promise<AvailableActions> {
  const res = await request(h.app).get("/api/actions/available").query({ targetType: target.type, targetId: target.id }).set("Authorization", `Bearer ${await sessionOf(h, role)}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as AvailableActions;
}

const entryFor = (result: AvailableActions, action: string) => result.actions.find((a) => a.action === action);

async function elevations(h: Harness, userId = user.id) {
  return h.deps.database.db.selectFrom("role_elevations").selectAll().where("user_id", "=", userId).execute();
}

async function billedSeats(h: Harness) {
  const billing = await h.deps.billing.getBilling({ id: account.id, billingCustomerId: "cus_demo_006" });
  return billing?.seats;
}

describe.each(databaseKinds)("temporary grants, ended now (%s)", (kind) => {
  const h = useHarness(kind);

  it("a raised role is listed with its end and granter; End now puts the old role back, audited with agent and ticket", async () => {
    const before = await h.deps.database.db.selectFrom("users").select("role").where("id", "=", user.id).executeTakeFirstOrThrow();
    expect(entryFor(await available(h, "support_full", user), "user.elevation_end")).toMatchObject({ status: "unavailable", reason: "state", code: "no_open_grant" });
    const ticketId = await raisedBy(h.deps, user, "1026");
    const granted = await act(h, "support_full", "user.elevate_temporarily", { target: user, input: { role: "admin", hours: 8 }, ticketId });
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);
    const elevationId = granted.body.result.elevationId as string;

    const listed = await available(h, "support_full", user);
    expect(listed.grants).toEqual([
      { kind: "elevation", id: elevationId, endAction: "user.elevation_end", role: "admin", previousRole: before.role, seats: null, endsAt: new Date(h.deps.clock.now().getTime() + 8 * HOUR_MS).toISOString(), ticketId, grantedBy: "Sam Support" },
    ]);
    expect(entryFor(listed, "user.elevation_end")).toMatchObject({ status: "available", preview: false });
    // A read-only agent sees the grant, and why it cannot end it.
    const readOnly = await available(h, "support_read_only", user);
    expect(readOnly.grants.map((g) => g.id)).toEqual([elevationId]);
    expect(entryFor(readOnly, "user.elevation_end")).toMatchObject({ status: "unavailable", reason: "role", requiredRole: "support_full" });
    const denied = await act(h, "support_read_only", "user.elevation_end", { target: user, input: { elevationId } });
    expect(denied.status).toBe(403);

    h.deps.clock.advance(HOUR_MS);
    const ended = await act(h, "support_full", "user.elevation_end", { target: user, input: { elevationId }, ticketId, reason: "Customer finished the import" });
    expect(ended.status, JSON.stringify(ended.body)).toBe(200);
    expect(ended.body.after).toMatchObject({ role: before.role, roleRestored: true, endedElevation: { id: elevationId } });
    expect(await h.deps.database.db.selectFrom("users").select("role").where("id", "=", user.id).executeTakeFirstOrThrow()).toEqual(before);
    expect((await elevations(h))[0]?.reverted_at).not.toBeNull();
    const [entry] = (await auditOf(h.deps, "user.elevation_end", user.id)).filter((e) => e.outcome === "succeeded");
    expect(entry).toMatchObject({ actor: { staffId: "stf_demo_full", panelRole: "support_full" }, ticketId, reason: "Customer finished the import", before: { elevation: { id: elevationId, elevatedRole: "admin" } } });
    const activity = await h.deps.database.db.selectFrom("activity_events").select("detail").where("user_id", "=", user.id).where("type", "=", "role_elevation_ended").execute();
    expect(activity.map((a) => a.detail)).toEqual([`temporary admin role ended early by support (ticket ${ticketId}); back to ${before.role} (granted for ticket ${ticketId})`]);

    // Ended once: the list is empty, the action unavailable again, a second end refused, the sweep leaves it.
    const after = await available(h, "support_full", user);
    expect(after.grants).toEqual([]);
    expect(entryFor(after, "user.elevation_end")).toMatchObject({ status: "unavailable", code: "no_open_grant" });
    const again = await act(h, "support_full", "user.elevation_end", { target: user, input: { elevationId: "rel_other" } });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("no_open_grant");
    // Judged on this user's rows, not the sweep's count: other tests' grants may fall due in the same sweep.
    const endedRows = await elevations(h);
    h.deps.clock.advance(10 * HOUR_MS);
    await runSweeps(h.deps);
    expect(await elevations(h)).toEqual(endedRows);
    expect(await auditOf(h.deps, "user.elevation_expire", user.id)).toEqual([]);
  });

  it("an elevation already ended, or someone else's id, is refused and changes nothing", async () => {
    // A user of its own: the first test expects its user to hold no grant, so this one must not leave one there.
    const user = { type: "user" as const, id: "usr_demo_001_4" };
    const granted = await act(h, "support_full", "user.elevate_temporarily", { target: { type: "user", id: "usr_demo_008_2" }, input: { role: "owner", hours: 2 } });
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);
    const first = await act(h, "support_full", "user.elevate_temporarily", { target: user, input: { role: "admin", hours: 2 } });
    const firstId = first.body.result.elevationId as string;
    expect((await act(h, "support_full", "user.elevation_end", { target: user, input: { elevationId: firstId } })).status).toBe(200);
    await act(h, "support_full", "user.elevate_temporarily", { target: user, input: { role: "billing", hours: 2 } });
    const succeeded = async () => (await auditOf(h.deps, "user.elevation_end", user.id)).filter((e) => e.outcome === "succeeded").length;
    const endedBefore = await succeeded();
    const stale = await act(h, "support_full", "user.elevation_end", { target: user, input: { elevationId: firstId } });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe("already_reverted");
    // The other user's elevation is not this user's to end.
    const foreign = await act(h, "support_full", "user.elevation_end", { target: user, input: { elevationId: granted.body.result.elevationId } });
    expect(foreign.status).toBe(404);
    const bad = await act(h, "support_full", "user.elevation_end", { target: user, input: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toContain("body.input.elevationId");
    expect((await elevations(h, user.id)).filter((e) => e.reverted_at === null)).toHaveLength(1);
    expect(await succeeded()).toBe(endedBefore);
  });

  it("extra seats are listed; ending them shows the lower invoice first, then bills the licence again", async () => {
    const licensed = await billedSeats(h);
    const ticketId = await raisedBy(h.deps, account, "1006");
    const expanded = await act(h, "support_full", "seats.expand_temporarily", { target: account, input: { seats: 3, days: 14 }, ticketId });
    expect(expanded.status, JSON.stringify(expanded.body)).toBe(200);
    const expansionId = expanded.body.result.expansionId as string;
    expect(await billedSeats(h)).toBe((licensed ?? 0) + 3);

    const listed = await available(h, "support_full", account);
    expect(listed.grants).toEqual([{ kind: "seats", id: expansionId, endAction: "seats.expansion_end", role: null, previousRole: null, seats: 3, endsAt: expanded.body.result.expiresAt, ticketId, grantedBy: "Sam Support" }]);
    expect(entryFor(listed, "seats.expansion_end")).toMatchObject({ status: "available", preview: true });

    const billing = await h.deps.billing.getBilling({ id: account.id, billingCustomerId: "cus_demo_006" });
    const previewed = await preview(h, "support_full", "seats.expansion_end", { target: account, input: { expansionId }, ticketId });
    expect(previewed.status, JSON.stringify(previewed.body)).toBe(200);
    const drop = (billing?.nextInvoice?.amountCents ?? 0) - previewed.body.effects.nextInvoice.amountCents;
    expect(drop).toBeGreaterThan(0);
    expect(drop % 3).toBe(0); // three seats at one price
    expect(previewed.body.effects.mrrLostCents).toBeGreaterThan(0);
    expect(previewed.body.effects.summary).toContain("-3 temporary seats now: next invoice -");
    expect(await billedSeats(h)).toBe((licensed ?? 0) + 3); // the preview changed nothing

    const ended = await act(h, "support_full", "seats.expansion_end", { target: account, input: { expansionId }, ticketId });
    expect(ended.status, JSON.stringify(ended.body)).toBe(200);
    expect(ended.body.after).toMatchObject({ temporarySeats: 0, revertedExpansion: { id: expansionId, seats: 3 }, billing: { seats: licensed } });
    expect(await billedSeats(h)).toBe(licensed);
    const [entry] = (await auditOf(h.deps, "seats.expansion_end", account.id)).filter((e) => e.outcome === "succeeded");
    expect(entry).toMatchObject({ actor: { staffId: "stf_demo_full" }, ticketId, before: { expansion: { id: expansionId, seats: 3 } } });
    expect((await available(h, "support_full", account)).grants).toEqual([]);
    const again = await act(h, "support_full", "seats.expansion_end", { target: account, input: { expansionId } });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("no_open_grant");
  });
});
