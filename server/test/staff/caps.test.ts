import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { actionNames, actionRules, type ActionName, type ActionRule } from "../../../shared/actions.js";
import { panelRoles, type PanelRole } from "../../../shared/roles.js";
import type { StaffActor } from "../../src/actor.js";
import { checkCap } from "../../src/auth/permissions.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { databaseKinds } from "../support/databases.js";
import { act, auditCount, sessionOf, useHarness, versionOf, type ActionCall } from "../actions/harness.js";
import { raisedBy, ticketFor } from "../support/tickets.js";

const capped = actionNames.filter((a) => (actionRules[a] as ActionRule).cap);
const actorFor = (role: PanelRole): StaffActor => ({ kind: "staff", staffId: `stf_${role}`, zendeskUserId: "1", email: null, name: null, panelRole: role });

const AGENT = {
  support: DEMO_AGENTS[1],
  operations: DEMO_AGENTS[2],
  admin: DEMO_AGENTS[3],
} as const;

/** Each capped action through its real route, with the capped field at `value` (targets from the demo seed). */
const overCapCalls: Record<string, (value: number) => ActionCall> = {
  "user.elevate_temporarily": (hours) => ({ target: { type: "user", id: "usr_demo_026_4" }, input: { role: "admin", hours } }),
  "seats.expand_temporarily": (seats) => ({ target: { type: "account", id: "acc_demo_021" }, input: { seats, days: 5 } }),
  "billing.trial_extend": (days) => ({ target: { type: "account", id: "acc_demo_013" }, input: { days } }),
  "billing.credit_apply": (amountCents) => ({ target: { type: "account", id: "acc_demo_011" }, input: { amountCents } }),
};

