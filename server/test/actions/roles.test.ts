import request from "supertest";
import { describe, expect, it, vi } from "vitest";
import { elevationChoices, gainAccessBlock, roleChangeChoices } from "../../../shared/productAccess.js";
import { productRoles, type AccountStatus, type PanelRole, type ProductRole } from "../../../shared/roles.js";
import type { AvailableActions } from "../../../shared/schemas/availability.js";
import type { AppDeps } from "../../src/deps.js";
import { databaseKinds } from "../support/databases.js";
import { act, auditCount, auditOf, fillProductDirectory, preview, sessionOf, useHarness, type ActionCall, type Harness } from "./harness.js";
import { raisedBy, ticketFor } from "../support/tickets.js";

/**
 * user.role_change, user.promote_admin and user.elevate_temporarily through the HTTP API, on both
 * databases. Product roles live in Steward's own tables, so there is no provider to fail here.
 */
const HOUR_MS = 3_600_000;

async function userState(deps: AppDeps, userId: string) {
  const { db } = deps.database;
  const [user, elevations] = await Promise.all([
    db.selectFrom("users").select(["role", "status", "version"]).where("id", "=", userId).executeTakeFirstOrThrow(),
    db.selectFrom("role_elevations").selectAll().where("user_id", "=", userId).orderBy("created_at").execute(),
  ]);
  return { ...user, elevations };
}

const userTarget = (id: string) => ({ type: "user" as const, id });

