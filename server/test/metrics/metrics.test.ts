import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import express from "express";
import { createApp } from "../../src/app.js";
import { problemMiddleware } from "../../src/http/problem.js";
import { metricsRoutes } from "../../src/routes/metrics/metrics.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import { MAILER } from "../../src/mail/delivery.js";
import { enqueueMail } from "../../src/mail/outbox.js";
import { ProviderCaller } from "../../src/providers/providerCall.js";
import { ProviderError } from "../../src/providers/providerError.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";

/**
 * GET /metrics: Prometheus text with the request, provider-call, pool, unknown-operation, outbox and
 * sweep figures, read from real state; behind a bearer token when METRICS_TOKEN is set, closed in
 * production without one.
 */
const TOKEN = "metrics-token-for-tests-0123456789";

/** The value of one sample line: `name{labels} value`, labels matched in any order. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe.each(databaseKinds)("GET /metrics on %s", (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: true, env: { METRICS_TOKEN: TOKEN } });
  }, 180_000);
  afterAll(() => deps?.database.close());

  const scrape = async () => {
    const res = await request(createApp(deps)).get("/metrics").set("authorization", `Bearer ${TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toContain("text/plain");
    return res.text;
  };

  it("asks for the bearer token when one is configured; production without one keeps it closed; demo without one is open", async () => {
    const app = createApp(deps);
    expect((await request(app).get("/metrics")).status).toBe(401);
    const wrong = await request(app).get("/metrics").set("authorization", `Bearer ${TOKEN}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ code: "metrics_token_invalid" });
    expect((await request(app).get("/metrics").set("authorization", `Bearer ${TOKEN}`)).status).toBe(200);
    const alone = (config: typeof deps.config) => express().use(metricsRoutes({ ...deps, config })).use(problemMiddleware);
    const production = alone({ ...deps.config, demo: false, METRICS_TOKEN: undefined });
    expect((await request(production).get("/metrics")).body).toMatchObject({ status: 403, code: "metrics_disabled" });
    expect((await request(alone({ ...deps.config, demo: false })).get("/metrics").set("authorization", `Bearer ${TOKEN}`)).status).toBe(200);
    const demo = alone({ ...deps.config, METRICS_TOKEN: undefined });
    expect((await request(demo).get("/metrics")).status).toBe(200);
  });

  it("counts requests by route pattern and status, with latency histograms", async () => {
    const app = createApp(deps);
    const before = sample(await scrape(), "steward_http_requests_total", { route: "/readyz", method: "GET", status: "200" }) ?? 0;
    await request(app).get("/readyz").expect(200);
    await request(app).get("/readyz").expect(200);
    await request(app).get("/api/no/such/thing").expect(404);
    await request(app).patch("/api/staff/stf_nobody").send({}).expect(401);
    const text = await scrape();
    expect(sample(text, "steward_http_requests_total", { route: "/readyz", method: "GET", status: "200" })).toBe(before + 2);
    expect(sample(text, "steward_http_requests_total", { route: "unmatched", method: "GET", status: "404" })).toBeGreaterThanOrEqual(1);
    // The pattern, not the id: one series for every staff member.
    expect(sample(text, "steward_http_requests_total", { route: "/api/staff/:staffId", method: "PATCH", status: "401" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "steward_http_request_duration_seconds_count", { route: "/readyz", method: "GET", status: "200" })).toBe(before + 2);
    expect(sample(text, "steward_http_request_duration_seconds_bucket", { route: "/readyz", method: "GET", status: "200", le: "+Inf" })).toBe(before + 2);
  });

  it("counts provider calls by provider, operation and outcome; a timeout is unknown", async () => {
    const classify = (err: unknown, operation: string) => new ProviderError({ provider: "stripe", code: "rejected", operation, message: String(err) });
    const caller = new ProviderCaller("stripe", { timeoutMs: 30, maxRetries: 0 }, classify);
    await caller.call(`metrics.ok.${kind}`, async () => "ok");
    await expect(caller.call(`metrics.rejected.${kind}`, async () => Promise.reject(new Error("no")))).rejects.toThrow();
    await expect(caller.call(`metrics.slow.${kind}`, () => new Promise(() => undefined))).rejects.toMatchObject({ code: "timeout" });
    const text = await scrape();
    expect(sample(text, "steward_provider_calls_total", { provider: "stripe", operation: `metrics.ok.${kind}`, outcome: "succeeded" })).toBe(1);
    expect(sample(text, "steward_provider_calls_total", { provider: "stripe", operation: `metrics.rejected.${kind}`, outcome: "failed" })).toBe(1);
    expect(sample(text, "steward_provider_calls_total", { provider: "stripe", operation: `metrics.slow.${kind}`, outcome: "unknown" })).toBe(1);
    expect(sample(text, "steward_provider_call_duration_seconds_count", { provider: "stripe", operation: `metrics.slow.${kind}`, outcome: "unknown" })).toBe(1);
  });

  it("reports pool usage, unknown operations not yet closed, outbox depth and age, and sweep lag from the database", async () => {
    const { db } = deps.database;
    const now = deps.clock.now();
    let text = await scrape();
    expect(sample(text, "steward_database_up")).toBe(1);
    expect(sample(text, "steward_db_pool_max")).toBe(kind === "pglite" ? 1 : 12);
    expect(sample(text, "steward_db_pool_connections", { state: "waiting_requests" })).toBe(0);
    expect(sample(text, "steward_unknown_operations")).toBe(0);
    expect(sample(text, "steward_mail_outbox_depth")).toBe(0);
    expect(sample(text, "steward_sweep_lag_seconds")).toBe(0);

    const entry = (operationId: string, outcome: "unknown" | "succeeded") =>
      appendAudit(db, { actor: MAILER, action: "billing.credit_apply", target: { type: "account", id: "acc_demo_001", accountId: "acc_demo_001" }, ticketId: "1", outcome, operationId }, deps.clock);
    await entry("op-still-unknown", "unknown");
    await entry("op-closed", "unknown");
    await entry("op-closed", "succeeded");
    for (const ageS of [90, 30, 5]) {
      await enqueueMail(db, { to: "x@example.test", subject: "s", bodyText: "b", kind: "test", accountId: null, userId: null, ticketId: null, operationId: null }, new Date(now.getTime() - ageS * 1000));
    }
    await db
      .insertInto("seat_expansions")
      .values({ id: "sx_metrics", account_id: "acc_demo_001", seats: 1, expires_at: new Date(now.getTime() - 120_000), ticket_id: "1", granted_by_staff_id: "stf_demo_ops" })
      .execute();

    text = await scrape();
    expect(sample(text, "steward_unknown_operations")).toBe(1);
    expect(sample(text, "steward_unknown_operation_oldest_age_seconds")).toBeGreaterThanOrEqual(0);
    expect(sample(text, "steward_mail_outbox_depth")).toBe(3);
    expect(sample(text, "steward_mail_outbox_oldest_age_seconds")).toBe(90);
    expect(sample(text, "steward_sweep_lag_seconds")).toBe(120);
  });
});
