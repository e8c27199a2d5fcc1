import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actionNames, actionRules, type ActionName } from "../../../shared/actions.js";
import { panelRoles, type PanelRole } from "../../../shared/roles.js";
import { supportActionNames } from "../../../shared/schemas/actions.js";
import { createApp } from "../../src/app.js";
import { systemActor } from "../../src/actor.js";
import { guard } from "../../src/auth/authorize.js";
import { checkCap } from "../../src/auth/permissions.js";
import { StaffCache } from "../../src/auth/staffCache.js";
import { commands } from "../../src/commands/registry.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, authTestDeps, sessionFor, type TestDeps } from "./helpers.js";

/** The panel hierarchy spelled out independently of shared/roles.ts. */
const RANK: Record<PanelRole, number> = { support_read_only: 0, support_full: 1, operations: 2, admin: 3 };
function expectedAllowed(action: ActionName, role: PanelRole): boolean {
  const min = actionRules[action].minRole;
  return min !== "system" && RANK[role] >= RANK[min];
}

const matrix = actionNames.flatMap((action) => panelRoles.map((role) => [action, role] as const));

describe("the permission table", () => {
  it("covers the whole table: every action in shared/actions.ts, every panel role", () => {
    // Every support action with an input schema, and every command that can run, has a rule in the table.
    const inTable = new Set<string>(actionNames);
    expect(supportActionNames.filter((a) => !inTable.has(a))).toEqual([]);
    expect([...commands.keys()].filter((a) => !inTable.has(a))).toEqual([]);
    expect(supportActionNames.length).toBeGreaterThan(20);
    expect([...panelRoles].sort()).toEqual(Object.keys(RANK).sort());
    expect(new Set(matrix.map(([action, role]) => `${action}/${role}`)).size).toBe(Object.keys(actionRules).length * Object.keys(RANK).length);
  });

});

