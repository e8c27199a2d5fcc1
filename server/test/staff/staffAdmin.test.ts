import { sql } from "kysely";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { changeStaffRole } from "../../src/staff/changeStaffRole.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, authTestDeps, rowCounts, sessionFor, type TestDeps } from "../auth/helpers.js";

describe.each(databaseKinds)("staff administration on %s", (kind) => {
  let deps: TestDeps;
  let app: ReturnType<typeof createApp>;
  let admin: string;
  let support: string;

  beforeAll(async () => {
    deps = await authTestDeps(kind);
    app = createApp(deps);
    admin = await sessionFor(app, deps, AGENT.admin.zendeskUserId);
    support = await sessionFor(app, deps, AGENT.support.zendeskUserId);
  });
  afterAll(async () => {
    await deps.database.close();
  });

  const as = (token: string) => ({
    get: (path: string) => request(app).get(path).set("Authorization", `Bearer ${token}`),
    post: (path: string, body: object) => request(app).post(path).set("Authorization", `Bearer ${token}`).send(body),
    patch: (path: string, body: object) => request(app).patch(path).set("Authorization", `Bearer ${token}`).send(body),
  });
  const auditOf = (requestId: string) => deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", requestId).orderBy("seq").execute();
  const requestIdOf = (res: request.Response) => String(res.headers["x-request-id"]);

  it("lists staff for admins only", async () => {
    const res = await as(admin).get("/api/staff").expect(200);
    expect(res.body.staff.map((s: { zendeskUserId: string }) => s.zendeskUserId)).toEqual(expect.arrayContaining(["9001", "9002", "9003", "9004"]));
    expect(res.body.staff[0]).toMatchObject({ id: expect.any(String), panelRole: expect.any(String), active: true, createdAt: expect.any(String) });
    await as(support).get("/api/staff").expect(403);
  });

  it("adds a Zendesk agent as staff (staff.grant, before null) and refuses a change without a reason", async () => {
    const bad = await as(admin).post("/api/staff", { zendeskUserId: "550001", panelRole: "support_full" }).expect(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: "body.reason" })]);
    const res = await as(admin).post("/api/staff", { zendeskUserId: "550001", email: "kim@steward-demo.test", name: "Kim", panelRole: "support_full", reason: "joined tier 2", ticketId: "1004" }).expect(200);
    expect(res.body).toMatchObject({ zendeskUserId: "550001", panelRole: "support_full", active: true, email: "kim@steward-demo.test" });
    const [entry] = await auditOf(requestIdOf(res));
    expect(entry).toMatchObject({ action: "staff.grant", outcome: "succeeded", actor_staff_id: AGENT.admin.id, target_type: "staff", target_id: res.body.id, ticket_id: "1004", reason: "joined tier 2", before: null });
    expect(entry?.after).toMatchObject({ panelRole: "support_full", active: true, zendeskUserId: "550001" });
  });

  it("changes a role with before/after in the audit, applied to the member's next request; no-ops write nothing", async () => {
    const staff = (await as(admin).post("/api/staff", { zendeskUserId: "550002", panelRole: "support_read_only", reason: "new hire" }).expect(200)).body;
    const theirs = await sessionFor(app, deps, "550002");
    await as(theirs).get("/api/staff").expect(403);
    const res = await as(admin).patch(`/api/staff/${staff.id}`, { panelRole: "admin", reason: "team lead now" }).expect(200);
    expect(res.body.panelRole).toBe("admin");
    const [entry] = await auditOf(requestIdOf(res));
    expect(entry).toMatchObject({ action: "staff.grant", before: expect.objectContaining({ panelRole: "support_read_only" }), after: expect.objectContaining({ panelRole: "admin" }) });
    // Same session, next request: the new role applies.
    await as(theirs).get("/api/staff").expect(200);

    const before = await rowCounts(deps);
    await as(admin).patch(`/api/staff/${staff.id}`, { panelRole: "admin", reason: "again" }).expect(200);
    expect(await rowCounts(deps)).toEqual(before);
    await as(admin).patch(`/api/staff/${staff.id}`, { panelRole: "support_read_only", reason: "back to read only" }).expect(200);
    await as(theirs).get("/api/staff").expect(403);
  });

  it("deactivates (staff.deactivate) and reactivates (staff.grant); the member's session stops at once", async () => {
    const staff = (await as(admin).post("/api/staff", { zendeskUserId: "550003", panelRole: "support_full", reason: "new hire" }).expect(200)).body;
    const theirs = await sessionFor(app, deps, "550003");
    await as(theirs).get("/api/session").expect(200);
    const off = await as(admin).patch(`/api/staff/${staff.id}`, { active: false, reason: "left the company", ticketId: "1006" }).expect(200);
    expect(off.body.active).toBe(false);
    expect(await auditOf(requestIdOf(off))).toEqual([
      expect.objectContaining({ action: "staff.deactivate", ticket_id: "1006", before: expect.objectContaining({ active: true }), after: expect.objectContaining({ active: false }) }),
    ]);
    expect((await as(theirs).get("/api/session").expect(403)).body.code).toBe("staff_inactive");
    const on = await as(admin).patch(`/api/staff/${staff.id}`, { active: true, panelRole: "operations", reason: "came back" }).expect(200);
    expect(on.body).toMatchObject({ active: true, panelRole: "operations" });
    expect((await auditOf(requestIdOf(on))).map((e) => e.action)).toEqual(["staff.grant", "staff.grant"]);
    expect((await as(theirs).get("/api/session").expect(200)).body.staff.panelRole).toBe("operations");
  });

  it("audits a non-admin's attempt under the action tried", async () => {
    const target = AGENT.readOnly.id;
    const deactivate = await as(support).patch(`/api/staff/${target}`, { active: false, reason: "trying" }).expect(403);
    expect(deactivate.body).toMatchObject({ action: "staff.deactivate", requiredRole: "admin" });
    expect(await auditOf(requestIdOf(deactivate))).toEqual([expect.objectContaining({ action: "staff.deactivate", outcome: "denied", target_id: target })]);
    const grant = await as(support).patch(`/api/staff/${target}`, { panelRole: "admin", reason: "trying" }).expect(403);
    expect(await auditOf(requestIdOf(grant))).toEqual([expect.objectContaining({ action: "staff.grant", outcome: "denied" })]);
  });

  it("answers 404 for an unknown member and 400 for an empty change", async () => {
    await as(admin).patch("/api/staff/stf_nobody", { panelRole: "admin", reason: "who?" }).expect(404);
    const empty = await as(admin).patch(`/api/staff/${AGENT.readOnly.id}`, { reason: "nothing" }).expect(400);
    expect(empty.body.errors[0].field).toBe("body.panelRole");
  });

  it("never removes the last active admin (demotion or deactivation): 409, nothing written", async () => {
    const db = deps.database.db;
    // Leave exactly one active admin: the demo admin.
    await db.updateTable("staff").set({ panel_role: "support_full" }).where("panel_role", "=", "admin").where("id", "<>", AGENT.admin.id).execute();
    const before = await rowCounts(deps);
    const demote = await as(admin).patch(`/api/staff/${AGENT.admin.id}`, { panelRole: "operations", reason: "stepping down" }).expect(409);
    expect(demote.body.code).toBe("last_admin");
    const deactivate = await as(admin).patch(`/api/staff/${AGENT.admin.id}`, { active: false, reason: "leaving" }).expect(409);
    expect(deactivate.body.code).toBe("last_admin");
    expect(await rowCounts(deps)).toEqual(before);
    // An inactive admin does not count.
    await db.updateTable("staff").set({ panel_role: "admin", active: false }).where("id", "=", AGENT.operations.id).execute();
    await as(admin).patch(`/api/staff/${AGENT.admin.id}`, { panelRole: "operations", reason: "stepping down" }).expect(409);
    await db.updateTable("staff").set({ panel_role: "operations", active: true }).where("id", "=", AGENT.operations.id).execute();
  });

  it("re-checks the acting admin inside the transaction (a demotion committed after authentication counts)", async () => {
    const staleAdmin = { kind: "staff" as const, staffId: AGENT.operations.id, zendeskUserId: AGENT.operations.zendeskUserId, email: null, name: null, panelRole: "admin" as const };
    const before = await rowCounts(deps);
    await expect(
      deps.database.db.transaction().execute((trx) =>
        changeStaffRole(trx, deps.clock, { actor: staleAdmin, target: { staffId: AGENT.readOnly.id }, panelRole: "admin", reason: "stale", ticketId: null }),
      ),
    ).rejects.toMatchObject({ status: 403, code: "action_not_allowed" });
    expect(await rowCounts(deps)).toEqual(before);
  });

  it("an agent's first visit committing while an admin adds them: the grant applies to the row the visit made, not a 500", async () => {
    // PGlite runs one transaction at a time, so the two cannot interleave there.
    if (kind !== "postgres") return;
    const { db } = deps.database;
    const now = deps.clock.now();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const rowMade = new Promise<void>((resolve) => (inserted = resolve));
    // What staffForAgent does on a first visit: the row, then its audit entry, then commit.
    const firstVisit = db.transaction().execute(async (trx) => {
      await trx.insertInto("staff").values({ id: "stf_first_visit_race", zendesk_user_id: "550077", email: null, name: "Racer", panel_role: "support_read_only", created_at: now, updated_at: now }).execute();
      inserted();
      await held;
    });
    await rowMade;
    const grant = as(admin).post("/api/staff", { zendeskUserId: "550077", panelRole: "support_full", reason: "promote on arrival" }).then((res) => res);
    // The admin's insert waits on the visit's uncommitted row (same Zendesk user) before the visit commits.
    for (let waited = 0; ; waited += 20) {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(db);
      if ((rows[0]?.n ?? 0) > 0) break;
      if (waited > 10_000) throw new Error("the grant never waited on the first visit");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    release();
    await firstVisit;
    const res = await grant;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ id: "stf_first_visit_race", zendeskUserId: "550077", panelRole: "support_full" });
    const [entry] = await auditOf(requestIdOf(res));
    expect(entry).toMatchObject({ action: "staff.grant", target_id: "stf_first_visit_race", before: expect.objectContaining({ panelRole: "support_read_only" }), after: expect.objectContaining({ panelRole: "support_full" }) });
  });

  it("two admins removing each other at the same time leave one admin", async () => {
    const second = (await as(admin).post("/api/staff", { zendeskUserId: "550009", panelRole: "admin", reason: "second admin" }).expect(200)).body;
    const secondSession = await sessionFor(app, deps, "550009");
    const [a, b] = await Promise.all([
      as(admin).patch(`/api/staff/${second.id}`, { panelRole: "support_full", reason: "race" }),
      as(secondSession).patch(`/api/staff/${AGENT.admin.id}`, { panelRole: "support_full", reason: "race" }),
    ]);
    // The loser is refused either as no longer admin (403) or as the last admin (409), depending on timing.
    const [won, lost] = [a.status, b.status].sort();
    expect(won).toBe(200);
    expect([403, 409]).toContain(lost);
    const admins = await deps.database.db.selectFrom("staff").select("id").where("panel_role", "=", "admin").where("active", "=", true).execute();
    expect(admins).toHaveLength(1);
    // Restore the demo admin for any later test.
    if (admins[0]?.id !== AGENT.admin.id) await deps.database.db.updateTable("staff").set({ panel_role: "admin" }).where("id", "=", AGENT.admin.id).execute();
  });
});
