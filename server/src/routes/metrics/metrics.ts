import { timingSafeEqual } from "node:crypto";
import { Router, type RequestHandler } from "express";
import { Registry } from "prom-client";
import type { AppDeps } from "../../deps.js";
import { Problem } from "../../http/problem.js";
import { route } from "../../http/route.js";
import { httpDuration, httpRequests, processRegistry } from "../../metrics/metrics.js";
import { stateRegistry } from "../../metrics/stateGauges.js";

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** METRICS_TOKEN set: Bearer token required. Unset: open in demo mode, closed in production. */
function metricsAccess({ config }: Pick<AppDeps, "config">): RequestHandler {
  return (req, _res, next) => {
    const expected = config.METRICS_TOKEN;
    if (!expected) {
      if (config.demo) return next();
      return next(Problem.forbidden("metrics_disabled", "Set METRICS_TOKEN to expose /metrics in production mode"));
    }
    const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();
    if (!given || !sameToken(given, expected)) return next(Problem.unauthorized("metrics_token_invalid", "GET /metrics needs Authorization: Bearer <METRICS_TOKEN>"));
    next();
  };
}

/** Counts every response by the route pattern it matched (not the raw path: ids would explode the labels). */
export function requestMetrics(): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.once("finish", () => {
      const pattern = req.route ? `${req.baseUrl ?? ""}${String((req.route as { path: unknown }).path)}` : "unmatched";
      const labels = { route: pattern, method: req.method, status: String(res.statusCode) };
      httpRequests.inc(labels);
      httpDuration.observe(labels, (performance.now() - started) / 1000);
    });
    next();
  };
}

export function metricsRoutes(deps: AppDeps): Router {
  const router = Router();
  route(
    router,
    {
      method: "get",
      path: "/metrics",
      summary: "Prometheus metrics: requests, provider calls, database pool, unknown operations, mail outbox, sweep lag",
      tags: ["health"],
      authenticated: false,
      produces: ["text/plain"],
      before: [metricsAccess(deps)],
      responses: { 200: "Prometheus text exposition format", 401: "Missing or wrong bearer token", 403: "Production mode without METRICS_TOKEN" },
    },
    async ({ res }) => {
      const merged = Registry.merge([processRegistry, await stateRegistry(deps)]);
      res.type(merged.contentType).send(await merged.metrics());
    },
  );
  return router;
}