describe.each(databaseKinds)("authorize over HTTP with real sessions on %s", (kind) => {
  let deps: TestDeps;
  let app: ReturnType<typeof createApp>;
  const sessions = {} as Record<PanelRole, string>;
  const staffIds: Record<PanelRole, string> = { support_read_only: AGENT.readOnly.id, support_full: AGENT.support.id, operations: AGENT.operations.id, admin: AGENT.admin.id };

  beforeAll(async () => {
    deps = await authTestDeps(kind);
    app = createApp(deps, {
      extend: (a) => {
        for (const action of actionNames) a.post(`/test/guarded/${action}`, ...guard(deps, action), (req, res) => void res.json({ action, role: req.actor?.panelRole }));
        // The guard as the lookup routes use it (cached staff rows), on an action no lookup route has yet: one a role may be refused.
        const cached = { ...deps, staffCache: new StaffCache() };
        a.get("/test/cached/staff.list", ...guard(cached, "staff.list", { cachedStaff: true }), (req, res) => void res.json({ role: req.actor?.panelRole }));
      },
    });
    for (const agent of [AGENT.readOnly, AGENT.support, AGENT.operations, AGENT.admin]) sessions[agent.role] = await sessionFor(app, deps, agent.zendeskUserId);
  });
  afterAll(async () => {
    await deps.database.close();
  });

  it("allows or refuses every action for every role as the table says; each refusal is a 403 naming action and role, audited as denied", async () => {
    let denied = 0;
    for (const [action, role] of matrix) {
      const requestId = `perm-${kind}-${action}-${role}`;
      const res = await request(app)
        .post(`/test/guarded/${action}`)
        .set("Authorization", `Bearer ${sessions[role]}`)
        .set("X-Request-Id", requestId)
        .send({ ticketId: "1002", reason: "table test" });
      const entry = await deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", requestId).executeTakeFirst();
      if (expectedAllowed(action, role)) {
        expect(res.status, `${action} as ${role}`).toBe(200);
        expect(res.body).toEqual({ action, role });
        expect(entry, `${action} as ${role} must not be audited as denied`).toBeUndefined();
      } else {
        denied++;
        expect(res.status, `${action} as ${role}`).toBe(403);
        expect(res.headers["content-type"]).toContain("application/problem+json");
        expect(res.body).toMatchObject({ code: "action_not_allowed", action, requiredRole: actionRules[action].minRole, panelRole: role });
        expect(res.body.detail).toContain(action);
        expect(entry, `${action} as ${role} denial audit`).toMatchObject({
          action,
          outcome: "denied",
          actor_staff_id: staffIds[role],
          actor_role: role,
          ticket_id: "1002",
          reason: "table test",
        });
        expect(entry?.error).toContain("action_not_allowed");
      }
    }
    expect(denied).toBe(matrix.filter(([a, r]) => !expectedAllowed(a, r)).length);
  });

  it("with cached staff rows: a refusal is audited once, and a promotion elsewhere is decided again on the fresh row", async () => {
    await deps.database.db.insertInto("staff").values({ id: "stf_t_promote", zendesk_user_id: "880101", email: null, name: "Promote Test", panel_role: "support_full" }).execute();
    const token = await sessionFor(app, deps, "880101");
    const deniedEntries = async (res: request.Response) =>
      (await deps.database.db.selectFrom("audit_log").select(["outcome", "actor_role"]).where("request_id", "=", String(res.headers["x-request-id"])).execute());
    // Refused from a fresh read, then from the cached row: each refusal one entry, the role not read again.
    for (let i = 0; i < 2; i++) {
      const res = await request(app).get("/test/cached/staff.list").set("Authorization", `Bearer ${token}`).expect(403);
      expect(await deniedEntries(res)).toEqual([{ outcome: "denied", actor_role: "support_full" }]);
    }
    // Promoted in another process: the cached row's refusal cannot be recorded (the row changed), so the request is
    // authorised again from a fresh read, and goes through without a denial on record.
    await deps.database.db.updateTable("staff").set({ panel_role: "admin" }).where("id", "=", "stf_t_promote").execute();
    const promoted = await request(app).get("/test/cached/staff.list").set("Authorization", `Bearer ${token}`);
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    expect(promoted.body).toEqual({ role: "admin" });
    expect(await deniedEntries(promoted)).toEqual([]);
  });

  it("checkCap: a value up to the cap passes; over it, the roles whose cap covers it exactly can approve", async () => {
    const db = deps.database.db;
    const support = { kind: "staff", staffId: AGENT.support.id, zendeskUserId: AGENT.support.zendeskUserId, email: null, name: null, panelRole: "support_full" } as const;
    await expect(checkCap(db, support, "billing.credit_apply", 5_000)).resolves.toMatchObject({ limit: 5_000 });
    const refusal = async (value: number) => checkCap(db, support, "billing.credit_apply", value).then(() => null, (err: unknown) => err);
    expect(await refusal(100_000)).toMatchObject({
      code: "over_cap",
      detail: "billing.credit_apply allows at most 5000 cents for support_full; asked for 100000",
      extra: { action: "billing.credit_apply", panelRole: "support_full", value: 100_000, cap: { field: "amountCents", limit: 5_000, unit: "cents" }, canApprove: ["operations", "admin"], approvalPossible: true },
    });
    expect(await refusal(100_001)).toMatchObject({ extra: { canApprove: [], approvalPossible: false } });
    // Steward itself has no cap.
    await expect(checkCap(db, systemActor("sweeper"), "billing.credit_apply", 10_000_000)).resolves.toBeNull();
  });

  it("audits a refusal on a real route with its target, and the ticket from X-Ticket-Id on reads", async () => {
    const res = await request(app).get("/api/staff").set("Authorization", `Bearer ${sessions.support_full}`).set("X-Ticket-Id", "1005").expect(403);
    expect(res.body).toMatchObject({ action: "staff.list", requiredRole: "admin" });
    const entry = await deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", String(res.headers["x-request-id"])).executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ action: "staff.list", outcome: "denied", target_type: "staff", ticket_id: "1005", actor_staff_id: AGENT.support.id });
    // The reason as given, trimmed and cut at 500 characters (a blank one is none); the error names code and detail.
    const refuse = async (reason: unknown) => {
      const res = await request(app).post("/test/guarded/seats.change").set("Authorization", `Bearer ${sessions.support_full}`).send({ ticketId: 1006, reason }).expect(403);
      return deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", String(res.headers["x-request-id"])).executeTakeFirstOrThrow();
    };
    expect(await refuse(`  ${"r".repeat(600)} `)).toMatchObject({
      reason: "r".repeat(500),
      ticket_id: "1006",
      error: "action_not_allowed: seats.change needs the operations panel role; you have support_full",
    });
    expect((await refuse("   ")).reason).toBeNull();
    expect((await refuse(42)).reason).toBeNull();
    // Unauthenticated calls are 401 and not audited (there is no actor to name).
    const before = await deps.database.db.selectFrom("audit_log").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    await request(app).get("/api/staff").expect(401);
    const after = await deps.database.db.selectFrom("audit_log").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });
});
