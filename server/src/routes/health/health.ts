import { Router } from "express";
import { sql } from "kysely";
import { z } from "zod";
import type { AppDeps } from "../../deps.js";
import { Problem } from "../../http/problem.js";
import { route } from "../../http/route.js";

export const Health = z.object({ status: z.literal("ok") });
export const Readiness = z.object({ status: z.literal("ready"), database: z.enum(["pglite", "postgres"]) });

/** A probe must answer fast: a database that takes longer than this counts as unreachable. */
export const READINESS_BUDGET_MS = 800;

/** `select 1` within the budget, or why not; the query itself is bounded by the pool's own timeouts. */
async function probeDatabase(database: AppDeps["database"]): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${READINESS_BUDGET_MS} ms`), READINESS_BUDGET_MS)));
  const probe = sql`select 1`.execute(database.db).then(
    () => undefined,
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
  try {
    return await Promise.race([probe, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes({ database }: AppDeps): Router {
  const router = Router();
  route(router, { method: "get", path: "/healthz", summary: "The process is up", tags: ["health"], authenticated: false, responses: { 200: Health } }, () => ({
    status: "ok" as const,
  }));
  route(
    router,
    {
      method: "get",
      path: "/readyz",
      summary: "The database answers within a second",
      tags: ["health"],
      authenticated: false,
      responses: { 200: Readiness, 503: "Database unreachable or too slow" },
    },
    async () => {
      const failure = await probeDatabase(database);
      if (failure) throw Problem.unavailable("database_unavailable", `The database does not answer: ${failure}`, 1);
      return { status: "ready" as const, database: database.kind };
    },
  );
  return router;
}
