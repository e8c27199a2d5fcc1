import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import express from "express";
import { createApp } from "../../src/app.js";
import { securityHeaders } from "../../src/http/securityHeaders.js";
import { AGENT, authTestDeps, sessionFor, type TestDeps } from "../auth/helpers.js";

describe("security headers", () => {
  let deps: TestDeps;
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    deps = await authTestDeps("pglite", { ZENDESK_SUBDOMAIN: "acme", PUBLIC_URL: "https://steward.acme.test" });
    app = createApp(deps);
  }, 180_000);
  afterAll(() => deps.database.close());

  it("the sidebar page: scripts from self only, framed only by the configured Zendesk (and the local page in demo)", async () => {
    const res = await request(app).get("/app").set("Accept", "text/html");
    const csp = res.headers["content-security-policy"] as string;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(csp).toContain("frame-ancestors 'self' https://acme.zendesk.com http://localhost:* http://127.0.0.1:*");
    expect(csp).toContain("object-src 'none'");
    expect(res.headers["x-frame-options"]).toBeUndefined();
    // Production mode: the same middleware, outside demo (a full production app needs the real app key).
    const production = express().use(securityHeaders({ ...deps.config, demo: false }), (_req, res) => void res.send("ok"));
    const prod = await request(production).get("/app");
    expect(prod.headers["content-security-policy"]).toContain("frame-ancestors https://acme.zendesk.com;");
    expect(prod.headers["content-security-policy"]).toContain("frame-src 'none'");
  });

  it("nosniff, no referrer, HSTS behind https only", async () => {
    const res = await request(app).get("/healthz");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
    expect(res.headers["strict-transport-security"]).toMatch(/max-age=31536000/);
    const plain = createApp({ ...deps, config: { ...deps.config, publicUrl: "http://127.0.0.1:3000" } });
    const local = await request(plain).get("/healthz");
    expect(local.headers["strict-transport-security"]).toBeUndefined();
    expect(local.headers["content-security-policy"]).not.toContain("upgrade-insecure-requests");
  });

  it("no-store on every response carrying customer or session data", async () => {
    const token = await sessionFor(app, deps, AGENT.support.zendeskUserId);
    const auth = { Authorization: `Bearer ${token}` };
    for (const [method, path] of [
      ["get", "/api/session"],
      ["get", "/api/context?email=nobody@example.com"],
      ["get", "/api/search?q=acme"],
      ["get", "/api/audit"],
      ["post", "/api/session/renew"],
    ] as const) {
      const res = await request(app)[method](path).set(auth);
      expect([path, res.headers["cache-control"]]).toEqual([path, "no-store"]);
    }
    const session = await request(app).post("/api/session").send({ token: "x" });
    expect(session.headers["cache-control"]).toBe("no-store");
  });
});
