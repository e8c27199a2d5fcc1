import { Router } from "express";
import { sql } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../../deps.js";
import { Problem } from "../../http/problem.js";
import { route } from "../../http/route.js";

export const Health = z.object({ status: z.literal("ok") });
export const Readiness = z.object({ status: z.literal("ready"), database: z.enum(["pglite", "postgres"]) });

export function healthRoutes({ database }: AppDeps): Router {
  const router = Router();
  route(router, { method: "get", path: "/healthz", summary: "The process is up", tags: ["health"], authenticated: false, responses: { 200: Health } }, () => ({
    status: "ok" as const,
  }));
  route(
    router,
    { method: "get", path: "/readyz", summary: "The database is reachable", tags: ["health"], authenticated: false, responses: { 200: Readiness, 503: "Database unreachable" } },
    async () => {
      try {
        await sql`select 1`.execute(database.db);
      } catch (err) {
        throw new Problem(503, "database_unavailable", "Service unavailable", `The database does not answer: ${(err as Error).message}`);
      }
      return { status: "ready" as const, database: database.kind };
    },
  );
  return router;
}
