import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import type { AppDeps } from "../../src/deps.js";
import { databaseKinds } from "../support/databases.js";
import { act, auditCount, auditOf, preview, useHarness, versionOf, type ActionCall } from "./harness.js";
import { raisedBy, ticketFor } from "../support/tickets.js";

/** seats.change, seats.expand_temporarily and seats.reclaim over the built-in billing adapter, on both databases. */
const DAY_MS = 86_400_000;

async function seatState(deps: AppDeps, accountId: string) {
  const { db } = deps.database;
  const [account, sub, expansions, users] = await Promise.all([
    db.selectFrom("accounts").select(["seats_licensed", "version"]).where("id", "=", accountId).executeTakeFirstOrThrow(),
    db.selectFrom("billing_subscriptions as s").innerJoin("billing_customers as c", "c.id", "s.customer_id").select(["s.quantity", "s.unit_amount_cents"]).where("c.account_id", "=", accountId).executeTakeFirstOrThrow(),
    db.selectFrom("seat_expansions").select(["id", "seats", "expires_at", "ticket_id", "granted_by_staff_id", "reverted_at"]).where("account_id", "=", accountId).orderBy("created_at").execute(),
    db.selectFrom("users").select(["id", "status", "version"]).where("account_id", "=", accountId).orderBy("id").execute(),
  ]);
  return { licensed: account.seats_licensed, version: account.version, billed: sub.quantity, expansions, users };
}

interface MatrixCase {
  action: string;
  body: ActionCall;
  allowed: PanelRole;
  lower: PanelRole;
  badInput: Record<string, unknown>;
}

const matrix: MatrixCase[] = [
  { action: "seats.change", body: { target: { type: "account", id: "acc_demo_019" }, input: { seats: 22 } }, allowed: "operations", lower: "support_full", badInput: { seats: -1 } },
  { action: "seats.expand_temporarily", body: { target: { type: "account", id: "acc_demo_021" }, input: { seats: 2, days: 5 } }, allowed: "support_full", lower: "support_read_only", badInput: { seats: 2, days: 0 } },
  { action: "seats.reclaim", body: { target: { type: "account", id: "acc_demo_026" }, input: { userIds: ["usr_demo_026_4"] } }, allowed: "support_full", lower: "support_read_only", badInput: { userIds: "usr_demo_026_4" } },
];

