import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { databaseKinds } from "../support/databases.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { lookupTestDeps, sessionFor, SETUP_TIMEOUT_MS, type TestDeps } from "../lookup/fixtures.js";

const AGENT = { support: DEMO_AGENTS[1], admin: DEMO_AGENTS[3] } as const;

/**
 * The lookup routes authorise from a per-process staff cache; their audit entry checks the row is still
 * current (migration 029). Two apps on one database stand for two Steward processes: a change made
 * through one applies to the other's very next lookup, though the other's cache still holds the old row.
 */
describe.each(databaseKinds)("staff cache on the lookup routes on %s", (kind) => {
  let deps: TestDeps;
  let first: ReturnType<typeof createApp>;
  let second: ReturnType<typeof createApp>;
  let admin: string;

  beforeAll(async () => {
    deps = await lookupTestDeps(kind);
    first = createApp(deps);
    second = createApp(deps);
    admin = await sessionFor(second, deps, AGENT.admin.zendeskUserId);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await deps.database.close();
  });

  const context = (token: string) => request(first).get("/api/context").query({ email: "x@example.test", userId: "usr_demo_002_1" }).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", "1002");
  const search = (token: string) => request(first).get("/api/search").query({ q: "acme" }).set("Authorization", `Bearer ${token}`);
  const patchStaff = (id: string, body: object) => request(second).patch(`/api/staff/${id}`).set("Authorization", `Bearer ${admin}`).send(body);
  const lastEntry = (staffId: string, action: string) =>
    deps.database.db.selectFrom("audit_log").select(["actor_role", "outcome", "seq"]).where("actor_staff_id", "=", staffId).where("action", "=", action as never).orderBy("seq", "desc").limit(1).executeTakeFirst();

  it("a role changed in another process is the role the next cached lookup is recorded with", async () => {
    const staff = await request(second).post("/api/staff").set("Authorization", `Bearer ${admin}`).send({ zendeskUserId: "660001", panelRole: "support_read_only", reason: "new hire" });
    expect(staff.status, JSON.stringify(staff.body)).toBe(200);
    const id = staff.body.id as string;
    const token = await sessionFor(first, deps, "660001");
    // Twice, so the second one is answered from the cache.
    expect((await context(token)).status).toBe(200);
    expect((await context(token)).status).toBe(200);
    expect((await lastEntry(id, "context.view"))?.actor_role).toBe("support_read_only");

    expect((await patchStaff(id, { panelRole: "operations", reason: "moved to ops" })).status).toBe(200);
    const res = await context(token);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await lastEntry(id, "context.view"))?.actor_role).toBe("operations");
    expect((await search(token)).status).toBe(200);
    expect((await lastEntry(id, "search.run"))?.actor_role).toBe("operations");
  });

  it("a deactivation in another process refuses the next cached lookup, and writes no lookup entry for it", async () => {
    const staff = await request(second).post("/api/staff").set("Authorization", `Bearer ${admin}`).send({ zendeskUserId: "660002", panelRole: "support_full", reason: "new hire" });
    const id = staff.body.id as string;
    const token = await sessionFor(first, deps, "660002");
    expect((await search(token)).status).toBe(200);
    expect((await context(token)).status).toBe(200);
    const before = await lastEntry(id, "context.view");

    expect((await patchStaff(id, { active: false, reason: "left the team" })).status).toBe(200);
    const refused = await context(token);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("staff_inactive");
    expect((await search(token)).body.code).toBe("staff_inactive");
    expect((await lastEntry(id, "context.view"))?.seq).toBe(before?.seq);
    expect(await lastEntry(id, "search.run")).toMatchObject({ outcome: "succeeded" });
    const searches = await deps.database.db.selectFrom("audit_log").select("seq").where("actor_staff_id", "=", id).where("action", "=", "search.run").execute();
    expect(searches).toHaveLength(1);

    // Access given back in another process applies to the very next lookup: a refused row is never kept to refuse from.
    expect((await patchStaff(id, { active: true, reason: "came back" })).status).toBe(200);
    expect((await context(token)).status).toBe(200);
    expect((await search(token)).status).toBe(200);
  });

  it("a role changed by direct SQL that leaves updated_at alone is caught too: the guard compares the role", async () => {
    const token = await sessionFor(first, deps, AGENT.support.zendeskUserId);
    expect((await context(token)).status).toBe(200);
    expect((await context(token)).status).toBe(200);
    await deps.database.db.updateTable("staff").set({ panel_role: "operations" }).where("id", "=", AGENT.support.id).execute();
    try {
      expect((await context(token)).status).toBe(200);
      expect((await lastEntry(AGENT.support.id, "context.view"))?.actor_role).toBe("operations");
    } finally {
      await deps.database.db.updateTable("staff").set({ panel_role: "support_full" }).where("id", "=", AGENT.support.id).execute();
    }
  });
});