describe.each(databaseKinds)("caps on %s", (kind) => {
  const h = useHarness(kind);
  let admin: string;
  let support: string;
  let operations: string;

  beforeAll(async () => {
    admin = await sessionOf(h, "admin");
    support = await sessionOf(h, "support_full");
    operations = await sessionOf(h, "operations");
  });
  const db = () => h.deps.database.db;
  const credit = async (token: string, amountCents: number) =>
    request(h.app)
      .post("/api/actions/billing.credit_apply")
      .set("Authorization", `Bearer ${token}`)
      .send({ target: { type: "account", id: "acc_demo_011" }, expectedVersion: 1, input: { amountCents }, ticketId: await ticketFor(h.deps, { type: "account", id: "acc_demo_011" }), reason: "goodwill" });
  const creditAt = async (token: string, amountCents: number, accountId = "acc_demo_011") =>
    request(h.app)
      .post("/api/actions/billing.credit_apply")
      .set("Authorization", `Bearer ${token}`)
      .send({ target: { type: "account", id: accountId }, expectedVersion: await versionOf(h.deps, { type: "account", id: accountId }), input: { amountCents }, ticketId: await ticketFor(h.deps, { type: "account", id: accountId }), reason: "goodwill" });

  const cases = capped.flatMap((action) => panelRoles.map((role) => [action, role] as const));
  it.each(cases)("%s as %s: under and at the cap pass, over it is refused naming the cap", async (action: ActionName, role: PanelRole) => {
    const rule = actionRules[action] as ActionRule;
    const limit = rule.cap?.limits[role];
    const actor = actorFor(role);
    if (limit === undefined) {
      // A role without a limit (it may not do the action) fails closed.
      await expect(checkCap(db(), actor, action, 1)).rejects.toMatchObject({ code: "over_cap", extra: { cap: { limit: 0 } } });
      return;
    }
    await expect(checkCap(db(), actor, action, limit - 1)).resolves.toEqual({ field: rule.cap?.field, limit, unit: rule.cap?.unit });
    await expect(checkCap(db(), actor, action, limit)).resolves.toEqual({ field: rule.cap?.field, limit, unit: rule.cap?.unit });
    await expect(checkCap(db(), actor, action, limit + 1)).rejects.toMatchObject({
      status: 403,
      code: "over_cap",
      extra: { action, panelRole: role, value: limit + 1, cap: { field: rule.cap?.field, limit, unit: rule.cap?.unit } },
    });
  });

  it.each(Object.keys(overCapCalls))("%s over its real route: one over the cap is 403 over_cap, audited as denied, changing nothing", async (action) => {
    const rule = actionRules[action as ActionName] as ActionRule;
    const limit = rule.cap?.limits.support_full as number;
    const call = overCapCalls[action]?.(limit + 1) as ActionCall;
    const version = await versionOf(h.deps, call.target);
    const audited = await auditCount(h.deps);
    const res = await act(h, "support_full", action, { ...call, ticketId: await raisedBy(h.deps, call.target, "1007"), reason: "over the cap" });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body).toMatchObject({ code: "over_cap", action, panelRole: "support_full", value: limit + 1, cap: { field: rule.cap?.field, limit, unit: rule.cap?.unit } });
    expect(await versionOf(h.deps, call.target)).toBe(version);
    expect(await auditCount(h.deps)).toBe(audited + 1);
    const entry = await db().selectFrom("audit_log").selectAll().orderBy("seq", "desc").limit(1).executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ action, outcome: "denied", ticket_id: "1007", reason: "over the cap", actor_staff_id: AGENT.support.id, target_id: call.target.id });
    expect(entry.error).toContain("over_cap");
  });

  it("lets a credit at the cap through the real route, and a higher role past it", async () => {
    expect((await creditAt(support, 5000)).status).toBe(200);
    const over = await creditAt(support, 6000);
    expect(over.status).toBe(403);
    expect(over.body).toMatchObject({ code: "over_cap", cap: { field: "amountCents", limit: 5000, unit: "cents" }, action: "billing.credit_apply" });
    expect((await creditAt(operations, 6000)).status).toBe(200);
    // Each entry records the value against the cap in force for its agent's role (the console's cap_edge flag reads it).
    const credits = await db().selectFrom("audit_log").select(["actor_staff_id", "before"]).where("action", "=", "billing.credit_apply").where("outcome", "=", "succeeded").orderBy("seq", "desc").limit(2).execute();
    expect(credits.map((c) => [c.actor_staff_id, (c.before as { cap?: unknown }).cap])).toEqual([
      [AGENT.operations.id, { value: 6000, limit: 100_000, unit: "cents" }],
      [AGENT.support.id, { value: 5000, limit: 5000, unit: "cents" }],
    ]);
    // The cap is checked before the target: a stale version does not hide it, and a stale one under the cap is 409
    // (operations: support has used its cap on this account over the last 24 h).
    expect((await credit(support, 6000)).body.code).toBe("over_cap");
    expect((await credit(operations, 100)).body.code).toBe("stale_version");
  });

  it("shows the caps in force to every signed-in role", async () => {
    const res = await request(h.app).get("/api/caps").set("Authorization", `Bearer ${support}`).expect(200);
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
    const put = (token: string, body: object) => request(h.app).put("/api/caps").set("Authorization", `Bearer ${token}`).send(body);
    // The per-request cap and the per-target window together: a 9,000 credit needs both.
    const res = await put(admin, {
      changes: [
        { action: "billing.credit_apply", role: "support_full", limit: 10_000 },
        { action: "billing.credit_apply", role: "support_full", limit: 10_000, scope: "target" },
      ],
      reason: "holiday goodwill",
      ticketId: "1008",
    }).expect(200);
    expect(res.body.caps.find((c: { action: string }) => c.action === "billing.credit_apply").limits.support_full).toBe(10_000);
    const entry = await db().selectFrom("audit_log").selectAll().where("request_id", "=", String(res.headers["x-request-id"])).executeTakeFirstOrThrow();
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
    await expect(checkCap(db(), actorFor("support_full"), "billing.credit_apply", 7_500)).resolves.toMatchObject({ limit: 10_000 });
    expect((await creditAt(support, 9_000, "acc_demo_014")).status).toBe(200);
    const me = await request(h.app).get("/api/session").set("Authorization", `Bearer ${support}`).expect(200);
    expect(me.body.permissions["billing.credit_apply"].cap.limit).toBe(10_000);

    const reset = await put(admin, {
      changes: [
        { action: "billing.credit_apply", role: "support_full", limit: null },
        { action: "billing.credit_apply", role: "support_full", limit: null, scope: "target" },
      ],
      reason: "holidays over",
    }).expect(200);
    const resetEntry = await db().selectFrom("audit_log").selectAll().where("request_id", "=", String(reset.headers["x-request-id"])).executeTakeFirstOrThrow();
    expect(resetEntry).toMatchObject({ before: { "billing.credit_apply": { support_full: 10000 } }, after: { "billing.credit_apply": { support_full: 5000 } }, ticket_id: null });
    await expect(checkCap(db(), actorFor("support_full"), "billing.credit_apply", 7_500)).rejects.toMatchObject({ code: "over_cap" });
  });

  it("refuses cap changes by non-admins (audited) and impossible ones (400)", async () => {
    const put = (token: string, body: object) => request(h.app).put("/api/caps").set("Authorization", `Bearer ${token}`).send(body);
    const denied = await put(operations, { changes: [{ action: "billing.trial_extend", role: "operations", limit: 365 }], reason: "more" }).expect(403);
    expect(denied.body).toMatchObject({ action: "staff.caps_change", requiredRole: "admin" });
    const entry = await db().selectFrom("audit_log").selectAll().where("request_id", "=", String(denied.headers["x-request-id"])).executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ action: "staff.caps_change", outcome: "denied" });

    const readOnly = await put(admin, { changes: [{ action: "billing.credit_apply", role: "support_read_only", limit: 100 }], reason: "nope" }).expect(400);
    expect(readOnly.body.errors[0].field).toBe("body.changes.0");
    const uncapped = await put(admin, { changes: [{ action: "user.block", role: "admin", limit: 1 }], reason: "nope" }).expect(400);
    expect(uncapped.body.errors[0].reason).toContain("cannot hold a cap");
    const negative = await put(admin, { changes: [{ action: "billing.credit_apply", role: "admin", limit: -5 }], reason: "nope" }).expect(400);
    expect(negative.body.errors[0].field).toBe("body.changes.0.limit");
  });
});