describe.each(databaseKinds)("seat actions (%s)", (kind) => {
  const h = useHarness(kind);

  describe.each(matrix)("$action", (c) => {
    const accountId = c.body.target.id;

    it("refuses a lower panel role with 403, audited as denied", async () => {
      const before = await seatState(h.deps, accountId);
      const res = await act(h, c.lower, c.action, c.body);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: "action_not_allowed", action: c.action, requiredRole: c.allowed });
      expect((await auditOf(h.deps, c.action)).filter((e) => e.outcome === "denied").at(-1)).toMatchObject({ actor: { panelRole: c.lower }, ticketId: await ticketFor(h.deps, c.body.target) });
      expect(await seatState(h.deps, accountId)).toEqual(before);
    });

    it("answers bad input with 400 and changes nothing", async () => {
      const before = await seatState(h.deps, accountId);
      const audits = await auditCount(h.deps);
      const res = await act(h, c.allowed, c.action, { ...c.body, input: c.badInput });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toMatch(/^body\.input\./);
      const noTicket = await act(h, c.allowed, c.action, { ...c.body, ticketId: "ZD-1" });
      expect(noTicket.status).toBe(400);
      expect(noTicket.body.errors[0].field).toBe("body.ticketId");
      expect(await seatState(h.deps, accountId)).toEqual(before);
      expect(await auditCount(h.deps)).toBe(audits);
    });

    it("answers a stale version with 409 and changes nothing", async () => {
      const before = await seatState(h.deps, accountId);
      const res = await act(h, c.allowed, c.action, { ...c.body, expectedVersion: before.version + 1 });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("stale_version");
      expect(await seatState(h.deps, accountId)).toEqual(before);
    });

    it("performs once when retried with the same Idempotency-Key", async () => {
      const key = `seats-retry-${c.action}`;
      const first = await act(h, c.allowed, c.action, c.body, { idempotencyKey: key });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const afterFirst = await seatState(h.deps, accountId);
      const retry = await act(h, c.allowed, c.action, { ...c.body, expectedVersion: (first.body.before as { version: number }).version }, { idempotencyKey: key });
      expect(retry.body).toMatchObject({ replayed: true, auditEntryId: first.body.auditEntryId });
      expect(await seatState(h.deps, accountId)).toEqual(afterFirst);
      expect((await auditOf(h.deps, c.action, accountId)).filter((e) => e.outcome === "succeeded")).toHaveLength(1);
    });
  });

  describe("seats.change", () => {
    it("raises the licence without a confirmation; the bill follows", async () => {
      const target = { type: "account" as const, id: "acc_demo_011" };
      const res = await act(h, "operations", "seats.change", { target, input: { seats: 12 } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const after = await seatState(h.deps, target.id);
      expect(after).toMatchObject({ licensed: 12, billed: 12 });
      const [entry] = (await auditOf(h.deps, "seats.change", target.id)).filter((e) => e.outcome === "succeeded");
      expect(entry?.before).toMatchObject({ seatsLicensed: 10, billing: { seats: 10 }, effects: { usersOverSeats: [] } });
      expect(entry?.after).toMatchObject({ seatsLicensed: 12, billedSeats: 12, billing: { seats: 12 }, version: after.version });
    });

    it("below the users holding seats: the preview lists who is over, and a confirmation is required", async () => {
      // acc_demo_001: 25 seats, 9 users holding one (one of them invited).
      const target = { type: "account" as const, id: "acc_demo_001" };
      const shown = await preview(h, "operations", "seats.change", { target, input: { seats: 5 } });
      expect(shown.status, JSON.stringify(shown.body)).toBe(200);
      const over = shown.body.effects.usersOverSeats as { id: string }[];
      expect(over).toHaveLength(4);
      expect(over[0]?.id).toBe("usr_demo_001_8"); // the invitation goes first
      expect(shown.body.effects).toMatchObject({ mrrLostCents: (25 - 5) * 4_900, usersLosingAccess: [] });
      expect(shown.body.effects.summary).toContain("25 → 5 (9 in use)");

      const unconfirmed = await act(h, "operations", "seats.change", { target, input: { seats: 5 } });
      expect(unconfirmed.status).toBe(428);
      expect((await seatState(h.deps, target.id)).licensed).toBe(25);

      const res = await act(h, "operations", "seats.change", { target, input: { seats: 5 }, confirmationToken: shown.body.confirmationToken });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await seatState(h.deps, target.id)).toMatchObject({ licensed: 5, billed: 5 });
      // Nobody loses access: the account is over its seats until users leave.
      expect((await seatState(h.deps, target.id)).users.filter((u) => u.status === "active" || u.status === "invited")).toHaveLength(9);
    });

    it("a reduction that stays above the users holding seats needs no confirmation", async () => {
      const target = { type: "account" as const, id: "acc_demo_008" };
      const res = await act(h, "operations", "seats.change", { target, input: { seats: 20 } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await seatState(h.deps, target.id)).toMatchObject({ licensed: 20, billed: 20 });
    });

    it("bills open temporary seats on top of the new licence", async () => {
      const target = { type: "account" as const, id: "acc_demo_025" };
      expect((await act(h, "support_full", "seats.expand_temporarily", { target, input: { seats: 4, days: 3 } })).status).toBe(200);
      const res = await act(h, "operations", "seats.change", { target, input: { seats: 15 } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await seatState(h.deps, target.id)).toMatchObject({ licensed: 15, billed: 19 });
      expect(res.body.before.effects.warnings.join(" ")).toContain("4 temporary seats");
    });

    it("refuses a deactivated account (409)", async () => {
      const deactivated = await act(h, "operations", "seats.change", { target: { type: "account", id: "acc_demo_005" }, input: { seats: 9 } });
      expect(deactivated.status).toBe(409);
      expect(deactivated.body.code).toBe("invalid_transition");
    });
  });

  describe("seats.expand_temporarily", () => {
    const target = { type: "account" as const, id: "acc_demo_006" };

    it("adds seats for the days asked: billed on top, recorded for the sweep, licence unchanged", async () => {
      const before = await seatState(h.deps, target.id);
      const res = await act(h, "support_full", "seats.expand_temporarily", { target, input: { seats: 3, days: 14 }, ticketId: await raisedBy(h.deps, target, "1006") });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const after = await seatState(h.deps, target.id);
      expect(after).toMatchObject({ licensed: before.licensed, billed: before.billed + 3 });
      expect(after.expansions).toHaveLength(1);
      const expansion = after.expansions[0]!;
      expect(expansion).toMatchObject({ seats: 3, ticket_id: "1006", granted_by_staff_id: "stf_demo_full", reverted_at: null });
      expect(new Date(expansion.expires_at).getTime()).toBe(h.deps.clock.now().getTime() + 14 * DAY_MS);
      expect(res.body.result).toEqual({ expansionId: expansion.id, expiresAt: new Date(expansion.expires_at).toISOString() });
      const [entry] = (await auditOf(h.deps, "seats.expand_temporarily", target.id)).filter((e) => e.outcome === "succeeded");
      expect(entry?.before).toMatchObject({ seatsLicensed: 5, billing: { seats: 5 } });
      expect(entry?.after).toMatchObject({ seatsLicensed: 5, temporarySeats: 3, expansion: { id: expansion.id, seats: 3 }, billing: { seats: 8 } });
    });

    it("caps support_full at 5 seats (403 naming the cap); operations may add more", async () => {
      // An account of its own: the expansion operations adds here would be one too many for the test above.
      const target = { type: "account" as const, id: "acc_demo_018" };
      const before = await seatState(h.deps, target.id);
      const res = await act(h, "support_full", "seats.expand_temporarily", { target, input: { seats: 6, days: 2 } });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: "over_cap", cap: { field: "seats", limit: 5, unit: "seats" }, value: 6 });
      expect((await auditOf(h.deps, "seats.expand_temporarily")).filter((e) => e.outcome === "denied").at(-1)?.error).toContain("at most 5 seats");
      expect(await seatState(h.deps, target.id)).toEqual(before);
      const ops = await act(h, "operations", "seats.expand_temporarily", { target, input: { seats: 6, days: 2 } });
      expect(ops.status).toBe(200);
      expect(await seatState(h.deps, target.id)).toMatchObject({ billed: before.billed + 6 });
    });

    it("refuses a deactivated account (409)", async () => {
      const res = await act(h, "support_full", "seats.expand_temporarily", { target: { type: "account", id: "acc_demo_005" }, input: { seats: 1, days: 1 } });
      expect(res.status).toBe(409);
    });
  });

  describe("seats.reclaim", () => {
    const target = { type: "account" as const, id: "acc_demo_012" };

    it("previews candidates who have not signed in for 90 days, then deactivates the confirmed ones", async () => {
      const stale = new Date(h.deps.clock.now().getTime() - 120 * DAY_MS);
      await h.deps.database.db.updateTable("users").set({ last_login_at: stale }).where("id", "in", ["usr_demo_012_4", "usr_demo_012_5"]).execute();
      const shown = await preview(h, "support_full", "seats.reclaim", { target, input: {} });
      expect(shown.status, JSON.stringify(shown.body)).toBe(200);
      // The invitation never accepted (created long ago) and the two who stopped signing in.
      expect((shown.body.effects.usersLosingAccess as { id: string }[]).map((u) => u.id).sort()).toEqual(["usr_demo_012_4", "usr_demo_012_5", "usr_demo_012_6"]);

      const chosen = ["usr_demo_012_4", "usr_demo_012_6"];
      const res = await act(h, "support_full", "seats.reclaim", { target, input: { userIds: chosen } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const after = await seatState(h.deps, target.id);
      expect(after.users.filter((u) => chosen.includes(u.id)).map((u) => u.status)).toEqual(["deactivated", "deactivated"]);
      expect(after.users.find((u) => u.id === "usr_demo_012_5")?.status).toBe("active");
      expect(after).toMatchObject({ licensed: 20, billed: 20 });
      const sessions = await h.deps.database.db.selectFrom("user_sessions").select(["revoked_at"]).where("user_id", "=", "usr_demo_012_4").execute();
      expect(sessions.length).toBeGreaterThan(0);
      expect(sessions.every((s) => s.revoked_at !== null)).toBe(true);
      expect(res.body.result).toEqual({ deactivated: chosen, seatsUsed: 4, sessionsRevoked: sessions.length });
      // Access ends at the identity provider too, as with user.deactivate.
      expect((await h.deps.database.db.selectFrom("users").select("blocked").where("id", "in", chosen).execute()).map((u) => u.blocked)).toEqual([true, true]);
      const [entry] = (await auditOf(h.deps, "seats.reclaim", target.id)).filter((e) => e.outcome === "succeeded");
      expect((entry?.before as { effects: { usersLosingAccess: { id: string }[] } }).effects.usersLosingAccess.map((u) => u.id)).toEqual(chosen);
      expect(entry?.after).toMatchObject({ seatsUsed: 4, deactivated: [{ id: "usr_demo_012_4", previousStatus: "active" }, { id: "usr_demo_012_6", previousStatus: "invited" }] });
    });

    it("refuses users who hold no seat in the account (400), an empty choice (400), and leaves them as they were", async () => {
      const before = await seatState(h.deps, target.id);
      const foreign = await act(h, "support_full", "seats.reclaim", { target, input: { userIds: ["usr_demo_001_2", "usr_demo_012_4"] } });
      expect(foreign.status).toBe(400);
      expect(foreign.body.errors.map((e: { reason: string }) => e.reason).join(" ")).toContain("usr_demo_001_2");
      const none = await act(h, "support_full", "seats.reclaim", { target, input: {} });
      expect(none.status).toBe(400);
      expect(none.body.errors[0].field).toBe("input.userIds");
      expect(await seatState(h.deps, target.id)).toEqual(before);
    });

    it("never deactivates the account's last active owner/admin (409)", async () => {
      const account = { type: "account" as const, id: "acc_demo_009" };
      const before = await seatState(h.deps, account.id);
      const res = await act(h, "support_full", "seats.reclaim", { target: account, input: { userIds: ["usr_demo_009_1", "usr_demo_009_2"] } });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("last_admin");
      expect(await seatState(h.deps, account.id)).toEqual(before);
      expect(await versionOf(h.deps, account)).toBe(before.version);
    });
  });
});
