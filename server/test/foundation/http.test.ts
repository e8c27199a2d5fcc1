import { Router } from "express";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createApp } from "../../src/app.js";
import type { AppDeps } from "../../src/deps.js";
import { route } from "../../src/http/route.js";
import { startServer } from "../../src/server.js";
import { createTestDeps } from "../support/databases.js";

describe("service skeleton", () => {
  let deps: AppDeps;
  beforeAll(async () => {
    deps = await createTestDeps("pglite");
  });
  afterAll(async () => {
    await deps.database.close().catch(() => undefined);
  });

  const probe = Router();
  route(
    probe,
    {
      method: "post",
      path: "/test/probe/:widgetId",
      summary: "test-only route",
      authenticated: false,
      params: z.object({ widgetId: z.string().regex(/^w_\d+$/, "expected w_ followed by digits") }),
      body: z.object({ name: z.string().min(2, "at least 2 characters"), count: z.number().int().positive() }),
    },
    ({ params, body }) => ({ id: params.widgetId, ...body }),
  );

  it("answers bad input with problem+json listing each field and why", async () => {
    const app = createApp(deps, { extend: (a) => a.use(probe) });
    const res = await request(app).post("/test/probe/nope").set("X-Request-Id", "req-123").send({ name: "x", count: -1 }).expect(400);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: expect.stringContaining("invalid-request"), title: "Invalid request", status: 400, requestId: "req-123" });
    // Each field error says why in English and as a code with its bounds, for clients that word it themselves.
    expect(res.body.errors).toEqual([{ field: "params.widgetId", reason: "expected w_ followed by digits", code: "invalid_format", params: {} }]);

    const body = await request(app).post("/test/probe/w_1").send({ name: "x", count: -1 }).expect(400);
    expect(body.body.errors).toEqual([
      { field: "body.name", reason: "at least 2 characters", code: "too_small_string", params: { minimum: 2 } },
      { field: "body.count", reason: expect.stringMatching(/>0|positive|greater/i), code: "too_small_number_exclusive", params: { minimum: 0 } },
    ]);
    const missing = await request(app).post("/test/probe/w_1").send({ name: "ok", count: 1.5, extra: true }).expect(400);
    expect(missing.body.errors).toEqual([{ field: "body.count", reason: expect.any(String), code: "invalid_type_int", params: {} }]);
    const absent = await request(app).post("/test/probe/w_1").send({ count: 1 }).expect(400);
    expect(absent.body.errors).toEqual([{ field: "body.name", reason: expect.any(String), code: "required", params: {} }]);
    await request(app).post("/test/probe/w_1").send({ name: "ok", count: 2 }).expect(200, { id: "w_1", name: "ok", count: 2 });
  });

  it("answers malformed JSON and unknown routes with problem+json", async () => {
    const app = createApp(deps);
    const bad = await request(app).post("/api/anything").set("Content-Type", "application/json").send("{not json").expect(400);
    expect(bad.body).toMatchObject({ status: 400, errors: [{ field: "body", reason: "malformed JSON" }] });
    const missing = await request(app).get("/nowhere").expect(404);
    expect(missing.body).toMatchObject({ status: 404, code: "not_found" });
    expect(missing.body.requestId).toBe(missing.headers["x-request-id"]);
  });

  it("serves an OpenAPI document generated from the route schemas", async () => {
    const app = createApp(deps, { extend: (a) => a.use(probe) });
    const res = await request(app).get("/api/openapi.json").expect(200);
    expect(res.body.openapi).toBe("3.1.0");
    const op = res.body.paths["/test/probe/{widgetId}"].post;
    expect(op.requestBody.content["application/json"].schema.required).toEqual(["name", "count"]);
    expect(op.parameters[0]).toMatchObject({ name: "widgetId", in: "path", required: true });
    expect(op.responses["400"]).toBeDefined();
    expect(res.body.paths["/healthz"].get.summary).toBe("The process is up");
  });

  it("drains an in-flight request on shutdown, refuses new ones, then closes the database", async () => {
    const own = await createTestDeps("pglite");
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inFlight = new Promise<void>((r) => (entered = r));
    const running = await startServer(own, {
      port: 0,
      host: "127.0.0.1",
      extend: (a) =>
        a.get("/test/slow", async (_req, res) => {
          entered();
          await gate;
          res.json({ finished: true });
        }),
    });
    const base = `http://127.0.0.1:${running.port}`;
    const slow = fetch(`${base}/test/slow`).then(async (r) => ({ status: r.status, body: await r.json() }));
    await inFlight;
    const closing = running.close();
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    release();
    expect(await slow).toEqual({ status: 200, body: { finished: true } });
    await closing;
    await expect(own.database.db.selectFrom("accounts").selectAll().execute()).rejects.toThrow();
  });
});
