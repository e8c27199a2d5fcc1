import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import type { DatabaseKind } from "../../src/db/database.js";
import { seatsUsed } from "../../src/commands/targets.js";
import { databaseKinds } from "../support/databases.js";
import { FlakyAuth0, settingBlocked } from "./demoProviders.js";
import { accountOfUser, act, auditOf, localState, preview, runAction, useHarness, userRow, versionOf, type ActionCall, type Harness } from "./harness.js";
import { raisedBy } from "../support/tickets.js";

/**
 * User status through the HTTP API: user.activate, suspend, deactivate (revoke access) and delete
 * (destructive, soft). The shared matrix for each, each action's own effect, the last-admin rule,
 * and the Auth0 adapter through its fake (failures leave nothing half-done).
 */
interface StatusCase {
  action: string;
  allowed: PanelRole;
  lower: PanelRole;
  destructive?: boolean;
  users: { success: string; retry: string; other: string; fail: string };
  invalid: { userId: string; code: string; because: string }[];
  arrange?: (h: Harness) => Promise<void>;
  effect: (h: Harness, userId: string, body: Record<string, unknown>) => Promise<void>;
}

async function setUser(h: Harness, userId: string, change: { status?: "active" | "suspended" | "deactivated"; blocked?: boolean }): Promise<void> {
  const row = await h.deps.database.db.updateTable("users").set(change).where("id", "=", userId).returning("idp_id").executeTakeFirstOrThrow();
  const at0 = h.auth0?.users.get(row.idp_id as string);
  if (at0 && change.blocked !== undefined) h.auth0?.users.set(row.idp_id as string, { ...at0, blocked: change.blocked });
}

const openSessions = (h: Harness, userId: string) => h.deps.database.db.selectFrom("user_sessions").select("id").where("user_id", "=", userId).where("revoked_at", "is", null).execute();

const cases: StatusCase[] = [
  {
    action: "user.activate",
    allowed: "support_full",
    lower: "support_read_only",
    users: { success: "usr_demo_026_5", retry: "usr_demo_026_4", other: "usr_demo_007_2", fail: "usr_demo_026_6" },
    invalid: [
      { userId: "usr_demo_026_1", code: "invalid_transition", because: "the user is already active" },
      { userId: "usr_demo_023_1", code: "account_not_active", because: "the account is suspended" },
    ],
    arrange: async (h) => {
      await setUser(h, "usr_demo_026_5", { status: "deactivated", blocked: true });
      await setUser(h, "usr_demo_026_4", { status: "suspended" });
      await setUser(h, "usr_demo_026_6", { status: "deactivated", blocked: true });
    },
    effect: async (h, userId, body) => {
      expect(await userRow(h.deps, userId)).toMatchObject({ status: "active", blocked: false });
      expect(body.before).toMatchObject({ status: "deactivated", blocked: true });
      expect(body.after).toMatchObject({ status: "active", blocked: false });
      expect(body.result).toMatchObject({ unblocked: true, seats: { used: await seatsUsed(h.deps.database.db, accountOfUser(userId)), licensed: 20 } });
    },
  },
  {
    action: "user.suspend",
    allowed: "support_full",
    lower: "support_read_only",
    users: { success: "usr_demo_033_4", retry: "usr_demo_033_5", other: "usr_demo_033_3", fail: "usr_demo_033_2" },
    invalid: [
      { userId: "usr_demo_007_2", code: "invalid_transition", because: "the user is deactivated" },
      { userId: "usr_demo_035_1", code: "last_admin", because: "the user is the account's last active owner/admin" },
    ],
    arrange: (h) => setUser(h, "usr_demo_035_2", { status: "deactivated" }),
    effect: async (h, userId, body) => {
      expect((await userRow(h.deps, userId)).status).toBe("suspended");
      expect(await openSessions(h, userId)).toEqual([]);
      expect(body.after).toMatchObject({ status: "suspended", sessionsRevoked: 1 });
    },
  },
  {
    action: "user.deactivate",
    allowed: "support_full",
    lower: "support_read_only",
    users: { success: "usr_demo_026_3", retry: "usr_demo_018_4", other: "usr_demo_018_3", fail: "usr_demo_018_2" },
    invalid: [
      { userId: "usr_demo_007_1", code: "invalid_transition", because: "the user is already deactivated" },
      { userId: "usr_demo_021_1", code: "last_admin", because: "the user is the account's last active owner/admin" },
    ],
    arrange: (h) => setUser(h, "usr_demo_021_2", { status: "suspended" }),
    effect: async (h, userId, body) => {
      expect(await userRow(h.deps, userId)).toMatchObject({ status: "deactivated", blocked: true });
      expect(await openSessions(h, userId)).toEqual([]);
      expect(body.result).toEqual({ blocked: true, sessionsRevoked: 1, seatFreed: true });
    },
  },
  {
    action: "user.delete",
    allowed: "operations",
    lower: "support_full",
    destructive: true,
    users: { success: "usr_demo_008_4", retry: "usr_demo_008_5", other: "usr_demo_008_6", fail: "usr_demo_008_7" },
    invalid: [{ userId: "usr_demo_028_1", code: "last_admin", because: "the user is the account's last active owner/admin" }],
    arrange: (h) => setUser(h, "usr_demo_028_2", { status: "deactivated" }),
    effect: async (h, userId, body) => {
      expect(await userRow(h.deps, userId)).toMatchObject({ status: "deleted", blocked: true });
      expect(await openSessions(h, userId)).toEqual([]);
      expect(body.after).toMatchObject({ status: "deleted", blocked: true, seatFreed: true, sessionsRevoked: 1 });
      // The previewed effects are part of the audited before-state.
      expect((body.before as { effects: { usersLosingAccess: { id: string }[] } }).effects.usersLosingAccess.map((u) => u.id)).toEqual([userId]);
      // A deleted user is gone for every further action.
      const again = await act(h, "operations", "user.block", { target: { type: "user", id: userId }, expectedVersion: 1 });
      expect(again.status).toBe(404);
    },
  },
];

