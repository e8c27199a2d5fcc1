import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { verifySessionToken } from "../../src/auth/sessionToken.js";
import { embedSession } from "../../src/routes/session/sidebarPage.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, authTestDeps, rowCounts, zafToken, type TestDeps } from "./helpers.js";

const INDEX = `<!doctype html><html><head><meta charset="utf-8"><script type="module" src="/app/assets/index.js"></script></HEAD><body><div id="root"></div></body></html>`;
const QUERY = "?origin=https%3A%2F%2Fsteward-demo.zendesk.com&app_guid=7f1c0a4e-2b1d-4c55-9a1e-0d6f2f3b9c11";

describe.each(databaseKinds)("the sidebar page on %s", (kind) => {
  let deps: TestDeps;
  let app: ReturnType<typeof createApp>;
  let dist: string;

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), "steward-dist-"));
    mkdirSync(join(dist, "assets"));
    writeFileSync(join(dist, "index.html"), INDEX);
    writeFileSync(join(dist, "assets", "index.js"), "console.log('steward')");
    deps = await authTestDeps(kind, { APP_DIST_DIR: dist });
    app = createApp(deps);
  });
  afterAll(async () => {
    await deps.database.close();
    rmSync(dist, { recursive: true, force: true });
  });

  it("serves the built app with the session embedded when Zendesk posts a valid token, at the same URL", async () => {
    const token = await zafToken(deps, { zendeskUserId: AGENT.operations.zendeskUserId, ticketId: "1001" });
    const res = await request(app).post(`/app${QUERY}`).type("form").send({ token }).redirects(0).expect(200);
    expect(res.headers["content-type"]).toContain("text/html");
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.headers["content-security-policy"]).toContain("frame-ancestors");
    const session = /<meta name="steward-session" content="([^"]+)">/.exec(res.text)?.[1];
    const expires = /<meta name="steward-session-expires" content="([^"]+)">/.exec(res.text)?.[1];
    expect(session).toBeDefined();
    expect(new Date(expires ?? "").getTime()).toBeGreaterThan(deps.clock.now().getTime());
    // Inserted before </head>, the rest of the page untouched.
    expect(res.text.indexOf("steward-session")).toBeLessThan(res.text.indexOf("</HEAD>"));
    expect(res.text.replace(/<meta name="steward-[^>]*>\n/g, "")).toBe(INDEX);
    // The sidebar's patience with Steward, from the configuration (defaults here).
    expect(res.text).toContain('<meta name="steward-request-timeout-ms" content="15000">');
    expect(res.text).toContain('<meta name="steward-stale-after-ms" content="60000">');
    // The embedded session is a real one for that agent.
    const claims = await verifySessionToken(session ?? "", deps);
    expect(claims).toMatchObject({ staffId: AGENT.operations.id, zendeskUserId: AGENT.operations.zendeskUserId });
    const me = await request(app).get("/api/session").set("Authorization", `Bearer ${session}`).expect(200);
    expect(me.body.staff.panelRole).toBe("operations");
  });

  it("answers at the URL Zendesk used: query string untouched, assets under /app/assets", async () => {
    const token = await zafToken(deps, { zendeskUserId: AGENT.support.zendeskUserId });
    const res = await request(app).post(`/app${QUERY}&extra=1`).type("form").send({ token, other: "ignored" }).redirects(0);
    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    const asset = await request(app).get("/app/assets/index.js").expect(200);
    expect(asset.text).toBe("console.log('steward')");
    await request(app).get("/app/assets/missing.js").expect(404);
  });

  it("refuses a bad token: 401 page for the browser, problem+json for API clients; nothing written", async () => {
    const before = await rowCounts(deps);
    const expired = await zafToken(deps, { zendeskUserId: "660001", ttlSeconds: -120 });
    const page = await request(app).post(`/app${QUERY}`).set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8").type("form").send({ token: expired }).expect(401);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.text).toContain("Not signed in");
    expect(page.text).not.toContain("steward-session");
    const api = await request(app).post(`/app${QUERY}`).type("form").send({ token: "garbage" }).expect(401);
    expect(api.body).toMatchObject({ code: "zaf_token_malformed" });
    expect(await rowCounts(deps)).toEqual(before);
  });

  it("GET /app (opened outside Zendesk) explains itself with a 401 page", async () => {
    const res = await request(app).get(`/app${QUERY}`).set("Accept", "text/html").expect(401);
    expect(res.text).toContain("opens from Zendesk");
    expect(res.text).toContain("/zendesk");
    const api = await request(app).get("/app").expect(401);
    expect(api.body.code).toBe("zaf_token_missing");
  });

  it("answers 503 telling to build the app when the dist is missing, before writing anything", async () => {
    const unbuilt = { ...deps, config: { ...deps.config, APP_DIST_DIR: join(dist, "nope") } };
    const before = await rowCounts(deps);
    const res = await request(createApp(unbuilt))
      .post("/app")
      .type("form")
      .send({ token: await zafToken(deps, { zendeskUserId: "660002" }) })
      .expect(503);
    expect(res.body).toMatchObject({ code: "app_not_built" });
    expect(res.body.detail).toContain("npm run build:app");
    expect(await rowCounts(deps)).toEqual(before);
  });
});

describe("embedSession", () => {
  it("escapes what it embeds and works without a head", () => {
    const html = embedSession("<html><head></head></html>", { token: `a"b<c>&'`, expiresAt: "2026-01-01T00:00:00.000Z" });
    expect(html).toContain(`content="a&quot;b&lt;c&gt;&amp;&#39;"`);
    expect(embedSession("<p>x</p>", { token: "t", expiresAt: "e" })).toMatch(/^<meta name="steward-session" content="t">/);
  });
});
