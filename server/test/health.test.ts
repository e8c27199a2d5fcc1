import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.js";
import type { AppDeps } from "../src/deps.js";
import { createTestDeps, databaseKinds } from "./support/databases.js";

describe.each(databaseKinds)("health on %s", (kind) => {
  let deps: AppDeps;
  beforeAll(async () => {
    deps = await createTestDeps(kind);
  });
  afterAll(async () => {
    await deps.database.close();
  });

  it("answers /healthz and /readyz", async () => {
    const app = createApp(deps);
    await request(app).get("/healthz").expect(200, { status: "ok" });
    const ready = await request(app).get("/readyz").expect(200);
    expect(ready.body).toEqual({ status: "ready", database: kind });
    expect(ready.headers["x-request-id"]).toMatch(/.+/);
  });

  it("reports 503 problem+json when the database is gone", async () => {
    const other = await createTestDeps(kind);
    const app = createApp(other);
    await other.database.close();
    const res = await request(app).get("/readyz").expect(503);
    expect(res.headers["content-type"]).toContain("application/problem+json");
    expect(res.body).toMatchObject({ status: 503, code: "database_unavailable" });
  });
});
