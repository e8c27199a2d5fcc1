import { generateKeyPairSync } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../server/src/app.js";
import type { AppDeps } from "../../server/src/deps.js";
import { DEMO_AGENTS } from "../../server/src/seed/demo.js";
import { createTestDeps, databaseKinds } from "../../server/test/support/databases.js";

/** The local Zendesk page's demo-only routes, through the real app on both databases. */
describe.each(databaseKinds)("the local Zendesk page on %s", (kind) => {
  let deps: AppDeps;
  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: true });
  });
  afterAll(async () => {
    await deps.database.close();
  });

  it("serves the page and its host script", async () => {
    const app = createApp(deps);
    const page = await request(app).get("/zendesk").expect(200);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.text).toContain('<iframe id="sidebar" name="steward-sidebar"');
    expect(page.text).toContain('<script src="/zendesk/host.js">');
    // Its own icon, so the browser asks for no /favicon.ico (a 404 in the console on every load).
    expect(page.text).toContain('<link rel="icon" type="image/svg+xml" href="/zendesk/icon_nav_bar.svg">');
    expect((await request(app).get("/zendesk/icon_nav_bar.svg").expect(200)).headers["content-type"]).toContain("image/svg+xml");
    const script = await request(app).get("/zendesk/host.js").expect(200);
    expect(script.headers["content-type"]).toContain("javascript");
    expect(script.text).toContain("zaf.app.registered");
  });

  it("lists the demo tickets and the four demo agents", async () => {
    const rows = await deps.database.db.selectFrom("demo_tickets").select(["id", "requester_email"]).orderBy("id").execute();
    const desk = await request(createApp(deps)).get("/zendesk/api/desk").expect(200);
    expect(desk.body.tickets.map((t: { id: number; requester: { email: string } }) => [t.id, t.requester.email])).toEqual(rows.map((r) => [r.id, r.requester_email]));
    expect(desk.body.agents.map((a: { zendeskUserId: string; role: string }) => [a.zendeskUserId, a.role])).toEqual(DEMO_AGENTS.map((a) => [a.zendeskUserId, a.role]));
  });

  it("mints a ZAF token that Steward accepts for a demo agent, and refuses other users", async () => {
    const app = createApp(deps);
    const minted = await request(app).post("/zendesk/api/zaf-token").send({ zendeskUserId: "9003", ticketId: 1004 }).expect(200);
    const session = await request(app).post("/api/session").send({ token: minted.body.token }).expect(200);
    expect(session.body.staff).toMatchObject({ zendeskUserId: "9003", panelRole: "operations" });
    const refused = await request(app).post("/zendesk/api/zaf-token").send({ zendeskUserId: "12345", ticketId: 1004 }).expect(404);
    expect(refused.headers["content-type"]).toContain("application/problem+json");
  });

  it("keeps internal notes per ticket and refuses public replies", async () => {
    const app = createApp(deps);
    const body = { ticket: { comment: { body: "Steward: Unlock sign-in for someone", public: false } } };
    const put = await request(app).put("/zendesk/api/v2/tickets/1001.json").send(body).expect(200);
    expect(put.body.ticket).toEqual({ id: 1001 });
    const notes = await request(app).get("/zendesk/api/tickets/1001/notes").expect(200);
    expect(notes.body.notes).toEqual([expect.objectContaining({ ticketId: 1001, body: body.ticket.comment.body, public: false })]);
    expect((await request(app).get("/zendesk/api/tickets/1002/notes").expect(200)).body.notes).toEqual([]);
    const refused = await request(app)
      .put("/zendesk/api/v2/tickets/1001.json")
      .send({ ticket: { comment: { body: "hello customer", public: true } } })
      .expect(400);
    expect(refused.body.errors).toEqual([{ field: "body.ticket.comment.public", reason: "must be false" }]);
  });

  it("does not exist outside demo mode", async () => {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const trust = { ZENDESK_SUBDOMAIN: "acme", zendeskIssuer: "https://acme.zendesk.com", ZAF_INSTALLATION_ID: "360001", ZAF_APP_PUBLIC_KEY: publicKey.export({ type: "spki", format: "pem" }).toString() };
    const production = createApp({ ...deps, config: { ...deps.config, ...trust, STEWARD_MODE: "production", demo: false } });
    await request(production).get("/zendesk").expect(404);
    await request(production).post("/zendesk/api/zaf-token").send({ zendeskUserId: "9002", ticketId: 1001 }).expect(404);
  });
});
