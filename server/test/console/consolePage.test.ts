import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { verifySessionToken } from "../../src/auth/sessionToken.js";
import { HOOK_TIMEOUT } from "../audit/fixtures.js";
import { AGENT, authTestDeps, zafToken, type TestDeps } from "../auth/helpers.js";
import { databaseKinds } from "../support/databases.js";

const CONSOLE = `<!doctype html><html><head><meta charset="utf-8"><script type="module" src="/app/assets/console.js"></script></head><body><div id="steward-console"></div></body></html>`;
const QUERY = "?origin=https%3A%2F%2Fsteward-demo.zendesk.com&app_guid=5d2c1b7e-0a1f-4e3b-8c2d-9e8f7a6b5c4d";

/** The console's nav_bar location: signed like the sidebar, at its own URL, with its own page. */
describe.each(databaseKinds)("the console page on %s", (kind) => {
  let deps: TestDeps;
  let app: ReturnType<typeof createApp>;
  let dist: string;

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), "steward-console-dist-"));
    mkdirSync(join(dist, "assets"));
    writeFileSync(join(dist, "console.html"), CONSOLE);
    deps = await authTestDeps(kind, { APP_DIST_DIR: dist });
    app = createApp(deps);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await deps?.database.close();
    rmSync(dist, { recursive: true, force: true });
  }, HOOK_TIMEOUT);

  it("serves console.html with a session for the agent when Zendesk posts a nav_bar token", async () => {
    const token = await zafToken(deps, { zendeskUserId: AGENT.operations.zendeskUserId, location: "nav_bar" });
    const res = await request(app).post(`/console${QUERY}`).type("form").send({ token }).redirects(0).expect(200);
    expect(res.headers["content-security-policy"]).toContain("frame-ancestors");
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.text).toContain('<div id="steward-console">');
    const session = /<meta name="steward-session" content="([^"]+)">/.exec(res.text)?.[1];
    expect(await verifySessionToken(session ?? "", deps)).toMatchObject({ staffId: AGENT.operations.id });
  });

  it("refuses a page opened without Zendesk, a bad token and a replayed one", async () => {
    const missing = await request(app).get("/console").set("Accept", "text/html").expect(401);
    expect(missing.text).toContain("navigation bar");
    await request(app).post("/console").type("form").send({ token: "not.a.jwt" }).set("Accept", "application/json").expect(401);
    const token = await zafToken(deps, { zendeskUserId: AGENT.support.zendeskUserId, location: "nav_bar" });
    await request(app).post(`/console${QUERY}`).type("form").send({ token }).expect(200);
    const replay = await request(app).post(`/console${QUERY}`).type("form").send({ token }).set("Accept", "application/json").expect(401);
    expect(replay.body.code).toMatch(/^zaf_token_/);
  });

  it("answers 503 when the console is not built", async () => {
    rmSync(join(dist, "console.html"));
    const token = await zafToken(deps, { zendeskUserId: AGENT.admin.zendeskUserId, location: "nav_bar" });
    const res = await request(app).post(`/console${QUERY}`).type("form").send({ token }).set("Accept", "application/json").expect(503);
    expect(res.body.code).toBe("app_not_built");
    writeFileSync(join(dist, "console.html"), CONSOLE);
  });
});
