import { sql } from "kysely";
import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import { actionNames, actionRules, type ActionName, type ActionRule } from "../../../shared/actions.js";
import { panelRoles, type PanelRole } from "../../../shared/roles.js";
import type { StaffActor } from "../../src/actor.js";
import { checkCap } from "../../src/auth/permissions.js";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import { ManualClock } from "../../src/clock.js";
import { capLeft, reserveCapUsage } from "../../src/staff/capUsage.js";
import { capFor, capsForRole, windowCapFor } from "../../src/staff/caps.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { databaseKinds } from "../support/databases.js";
import type { ActionAvailability, AvailableActions } from "../../../shared/schemas/availability.js";
import { act, auditCount, auditOf, sessionOf, useHarness, versionOf, type ActionCall } from "../actions/harness.js";
import { raisedBy, ticketFor } from "../support/tickets.js";

const capped = actionNames.filter((a) => (actionRules[a] as ActionRule).cap);
const actorFor = (role: PanelRole): StaffActor => ({ kind: "staff", staffId: `stf_${role}`, zendeskUserId: "1", email: null, name: null, panelRole: role });

const DAY = 24 * 60 * 60 * 1000;
const account = (id: string) => ({ type: "account" as const, id });

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

  /** A staff member of its own for one test: their 24 h windows start empty whatever other tests used. */
  const newAgent = async (id: string, role: PanelRole) => {
    const zendeskUserId = String(8_000 + Math.floor(Math.random() * 1_000_000));
    await db().insertInto("staff").values({ id, zendesk_user_id: zendeskUserId, email: `${id}@steward.test`, name: id, panel_role: role }).execute();
    const token = (await issueSessionToken(h.deps, { staffId: id, zendeskUserId })).token;
    const actor: StaffActor = { kind: "staff", staffId: id, zendeskUserId, email: `${id}@steward.test`, name: id, panelRole: role };
    const credit = async (accountId: string, amountCents: number, extra: { ticketId?: string; reason?: string } = {}) =>
      request(h.app)
        .post("/api/actions/billing.credit_apply")
        .set("Authorization", `Bearer ${token}`)
        .send({ target: account(accountId), expectedVersion: await versionOf(h.deps, account(accountId)), input: { amountCents }, ticketId: extra.ticketId ?? (await ticketFor(h.deps, account(accountId))), reason: extra.reason ?? "goodwill" });
    /** The sidebar's offer of one action on an account (GET /api/actions/available). */
    const offer = async (accountId: string, action = "billing.credit_apply"): Promise<ActionAvailability> => {
      const res = await request(h.app).get("/api/actions/available").query({ targetType: "account", targetId: accountId }).set("Authorization", `Bearer ${token}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return (res.body as AvailableActions).actions.find((a) => a.action === action) as ActionAvailability;
    };
    return { id, actor, credit, offer };
  };
  const putCaps = (changes: object[]) => request(h.app).put("/api/caps").set("Authorization", `Bearer ${admin}`).send({ changes, reason: "Cap windows under test" });
  const creditCap = { field: "amountCents", unit: "cents" };

  it("holds the 24 h cap per agent and target: the sidebar shows what is left, one past it is refused (audited) naming who can go further, and it frees up exactly 24 h later", async () => {
    const accountId = "acc_demo_006";
    const agent = await newAgent("stf_caps_target", "support_full");
    expect(await agent.offer(accountId)).toMatchObject({ status: "available", cap: { ...creditCap, left: 5_000, perRequest: 5_000, canGoFurther: ["operations", "admin"] } });
    // Uncapped actions carry no cap.
    expect((await agent.offer(accountId, "account.suspend")).cap).toBeNull();
    const reservedAt = h.deps.clock.now();
    expect((await agent.credit(accountId, 1_500)).status).toBe(200);
    expect((await agent.offer(accountId)).cap).toEqual({ ...creditCap, left: 3_500, perRequest: 5_000, canGoFurther: ["operations", "admin"] });
    // Another agent's budget is their own; no role has a larger cap than what operations has left.
    const ops = await newAgent("stf_caps_target_ops", "operations");
    expect((await ops.offer(accountId)).cap).toEqual({ ...creditCap, left: 100_000, perRequest: 100_000, canGoFurther: [] });

    const version = await versionOf(h.deps, account(accountId));
    const over = await agent.credit(accountId, 3_501, { ticketId: await raisedBy(h.deps, account(accountId), "1007"), reason: "past the window" });
    expect(over.status).toBe(403);
    expect(over.body).toMatchObject({
      code: "over_cap",
      detail: "billing.credit_apply allows support_full 5000 cents on this target per 24 h; 3500 cents left, asked for 3501. operations or admin can go further.",
      action: "billing.credit_apply",
      panelRole: "support_full",
      value: 3_501,
      window: "target",
      cap: { ...creditCap, limit: 5_000, used: 1_500, left: 3_500 },
      canGoFurther: ["operations", "admin"],
      canApprove: ["operations", "admin"],
      approvalPossible: true,
    });
    expect(await versionOf(h.deps, account(accountId))).toBe(version);
    const denied = (await auditOf(h.deps, "billing.credit_apply", accountId)).at(-1);
    expect(denied).toMatchObject({ outcome: "denied", actor: { staffId: agent.id }, target: { type: "account", id: accountId }, ticketId: "1007", reason: "past the window" });
    expect(denied?.error).toContain("over_cap");
    // Up to the limit exactly is allowed; then nothing is left, and the sidebar says so.
    expect((await agent.credit(accountId, 3_500)).status).toBe(200);
    expect(await agent.offer(accountId)).toMatchObject({
      status: "unavailable",
      reason: "cap",
      code: "over_cap",
      detail: "No cents left of your cap on this target in the last 24 h. operations or admin can go further.",
      cap: { left: 0, perRequest: 5_000 },
    });
    // Both credits were reserved at one instant (the clock stood still): still counted a millisecond before 24 h later, gone at 24 h.
    const at = (ms: number) => ({ ...h.deps, clock: new ManualClock(new Date(reservedAt.getTime() + ms)) });
    expect(await capLeft(at(DAY - 1), agent.actor, "billing.credit_apply", accountId)).toMatchObject({ left: 0 });
    expect(await capLeft(at(DAY), agent.actor, "billing.credit_apply", accountId)).toMatchObject({ left: 5_000 });
    // Steward itself, and actions without a cap, have no cap left to show.
    expect(await capLeft(h.deps, { kind: "system", component: "sweeper" }, "billing.credit_apply", accountId)).toBeNull();
    expect(await capLeft(h.deps, agent.actor, "user.block", accountId)).toBeNull();
  });

  it("holds the 24 h cap per agent in all, and says when no role can go further", async () => {
    const agent = await newAgent("stf_caps_day", "support_full");
    const topAdmin = await newAgent("stf_caps_day_admin", "admin");
    const ops = await newAgent("stf_caps_day_ops", "operations");
    const changed = await putCaps([
      { action: "billing.credit_apply", role: "support_full", limit: 6_000, scope: "day" },
      { action: "billing.credit_apply", role: "admin", limit: 1_000, scope: "target" },
    ]);
    expect(changed.status).toBe(200);
    try {
      // Each window shows its own overrides; the per-request caps are untouched.
      expect(changed.body.caps.find((c: { action: string }) => c.action === "billing.credit_apply")).toMatchObject({
        limits: { support_full: 5_000, admin: 100_000 },
        perTarget: { limits: { support_full: 5_000, operations: 100_000, admin: 1_000 }, defaults: { admin: 100_000 } },
        perDay: { limits: { support_full: 6_000, operations: 500_000, admin: 500_000 }, defaults: { support_full: 20_000 } },
      });
      expect((await agent.credit("acc_demo_008", 5_000)).status).toBe(200);
      // Past the target's window: only roles whose own window on a target holds the value asked can go further.
      const overTarget = await agent.credit("acc_demo_008", 1_001);
      expect(overTarget.body).toMatchObject({ code: "over_cap", window: "target", cap: { limit: 5_000, used: 5_000, left: 0 }, canGoFurther: ["operations"] });
      const overDay = await agent.credit("acc_demo_009", 1_001);
      expect([overDay.status, overDay.body.detail]).toEqual([403, "billing.credit_apply allows support_full 6000 cents in all per 24 h; 1000 cents left, asked for 1001. operations or admin can go further."]);
      expect(overDay.body).toMatchObject({ window: "day", cap: { limit: 6_000, used: 5_000, left: 1_000 }, canGoFurther: ["operations", "admin"] });
      // What is left of the day on another target (per target it would have all 5,000).
      expect((await agent.offer("acc_demo_009")).cap).toMatchObject({ left: 1_000, perRequest: 5_000 });
      expect((await agent.credit("acc_demo_009", 1_000)).status).toBe(200);

      expect((await topAdmin.credit("acc_demo_010", 1_000)).status).toBe(200);
      const overTop = await topAdmin.credit("acc_demo_010", 1);
      expect([overTop.status, overTop.body.detail]).toEqual([403, "billing.credit_apply allows admin 1000 cents on this target per 24 h; 0 cents left, asked for 1. No panel role can go further; an admin can change the cap."]);
      expect(overTop.body).toMatchObject({ window: "target", canGoFurther: [], canApprove: [], approvalPossible: false });
      // A role above with exactly the room asked for can go further.
      expect((await ops.credit("acc_demo_010", 100_000)).status).toBe(200);
      const overOps = await ops.credit("acc_demo_010", 1_000);
      expect(overOps.body).toMatchObject({ code: "over_cap", window: "target", cap: { limit: 100_000, used: 100_000, left: 0 }, canGoFurther: ["admin"] });
    } finally {
      await putCaps([
        { action: "billing.credit_apply", role: "support_full", limit: null, scope: "day" },
        { action: "billing.credit_apply", role: "admin", limit: null, scope: "target" },
      ]);
    }
  });

  it("lets parallel reservations never split a cap: of five at the whole per-target cap, one is reserved", async () => {
    const actor: StaffActor = { ...actorFor("support_full"), staffId: "stf_caps_parallel" };
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => reserveCapUsage(h.deps, { actor, action: "billing.credit_apply", targetId: "acc_parallel", value: 5_000 })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((x) => x.status === "rejected")) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "over_cap", extra: { window: "target", cap: { used: 5_000, left: 0 } } });
    const rows = await db().selectFrom("cap_usage").select("amount").where("staff_id", "=", "stf_caps_parallel").execute();
    expect(rows.map((r) => Number(r.amount))).toEqual([5_000]);
  });

  // PGlite has one connection and runs one transaction at a time, so two reservations cannot interleave there
  // whatever capUsage does; the race the advisory lock prevents exists only with a pool (PostgreSQL).
  it.runIf(kind === "postgres")("serialises reservations with its lock: two that both read before either inserts do not both fit", async () => {
    const actor: StaffActor = { ...actorFor("support_full"), staffId: "stf_caps_paused" };
    const reserve = () => reserveCapUsage(h.deps, { actor, action: "billing.credit_apply", targetId: "acc_paused", value: 5_000 });
    const waitingOnLocks = async () =>
      Number((await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(db())).rows[0]!.n);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const tableLocked = new Promise<void>((resolve) => (locked = resolve));
    // Another connection lets reads of cap_usage through but holds every insert: each reservation pauses between its read and its insert.
    const holder = db().transaction().execute(async (trx) => {
      await sql`lock table cap_usage in share mode`.execute(trx);
      locked();
      await released;
    });
    await tableLocked;
    let settled = 0;
    const results = Promise.allSettled([reserve(), reserve()].map((p) => p.finally(() => settled++)));
    try {
      // Both wait: the first on the insert, the second on the advisory lock (without it, on the insert after its own read).
      const deadline = Date.now() + 3_000;
      let waiting = 0;
      while ((waiting = await waitingOnLocks()) < 2 && settled === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect([waiting, settled]).toEqual([2, 0]);
    } finally {
      release();
      await holder;
    }
    const outcomes = await results;
    expect(outcomes.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(outcomes.find((o) => o.status === "rejected")).toMatchObject({ reason: { code: "over_cap", extra: { window: "target", cap: { used: 5_000, left: 0 } } } });
    const rows = await db().selectFrom("cap_usage").select("amount").where("staff_id", "=", "stf_caps_paused").execute();
    expect(rows.map((r) => Number(r.amount))).toEqual([5_000]);
  });

  it("gives no cap where none applies: uncapped actions, and a role that may not do the action whatever an old override row says", async () => {
    expect(await capFor(db(), "user.block", "admin")).toBeNull();
    expect(await windowCapFor(db(), "user.block", "admin", "day")).toBeNull();
    expect([...(await capsForRole(db(), "support_read_only")).keys()]).toEqual([]);
    expect([...(await capsForRole(db(), "support_full")).keys()].sort()).toEqual([...capped].sort());
    // A row left from before the action's minimum role was raised (the API refuses to write one now).
    await db().insertInto("panel_caps").values({ action: "billing.credit_apply", panel_role: "support_read_only", max_value: 100, scope: "request", updated_by: AGENT.admin.id, updated_at: h.deps.clock.now() }).execute();
    try {
      expect(await capFor(db(), "billing.credit_apply", "support_read_only")).toEqual({ field: "amountCents", unit: "cents", limit: 0 });
      expect((await capsForRole(db(), "support_read_only")).has("billing.credit_apply")).toBe(false);
    } finally {
      await db().deleteFrom("panel_caps").where("panel_role", "=", "support_read_only").execute();
    }
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