async function availableOn(h: Harness, userId: string): Promise<AvailableActions> {
  const res = await request(h.app).get("/api/actions/available").query({ targetType: "user", targetId: userId }).set("Authorization", `Bearer ${await sessionOf(h, "support_full")}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as AvailableActions;
}

/** Every call that would change the user at the directory (the product, or Steward's own tables), while `run` runs. */
async function directoryWrites(h: Harness, run: () => Promise<void>): Promise<unknown[][]> {
  const spy = vi.spyOn(h.deps.directory, "updateUser");
  try {
    await run();
    return spy.mock.calls;
  } finally {
    spy.mockRestore();
  }
}

interface MatrixCase {
  action: string;
  body: ActionCall;
  allowed: PanelRole;
  lower: PanelRole;
  badInput: Record<string, unknown>;
}

const matrix: MatrixCase[] = [
  { action: "user.role_change", body: { target: userTarget("usr_demo_019_4"), input: { role: "billing" } }, allowed: "support_full", lower: "support_read_only", badInput: { role: "superuser" } },
  { action: "user.promote_admin", body: { target: userTarget("usr_demo_021_2"), input: { role: "admin" } }, allowed: "support_full", lower: "support_read_only", badInput: { role: "member" } },
  { action: "user.elevate_temporarily", body: { target: userTarget("usr_demo_026_4"), input: { role: "admin", hours: 8 } }, allowed: "support_full", lower: "support_read_only", badInput: { role: "admin", hours: 0 } },
];

describe.each(databaseKinds)("product role actions (%s)", (kind) => {
  const h = useHarness(kind, {
    arrange: async (h) => {
      const { db } = h.deps.database;
      // acc_demo_021 loses its admins (as acc_demo_007 did), so promote_admin applies there.
      await db.updateTable("users").set({ role: "member" }).where("account_id", "=", "acc_demo_021").execute();
      // acc_demo_018 keeps a single admin (its owner steps down), for the refusal that names who to ask.
      await db.updateTable("users").set({ role: "member" }).where("id", "=", "usr_demo_018_1").execute();
      // A deactivated admin, a deactivated and a suspended viewer on an open account; viewers on acc_demo_012 (whose status the tests set; usr_demo_012_6 is invited).
      await db.updateTable("users").set({ status: "deactivated", role: "viewer" }).where("id", "=", "usr_demo_011_3").execute();
      await db.updateTable("users").set({ status: "deactivated" }).where("id", "=", "usr_demo_011_2").execute();
      await db.updateTable("users").set({ status: "suspended", role: "viewer" }).where("id", "=", "usr_demo_011_4").execute();
      await db.updateTable("users").set({ role: "viewer" }).where("id", "in", ["usr_demo_012_4", "usr_demo_012_6"]).execute();
    },
  });

  describe.each(matrix)("$action", (c) => {
    const userId = c.body.target.id;

    it("refuses a lower panel role with 403, audited as denied with the ticket", async () => {
      const before = await userState(h.deps, userId);
      const res = await act(h, c.lower, c.action, c.body);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: "action_not_allowed", action: c.action, requiredRole: c.allowed, panelRole: c.lower });
      expect((await auditOf(h.deps, c.action)).filter((e) => e.outcome === "denied").at(-1)).toMatchObject({ actor: { panelRole: c.lower }, ticketId: await ticketFor(h.deps, c.body.target) });
      expect(await userState(h.deps, userId)).toEqual(before);
    });

    it("answers bad input with 400 and changes nothing", async () => {
      const before = await userState(h.deps, userId);
      const audits = await auditCount(h.deps);
      const res = await act(h, c.allowed, c.action, { ...c.body, input: c.badInput });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toMatch(/^body\.input\./);
      const extra = await act(h, c.allowed, c.action, { ...c.body, input: { ...c.body.input, sneaky: true } });
      expect(extra.status).toBe(400);
      expect(await userState(h.deps, userId)).toEqual(before);
      expect(await auditCount(h.deps)).toBe(audits);
    });

    it("answers a stale version with 409 and changes nothing", async () => {
      const before = await userState(h.deps, userId);
      const res = await act(h, c.allowed, c.action, { ...c.body, expectedVersion: before.version + 1 });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ code: "stale_version", expectedVersion: before.version + 1, currentVersion: before.version });
      expect(await userState(h.deps, userId)).toEqual(before);
      expect((await auditOf(h.deps, c.action, userId)).at(-1)).toMatchObject({ outcome: "failed", error: expect.stringContaining("stale_version") });
    });

    it("performs once when retried with the same Idempotency-Key", async () => {
      const key = `roles-retry-${c.action}`;
      const first = await act(h, c.allowed, c.action, c.body, { idempotencyKey: key });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const afterFirst = await userState(h.deps, userId);
      expect(afterFirst.role).toBe(c.body.input?.role);
      const retry = await act(h, c.allowed, c.action, { ...c.body, expectedVersion: (first.body.before as { version: number }).version }, { idempotencyKey: key });
      expect(retry.body).toMatchObject({ replayed: true, auditEntryId: first.body.auditEntryId });
      expect(await userState(h.deps, userId)).toEqual(afterFirst);
      expect((await auditOf(h.deps, c.action, userId)).filter((e) => e.outcome === "succeeded")).toHaveLength(1);
      // The same key for another request is refused rather than replayed.
      const reused = await act(h, c.allowed, c.action, { ...c.body, reason: "A different request" }, { idempotencyKey: key });
      expect(reused.status).toBe(422);
    });
  });

  describe("user.role_change", () => {
    it("changes the role, recording before and after with ticket and reason", async () => {
      const userId = "usr_demo_001_5";
      const before = await userState(h.deps, userId);
      const role = before.role === "viewer" ? "member" : "viewer";
      const res = await act(h, "support_full", "user.role_change", { target: userTarget(userId), input: { role }, ticketId: await raisedBy(h.deps, userTarget(userId), "1001"), reason: "Owner asked by email to restrict access" });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await userState(h.deps, userId)).toMatchObject({ role, version: before.version + 1 });
      const [entry] = (await auditOf(h.deps, "user.role_change", userId)).filter((e) => e.outcome === "succeeded");
      expect(entry).toMatchObject({ ticketId: "1001", reason: "Owner asked by email to restrict access", target: { type: "user", id: userId, accountId: "acc_demo_001" } });
      expect(entry?.before).toMatchObject({ role: before.role, version: before.version });
      expect(entry?.after).toMatchObject({ role, version: before.version + 1 });
      expect(res.body.after).toEqual(entry?.after);
    });

    it("demotes an admin while another remains, but never the last one (409 last_admin)", async () => {
      const ok = await act(h, "support_full", "user.role_change", { target: userTarget("usr_demo_014_2"), input: { role: "member" } });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      const before = await userState(h.deps, "usr_demo_014_1");
      const last = await act(h, "support_full", "user.role_change", { target: userTarget("usr_demo_014_1"), input: { role: "member" } });
      expect(last.status).toBe(409);
      expect(last.body).toMatchObject({ code: "last_admin", accountId: "acc_demo_014" });
      expect(await userState(h.deps, "usr_demo_014_1")).toEqual(before);
    });

    it("does not grant owner or admin (409 pointing to promote_admin / elevate_temporarily, naming the field), nor the role the user has", async () => {
      const before = await userState(h.deps, "usr_demo_001_4");
      for (const role of ["admin", "owner"]) {
        const grant = await act(h, "support_full", "user.role_change", { target: userTarget("usr_demo_001_4"), input: { role } });
        expect(grant.status).toBe(409);
        expect(grant.body.code).toBe("admin_grant_not_allowed");
        expect(grant.body.detail).toContain("user.promote_admin");
        expect(grant.body.errors).toEqual([{ field: "body.input.role", reason: expect.stringContaining("user.promote_admin") }]);
      }
      expect(await userState(h.deps, "usr_demo_001_4")).toEqual(before);
      const same = await act(h, "support_full", "user.role_change", { target: userTarget("usr_demo_001_3"), input: { role: "billing" } });
      expect(same.status).toBe(409);
      expect(same.body.code).toBe("invalid_transition");
    });

    it("accepts every role the sidebar's picker offers (shared/productAccess.ts) and refuses every other one", async () => {
      // An owner, an admin, a billing user and a member or viewer of one open account (two admins: neither is the last), and a deactivated viewer.
      for (const userId of ["usr_demo_001_1", "usr_demo_001_2", "usr_demo_001_3", "usr_demo_001_4", "usr_demo_011_3"]) {
        const { role, status } = await userState(h.deps, userId);
        const offered = roleChangeChoices(productRoles, role, gainAccessBlock(status, "active"));
        expect(offered, userId).toContain(role);
        for (const asked of productRoles.filter((r) => r !== role)) {
          const res = await preview(h, "support_full", "user.role_change", { target: userTarget(userId), input: { role: asked } });
          expect(res.status, `${userId} (${status} ${role}) → ${asked}: ${JSON.stringify(res.body)}`).toBe(offered.includes(asked) ? 200 : 409);
        }
      }
    });

    it("closes an open temporary elevation, so the sweep will not undo this change", async () => {
      const userId = "usr_demo_003_4";
      expect((await act(h, "support_full", "user.elevate_temporarily", { target: userTarget(userId), input: { role: "admin", hours: 4 } })).status).toBe(200);
      const res = await act(h, "support_full", "user.role_change", { target: userTarget(userId), input: { role: "billing" } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const state = await userState(h.deps, userId);
      expect(state.role).toBe("billing");
      expect(state.elevations).toHaveLength(1);
      expect(state.elevations[0]?.reverted_at).not.toBeNull();
      expect(res.body.after).toMatchObject({ closedElevation: state.elevations[0]?.id });
    });
  });

  describe("user.promote_admin", () => {
    it("refuses an inactive user, then promotes an active one when the account has no admin", async () => {
      const invited = await act(h, "support_full", "user.promote_admin", { target: userTarget("usr_demo_007_5"), input: {} });
      expect(invited.status).toBe(409);
      expect(invited.body.code).toBe("invalid_transition");

      const res = await act(h, "support_full", "user.promote_admin", { target: userTarget("usr_demo_007_3"), input: {}, ticketId: await raisedBy(h.deps, userTarget("usr_demo_007_3"), "1007"), reason: "Admin left; CFO confirmed by phone" });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect((await userState(h.deps, "usr_demo_007_3")).role).toBe("admin");
      const [entry] = (await auditOf(h.deps, "user.promote_admin", "usr_demo_007_3")).filter((e) => e.outcome === "succeeded");
      expect(entry).toMatchObject({ ticketId: "1007", before: { role: "billing" }, after: { role: "admin" } });
    });

    it("refuses while the account has an active owner/admin (409 naming them)", async () => {
      const before = await userState(h.deps, "usr_demo_018_4");
      const res = await act(h, "support_full", "user.promote_admin", { target: userTarget("usr_demo_018_4"), input: { role: "owner" } });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("account_has_admin");
      expect(res.body.admins).toEqual([expect.objectContaining({ id: "usr_demo_018_2", role: "admin" })]);
      expect(res.body.detail).toContain("ask them");
      expect(await userState(h.deps, "usr_demo_018_4")).toEqual(before);
    });
  });

  describe("user.elevate_temporarily", () => {
    it("raises the role until the hours run out and remembers the previous role", async () => {
      const userId = "usr_demo_008_5";
      const before = await userState(h.deps, userId);
      const res = await act(h, "support_full", "user.elevate_temporarily", { target: userTarget(userId), input: { role: "admin", hours: 24 }, ticketId: await raisedBy(h.deps, userTarget(userId), "1008") });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const after = await userState(h.deps, userId);
      expect(after.role).toBe("admin");
      expect(after.elevations).toHaveLength(1);
      const row = after.elevations[0]!;
      expect(row).toMatchObject({ previous_role: before.role, elevated_role: "admin", ticket_id: "1008", granted_by_staff_id: "stf_demo_full", account_id: "acc_demo_008", reverted_at: null });
      expect(new Date(row.expires_at).getTime()).toBe(h.deps.clock.now().getTime() + 24 * HOUR_MS);
      expect(res.body.result).toEqual({ elevationId: row.id, expiresAt: new Date(row.expires_at).toISOString() });
      const [entry] = (await auditOf(h.deps, "user.elevate_temporarily", userId)).filter((e) => e.outcome === "succeeded");
      expect(entry?.before).toMatchObject({ role: before.role });
      expect(entry?.after).toMatchObject({ role: "admin", elevation: { id: row.id, previousRole: before.role } });

      const again = await act(h, "support_full", "user.elevate_temporarily", { target: userTarget(userId), input: { role: "owner", hours: 1 } });
      expect(again.status).toBe(409);
      expect(again.body.code).toBe("already_elevated");
    });

    it("accepts every role the sidebar's elevation form offers (those above the current one) and refuses the rest; an owner has none", async () => {
      for (const userId of ["usr_demo_001_1", "usr_demo_001_2", "usr_demo_001_3", "usr_demo_001_4"]) {
        const { role } = await userState(h.deps, userId);
        const offered: ProductRole[] = elevationChoices(productRoles, role);
        if (role === "owner") expect(offered).toEqual([]);
        for (const asked of productRoles) {
          const res = await preview(h, "support_full", "user.elevate_temporarily", { target: userTarget(userId), input: { role: asked, hours: 2 } });
          expect(res.status, `${userId} (${role}) → ${asked}: ${JSON.stringify(res.body)}`).toBe(offered.includes(asked) ? 200 : 409);
        }
      }
    });

    it("caps support_full at 72 hours (403 naming the cap, audited); operations may grant 100", async () => {
      const userId = "usr_demo_008_6";
      const before = await userState(h.deps, userId);
      const res = await act(h, "support_full", "user.elevate_temporarily", { target: userTarget(userId), input: { role: "admin", hours: 73 } });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: "over_cap", action: "user.elevate_temporarily", value: 73, cap: { field: "hours", limit: 72, unit: "hours" } });
      const denied = (await auditOf(h.deps, "user.elevate_temporarily")).filter((e) => e.outcome === "denied").at(-1);
      expect(denied).toMatchObject({ target: { type: "user", id: userId }, error: expect.stringContaining("72 hours") });
      expect(await userState(h.deps, userId)).toEqual(before);
      const ops = await act(h, "operations", "user.elevate_temporarily", { target: userTarget(userId), input: { role: "admin", hours: 100 } });
      expect(ops.status).toBe(200);
      expect(new Date((await userState(h.deps, userId)).elevations[0]!.expires_at).getTime()).toBe(h.deps.clock.now().getTime() + 100 * HOUR_MS);
    });

    it("only raises (409 for the same or a lower role, naming the field, nothing written) and only active users (409)", async () => {
      const userId = "usr_demo_008_2";
      const before = await userState(h.deps, userId);
      expect(before.role).toBe("admin");
      for (const role of ["admin", "member"]) {
        const lower = await act(h, "support_full", "user.elevate_temporarily", { target: userTarget(userId), input: { role, hours: 2 } });
        expect(lower.status).toBe(409);
        expect(lower.body).toMatchObject({ code: "invalid_transition", role: "admin", requested: role, errors: [{ field: "body.input.role", reason: expect.stringContaining("not above") }] });
      }
      expect(await userState(h.deps, userId)).toEqual(before);
      const inactive = await act(h, "support_full", "user.elevate_temporarily", { target: userTarget("usr_demo_017_2"), input: { role: "admin", hours: 2 } });
      expect(inactive.status).toBe(409);
      expect(inactive.body.code).toBe("invalid_transition");
      expect((await userState(h.deps, "usr_demo_017_2")).elevations).toHaveLength(0);
    });
  });
  describe("on a user who cannot use the access", () => {
    // Set in Steward's tables and passed on to the product (DIRECTORY_PROVIDER=http), as if changed there.
    const setAccount = async (status: AccountStatus) => {
      await h.deps.database.db.updateTable("accounts").set({ status }).where("id", "=", "acc_demo_012").execute();
      await fillProductDirectory(h);
    };

    it("refuses a higher role for a deactivated or suspended user (409 naming the state), audited as failed, nothing written, no directory call", async () => {
      for (const userId of ["usr_demo_011_3", "usr_demo_011_4"]) {
        const before = await userState(h.deps, userId);
        let res!: Awaited<ReturnType<typeof act>>;
        const writes = await directoryWrites(h, async () => {
          res = await act(h, "support_full", "user.role_change", { target: userTarget(userId), input: { role: "member" } });
        });
        expect(res.status, JSON.stringify(res.body)).toBe(409);
        expect(res.body).toMatchObject({ code: "invalid_transition", status: before.status, allowedFrom: ["active", "invited"] });
        expect(res.body.detail).toContain(`while ${before.status}`);
        expect(res.body.detail).toContain("activate the user first");
        expect(writes).toEqual([]);
        expect(await userState(h.deps, userId)).toEqual(before);
        // As the runner records every other refusal of the action (a stale version, the last admin): failed, with the ticket.
        expect((await auditOf(h.deps, "user.role_change", userId)).at(-1)).toMatchObject({
          outcome: "failed",
          ticketId: await ticketFor(h.deps, userTarget(userId)),
          before: { status: before.status, role: "viewer" },
          error: expect.stringContaining("invalid_transition"),
        });
      }
    });

    it("refuses a higher role, an elevation and admin promotion while the user's account is suspended, deactivated or deleted (409 account_not_active)", async () => {
      const userId = "usr_demo_012_4";
      const attempts = [
        { action: "user.role_change", input: { role: "member" } },
        { action: "user.elevate_temporarily", input: { role: "admin", hours: 2 } },
        { action: "user.promote_admin", input: { role: "admin" } },
      ];
      try {
        for (const status of ["suspended", "deactivated", "deleted"] as const) {
          await setAccount(status);
          for (const { action, input } of attempts) {
            const before = await userState(h.deps, userId);
            let res!: Awaited<ReturnType<typeof act>>;
            const writes = await directoryWrites(h, async () => {
              res = await act(h, "support_full", action, { target: userTarget(userId), input });
            });
            expect(res.status, `${action} on a ${status} account: ${JSON.stringify(res.body)}`).toBe(409);
            expect(res.body, `${action} on a ${status} account`).toMatchObject({ code: "account_not_active", accountStatus: status });
            expect(writes).toEqual([]);
            expect(await userState(h.deps, userId)).toEqual(before);
            expect((await auditOf(h.deps, action, userId)).at(-1)).toMatchObject({ outcome: "failed", error: expect.stringContaining("account_not_active") });
          }
        }
      } finally {
        await setAccount("active");
      }
    });

    it("the available actions show the elevation and admin promotion as unavailable for the account's state; a role change stays (it may lower)", async () => {
      try {
        await setAccount("deactivated");
        const result = await availableOn(h, "usr_demo_012_4");
        for (const action of ["user.elevate_temporarily", "user.promote_admin"]) {
          expect(result.actions.find((a) => a.action === action), action).toMatchObject({ status: "unavailable", reason: "state", code: "account_not_active", detail: expect.stringContaining("deactivated") });
        }
        expect(result.actions.find((a) => a.action === "user.role_change")).toMatchObject({ status: "available" });
      } finally {
        await setAccount("active");
      }
      const deactivated = await availableOn(h, "usr_demo_011_3");
      expect(deactivated.actions.find((a) => a.action === "user.elevate_temporarily")).toMatchObject({ status: "unavailable", reason: "state", code: "invalid_transition", detail: expect.stringContaining("activate the user first") });
    });

    it("still lowers the role of a deactivated admin and of a user on a deactivated account (it takes access away)", async () => {
      try {
        await setAccount("deactivated");
        for (const [userId, role] of [["usr_demo_011_2", "member"], ["usr_demo_012_3", "viewer"]] as const) {
          const before = await userState(h.deps, userId);
          let res!: Awaited<ReturnType<typeof act>>;
          const writes = await directoryWrites(h, async () => {
            res = await act(h, "support_full", "user.role_change", { target: userTarget(userId), input: { role } });
          });
          expect(res.status, JSON.stringify(res.body)).toBe(200);
          expect(writes).toHaveLength(1);
          expect(await userState(h.deps, userId)).toMatchObject({ role, status: before.status, version: before.version + 1 });
        }
      } finally {
        await setAccount("active");
      }
    });

    it("gives an invited user a higher role: the role they get when they accept", async () => {
      const userId = "usr_demo_012_6";
      expect((await userState(h.deps, userId)).status).toBe("invited");
      const res = await act(h, "support_full", "user.role_change", { target: userTarget(userId), input: { role: "member" } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await userState(h.deps, userId)).toMatchObject({ role: "member", status: "invited" });
    });

    it("still ends a temporary elevation of a user deactivated since, putting the previous role back", async () => {
      const userId = "usr_demo_012_5";
      const before = await userState(h.deps, userId);
      const elevated = await act(h, "support_full", "user.elevate_temporarily", { target: userTarget(userId), input: { role: "admin", hours: 8 } });
      expect(elevated.status, JSON.stringify(elevated.body)).toBe(200);
      await h.deps.database.db.updateTable("users").set({ status: "deactivated" }).where("id", "=", userId).execute();
      await fillProductDirectory(h);
      const ended = await act(h, "support_full", "user.elevation_end", { target: userTarget(userId), input: { elevationId: elevated.body.result.elevationId } });
      expect(ended.status, JSON.stringify(ended.body)).toBe(200);
      expect(await userState(h.deps, userId)).toMatchObject({ role: before.role, status: "deactivated" });
    });
  });
});
