import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actionNames, actionRules, type ActionName, type ActionRule } from "../../../shared/actions.js";
import { panelRoles, type PanelRole } from "../../../shared/roles.js";
import type { StaffActor } from "../../src/actor.js";
import { createApp } from "../../src/app.js";
import { authenticate } from "../../src/auth/authenticate.js";
import { authorize, enforceCap } from "../../src/auth/authorize.js";
import { checkCap } from "../../src/auth/permissions.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, authTestDeps, sessionFor, type TestDeps } from "../auth/helpers.js";

const capped = actionNames.filter((a) => (actionRules[a] as ActionRule).cap);
const actorFor = (role: PanelRole): StaffActor => ({ kind: "staff", staffId: `stf_${role}`, zendeskUserId: "1", email: null, name: null, panelRole: role });

describe.each(databaseKinds)("caps on %s", (kind) => {
  let deps: TestDeps;
  let app: ReturnType<typeof createApp>;
  let admin: string;
  let support: string;
  let operations: string;

  beforeAll(async () => {
    deps = await authTestDeps(kind);
    app = createApp(deps, {
      extend: (a) => {
        a.post("/test/credit", authenticate(deps), authorize(deps, "billing.credit_apply"), enforceCap(deps, "billing.credit_apply"), (req, res) => void res.json({ ok: true }));
      },
    });
    admin = await sessionFor(app, deps, AGENT.admin.zendeskUserId);
    support = await sessionFor(app, deps, AGENT.support.zendeskUserId);
    operations = await sessionFor(app, deps, AGENT.operations.zendeskUserId);
  });
  afterAll(async () => {
    await deps.database.close();
  });

  const cases = capped.flatMap((action) => panelRoles.map((role) => [action, role] as const));
  it.each(cases)("%s as %s: under and at the cap pass, over it is refused naming the cap", async (action: ActionName, role: PanelRole) => {
    const rule = actionRules[action] as ActionRule;
    const limit = rule.cap?.limits[role];
    const actor = actorFor(role);
    if (limit === undefined) {
      // A role without a limit (it may not do the action) fails closed.
      await expect(checkCap(deps.database.db, actor, action, 1)).rejects.toMatchObject({ code: "over_cap", extra: { cap: { limit: 0 } } });
      return;
    }
    await expect(checkCap(deps.database.db, actor, action, limit - 1)).resolves.toBeUndefined();
    await expect(checkCap(deps.database.db, actor, action, limit)).resolves.toBeUndefined();
    await expect(checkCap(deps.database.db, actor, action, limit + 1)).rejects.toMatchObject({
      status: 403,
      code: "over_cap",
      extra: { action, panelRole: role, value: limit + 1, cap: { field: rule.cap?.field, limit, unit: rule.cap?.unit } },
    });
  });

  it("refuses an over-cap request over HTTP with 403 over_cap, audited as denied", async () => {
    const res = await request(app).post("/test/credit").set("Authorization", `Bearer ${support}`).send({ amountCents: 6000, ticketId: "1007", reason: "goodwill" }).expect(403);
    expect(res.body).toMatchObject({ code: "over_cap", cap: { field: "amountCents", limit: 5000, unit: "cents" }, action: "billing.credit_apply" });
    const entry = await deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", String(res.headers["x-request-id"])).executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ action: "billing.credit_apply", outcome: "denied", ticket_id: "1007", actor_staff_id: AGENT.support.id });
    expect(entry.error).toContain("over_cap");
    await request(app).post("/test/credit").set("Authorization", `Bearer ${support}`).send({ amountCents: 5000, ticketId: "1007", reason: "goodwill" }).expect(200);
    await request(app).post("/test/credit").set("Authorization", `Bearer ${operations}`).send({ amountCents: 6000, ticketId: "1007", reason: "goodwill" }).expect(200);
  });

  it("shows the caps in force to every signed-in role", async () => {
    const res = await request(app).get("/api/caps").set("Authorization", `Bearer ${support}`).expect(200);
    const credit = res.body.caps.find((c: { action: string }) => c.action === "billing.credit_apply");
    expect(credit).toEqual({
      action: "billing.credit_apply",
      field: "amountCents",
      unit: "cents",
      limits: { support_read_only: null, support_full: 5000, operations: 100000, admin: 100000 },
      defaults: { support_read_only: null, support_full: 5000, operations: 100000, admin: 100000 },
      perTarget: {
        limits: { support_read_only: null, support_full: 5000, operations: 100000, admin: 100000 },
        defaults: { support_read_only: null, support_full: 5000, operations: 100000, admin: 100000 },
      },
      perDay: {
        limits: { support_read_only: null, support_full: 20000, operations: 500000, admin: 500000 },
        defaults: { support_read_only: null, support_full: 20000, operations: 500000, admin: 500000 },
      },
    });
    expect(res.body.caps.map((c: { action: string }) => c.action).sort()).toEqual([...capped].sort());
  });

  it("lets an admin change a cap: audited before/after, applied at once, and reset to the default", async () => {
    const put = (token: string, body: object) => request(app).put("/api/caps").set("Authorization", `Bearer ${token}`).send(body);
    const res = await put(admin, { changes: [{ action: "billing.credit_apply", role: "support_full", limit: 10_000 }], reason: "holiday goodwill", ticketId: "1008" }).expect(200);
    expect(res.body.caps.find((c: { action: string }) => c.action === "billing.credit_apply").limits.support_full).toBe(10_000);
    const entry = await deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", String(res.headers["x-request-id"])).executeTakeFirstOrThrow();
    expect(entry).toMatchObject({
      action: "staff.caps_change",
      outcome: "succeeded",
      actor_staff_id: AGENT.admin.id,
      reason: "holiday goodwill",
      ticket_id: "1008",
      before: { "billing.credit_apply": { support_full: 5000 } },
      after: { "billing.credit_apply": { support_full: 10000 } },
    });
    // The new cap applies to the next check, the HTTP guard, and the session's permissions.
    await expect(checkCap(deps.database.db, actorFor("support_full"), "billing.credit_apply", 7_500)).resolves.toBeUndefined();
    await request(app).post("/test/credit").set("Authorization", `Bearer ${support}`).send({ amountCents: 9_000, ticketId: "1007", reason: "goodwill" }).expect(200);
    const me = await request(app).get("/api/session").set("Authorization", `Bearer ${support}`).expect(200);
    expect(me.body.permissions["billing.credit_apply"].cap.limit).toBe(10_000);

    const reset = await put(admin, { changes: [{ action: "billing.credit_apply", role: "support_full", limit: null }], reason: "holidays over" }).expect(200);
    const resetEntry = await deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", String(reset.headers["x-request-id"])).executeTakeFirstOrThrow();
    expect(resetEntry).toMatchObject({ before: { "billing.credit_apply": { support_full: 10000 } }, after: { "billing.credit_apply": { support_full: 5000 } }, ticket_id: null });
    await expect(checkCap(deps.database.db, actorFor("support_full"), "billing.credit_apply", 7_500)).rejects.toMatchObject({ code: "over_cap" });
  });

  it("refuses cap changes by non-admins (audited) and impossible ones (400)", async () => {
    const put = (token: string, body: object) => request(app).put("/api/caps").set("Authorization", `Bearer ${token}`).send(body);
    const denied = await put(operations, { changes: [{ action: "billing.trial_extend", role: "operations", limit: 365 }], reason: "more" }).expect(403);
    expect(denied.body).toMatchObject({ action: "staff.caps_change", requiredRole: "admin" });
    const entry = await deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", String(denied.headers["x-request-id"])).executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ action: "staff.caps_change", outcome: "denied" });

    const readOnly = await put(admin, { changes: [{ action: "billing.credit_apply", role: "support_read_only", limit: 100 }], reason: "nope" }).expect(400);
    expect(readOnly.body.errors[0].field).toBe("body.changes.0");
    const uncapped = await put(admin, { changes: [{ action: "user.block", role: "admin", limit: 1 }], reason: "nope" }).expect(400);
    expect(uncapped.body.errors[0].reason).toContain("cannot hold a cap");
    const negative = await put(admin, { changes: [{ action: "billing.credit_apply", role: "admin", limit: -5 }], reason: "nope" }).expect(400);
    expect(negative.body.errors[0].field).toBe("body.changes.0.limit");
  });
});
