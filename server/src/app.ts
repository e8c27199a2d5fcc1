import { randomUUID } from "node:crypto";
import express, { type Express } from "express";
import { pinoHttp } from "pino-http";
import { zendeskPageRoutes } from "./demo/zendeskPage.js";
import type { AppDeps } from "./deps.js";
import { buildOpenApiDocument } from "./http/openapi.js";
import { buildDirectoryContract } from "./directory/contractDocument.js";
import { directoryRoutes } from "./routes/directory/settings.js";
import { notFoundHandler, problemMiddleware } from "./http/problem.js";
import { refuseUnstorableText } from "./http/textGuard.js";
import { createRateLimits } from "./http/rateLimit.js";
import { noStore, securityHeaders } from "./http/securityHeaders.js";
import { demoOutboxRoutes } from "./mail/demoOutbox.js";
import { actionRoutes } from "./routes/actions/actions.js";
import { approvalRoutes } from "./routes/approvals/approvals.js";
import { auditRoutes } from "./routes/audit/audit.js";
import { consoleRoutes } from "./routes/console/console.js";
import { contextRoutes } from "./routes/context/context.js";
import { healthRoutes } from "./routes/health/health.js";
import { metricsRoutes, requestMetrics } from "./routes/metrics/metrics.js";
import { impersonationAgentRoutes } from "./routes/impersonation/agentRoutes.js";
import { jwksRoutes } from "./routes/impersonation/jwks.js";
import { impersonationProductRoutes } from "./routes/impersonation/productApi.js";
import { searchRoutes } from "./routes/search/search.js";
import { sessionRoutes } from "./routes/session/session.js";
import { sidebarPageRoutes } from "./routes/session/sidebarPage.js";
import { capsRoutes } from "./routes/staff/caps.js";
import { staffRoutes } from "./routes/staff/staff.js";
import { StaffCache } from "./auth/staffCache.js";

export const STEWARD_VERSION = "0.1.0";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface AppOptions {
  /** Lets tests mount extra routes before the 404 handler. */
  extend?: (app: Express) => void;
}

/** Builds the Express app without listening, so tests can drive it directly. */
export function createApp(appDeps: AppDeps, options: AppOptions = {}): Express {
  // Every route's authenticate() reads the limits from deps, so they are built once here.
  const deps: AppDeps = { ...appDeps, rateLimits: appDeps.rateLimits ?? createRateLimits(appDeps), staffCache: appDeps.staffCache ?? new StaffCache() };
  const app = express();
  app.disable("x-powered-by");
  // Client IPs (logs, rate limits) come from X-Forwarded-For only as far as TRUST_PROXY says.
  app.set("trust proxy", deps.config.trustProxy);
  app.set("query parser", "simple");

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const given = req.headers["x-request-id"];
        const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader("X-Request-Id", id);
        return id;
      },
      customProps: (req) => ({ ip: (req as express.Request).ip }),
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "info" : "debug"),
      // Method and path, and the status: not the headers either way (a session's Set-Cookie, the CSP, every 4xx at info).
      serializers: {
        // An export link's token is a bearer secret for its 60 s: the path is logged without it.
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url.split("?")[0]?.replace(/(\/export-downloads\/)[^/]+/, "$1[redacted]") }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(securityHeaders(deps.config));
  app.use(noStore);
  // Before the body is read: a flood costs one counter update per request, and none once this process has seen the limit reached.
  if (deps.rateLimits) app.use(deps.rateLimits.byIp);
  app.use(express.json({ limit: "64kb" }));
  app.use(express.urlencoded({ extended: false, limit: "64kb" }));
  // Before any route: text that cannot be stored as sent is refused, never stored altered or left to fail as a 500.
  app.use(refuseUnstorableText);

  app.use(requestMetrics());
  app.use(healthRoutes(deps));
  app.use(metricsRoutes(deps));
  app.use(actionRoutes(deps));
  app.use(approvalRoutes(deps));
  app.use(auditRoutes(deps));
  app.use(consoleRoutes(deps));
  app.use(contextRoutes(deps));
  app.use(searchRoutes(deps));
  app.use(directoryRoutes(deps));
  app.use(sessionRoutes(deps));
  app.use(sidebarPageRoutes(deps));
  app.use(staffRoutes(deps));
  app.use(capsRoutes(deps));
  app.use(jwksRoutes(deps));
  app.use(impersonationProductRoutes(deps));
  app.use(impersonationAgentRoutes(deps));
  // Demo mode only: the local Zendesk page at /zendesk.
  if (deps.config.demo) app.use(zendeskPageRoutes(deps));
  // Demo mode only: customer mail held in the outbox, for the local Zendesk page.
  app.use(demoOutboxRoutes(deps));
  // The contract a product implements for DIRECTORY_PROVIDER=http (also docs/directory-contract.json).
  app.get("/api/directory-contract.json", (_req, res) => {
    res.json(buildDirectoryContract());
  });
  app.get("/api/openapi.json", (_req, res) => {
    res.json(buildOpenApiDocument({ version: STEWARD_VERSION, serverUrl: deps.config.publicUrl }));
  });

  options.extend?.(app);
  app.use(notFoundHandler);
  app.use(problemMiddleware);
  return app;
}