const user = (id: string) => ({ type: "user" as const, id });

const arrangeAll = async (h: Harness) => {
  for (const c of cases) await c.arrange?.(h);
};

function matrix(kind: DatabaseKind) {
  describe(`user status on ${kind} (built-in identity and billing)`, () => {
    const h = useHarness(kind, { arrange: arrangeAll });

    describe.each(cases)("$action", (c) => {
      it("succeeds for the allowed role with before/after, ticket and reason audited", async () => {
        const userId = c.users.success;
        const res = await runAction(h, c.allowed, c.action, c.destructive, { target: user(userId), ticketId: await raisedBy(h.deps, user(userId), "1007"), reason: "Requested by the account owner" });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const entries = (await auditOf(h.deps, c.action, userId)).filter((e) => e.outcome === "succeeded");
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({ id: res.body.auditEntryId, ticketId: "1007", reason: "Requested by the account owner", before: res.body.before, after: res.body.after });
        expect(entries[0]?.actor.panelRole).toBe(c.allowed);
        await c.effect(h, userId, res.body as Record<string, unknown>);
      });

      it.each(c.invalid)("refuses with 409 $code when $because, changing nothing", async ({ userId, code }) => {
        const before = await localState(h.deps, accountOfUser(userId));
        const res = c.destructive ? await preview(h, c.allowed, c.action, { target: user(userId) }) : await act(h, c.allowed, c.action, { target: user(userId) });
        expect(res.status, JSON.stringify(res.body)).toBe(409);
        expect(res.body.code).toBe(code);
        expect(await localState(h.deps, accountOfUser(userId))).toEqual(before);
      });

      it("refuses the role below with 403 naming the role it needs, audited as denied", async () => {
        const userId = c.users.other;
        const before = await localState(h.deps, accountOfUser(userId));
        const res = await act(h, c.lower, c.action, { target: user(userId), ticketId: "1009" });
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ code: "action_not_allowed", action: c.action, requiredRole: c.allowed });
        const denied = await h.deps.database.db.selectFrom("audit_log").select(["ticket_id", "actor_role"]).where("action", "=", c.action).where("outcome", "=", "denied").execute();
        expect(denied).toEqual([{ ticket_id: "1009", actor_role: c.lower }]);
        expect(await localState(h.deps, accountOfUser(userId))).toEqual(before);
      });

      it("answers 400 for bad input and 409 for a stale version, changing nothing", async () => {
        const userId = c.users.other;
        const before = await localState(h.deps, accountOfUser(userId));
        const bad = await act(h, c.allowed, c.action, { target: user(userId), input: { status: "active" } });
        expect(bad.status).toBe(400);
        expect(bad.body.errors).toContainEqual(expect.objectContaining({ field: "body.input" }));
        const version = await versionOf(h.deps, user(userId));
        const stale = await act(h, c.allowed, c.action, { target: user(userId), expectedVersion: version + 3 });
        expect(stale.status).toBe(409);
        expect(stale.body).toMatchObject({ code: "stale_version", expectedVersion: version + 3, currentVersion: version });
        expect(await localState(h.deps, accountOfUser(userId))).toEqual(before);
      });

      it("performs once when retried with the same Idempotency-Key", async () => {
        const userId = c.users.retry;
        const call: ActionCall = { target: user(userId), expectedVersion: await versionOf(h.deps, user(userId)) };
        // A retry resends the same request, confirmation token included.
        if (c.destructive) call.confirmationToken = (await preview(h, c.allowed, c.action, call)).body.confirmationToken as string;
        const key = `status-${c.action}`;
        const first = await act(h, c.allowed, c.action, call, { idempotencyKey: key });
        expect(first.status, JSON.stringify(first.body)).toBe(200);
        const state = await localState(h.deps, accountOfUser(userId));
        const again = await act(h, c.allowed, c.action, call, { idempotencyKey: key });
        expect(again.body).toMatchObject({ replayed: true, auditEntryId: first.body.auditEntryId });
        expect(await localState(h.deps, accountOfUser(userId))).toEqual(state);
        expect((await auditOf(h.deps, c.action, userId)).filter((e) => e.outcome === "succeeded")).toHaveLength(1);
      });
    });

    it("user.delete needs the confirmation from its preview (428 without), which lists the seat freed", async () => {
      const userId = "usr_demo_012_4";
      const used = await seatsUsed(h.deps.database.db, "acc_demo_012");
      const before = await localState(h.deps, "acc_demo_012");
      const res = await act(h, "operations", "user.delete", { target: user(userId) });
      expect(res.status).toBe(428);
      expect(res.body.code).toBe("confirmation_required");
      expect(await localState(h.deps, "acc_demo_012")).toEqual(before);
      const previewed = await preview(h, "operations", "user.delete", { target: user(userId) });
      expect(previewed.status).toBe(200);
      expect(previewed.body.effects).toMatchObject({ activeSubscription: true, mrrLostCents: 0, usersLosingAccess: [{ id: userId }] });
      // Billing does not change: the next invoice after the deletion is the one already due (20 business seats).
      expect(previewed.body.effects.nextInvoice).toMatchObject({ amountCents: 20 * 4_900 });
      expect(previewed.body.effects.summary).toContain(`frees 1 seat (${used} of 20 in use → ${used - 1})`);
    });
  });

  describe(`user status on ${kind} through the Auth0 adapter (fake)`, () => {
    const auth0 = new FlakyAuth0();
    const h = useHarness(kind, { auth0, stripe: true, arrange: arrangeAll });

    describe.each(cases)("$action", (c) => {
      it("succeeds at Auth0", async () => {
        const userId = c.users.success;
        const idpId = (await userRow(h.deps, userId)).idp_id as string;
        const res = await runAction(h, c.allowed, c.action, c.destructive, { target: user(userId) });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const expectBlocked = c.action === "user.deactivate" || c.action === "user.delete";
        expect(auth0.users.get(idpId)?.blocked ?? false).toBe(expectBlocked);
        if (c.action !== "user.activate") expect(auth0.sessions.get(idpId)).toEqual([]);
      });

      it("changes nothing and audits `failed` when Auth0 refuses (429: nothing ran)", async () => {
        const userId = c.users.fail;
        const before = await localState(h.deps, accountOfUser(userId));
        auth0.failNext(3, 429);
        const res = await runAction(h, c.allowed, c.action, c.destructive, { target: user(userId) });
        auth0.clearFaults();
        expect(res.status, JSON.stringify(res.body)).toBe(503);
        expect(await localState(h.deps, accountOfUser(userId))).toEqual(before);
        expect((await auditOf(h.deps, c.action, userId)).map((e) => e.outcome)).toEqual(["pending", "failed"]);
      });
    });

    it("user.deactivate undoes the Auth0 block when ending the sessions fails, so nothing is half-done", async () => {
      const userId = "usr_demo_019_5";
      const idpId = (await userRow(h.deps, userId)).idp_id as string;
      const before = await localState(h.deps, accountOfUser(userId));
      // The block goes through; every later forward call fails (the unblock that undoes it does not).
      auth0.failAfter(1, 429, (req) => !settingBlocked(false)(req));
      const res = await act(h, "support_full", "user.deactivate", { target: user(userId) });
      auth0.heal();
      expect(res.status, JSON.stringify(res.body)).toBe(503);
      expect(auth0.requestsTo("PATCH", `/api/v2/users/${encodeURIComponent(idpId)}`).map((r) => (r.body as { blocked: boolean }).blocked)).toEqual([true, false]);
      expect(auth0.users.get(idpId)?.blocked).toBe(false);
      expect(auth0.sessions.get(idpId)).toHaveLength(1);
      expect(await localState(h.deps, accountOfUser(userId))).toEqual(before);
      expect((await auditOf(h.deps, "user.deactivate", userId)).map((e) => e.outcome)).toEqual(["pending", "failed"]);
    });
  });
}

describe.each(databaseKinds)("%s", (kind) => {
  matrix(kind);
});
