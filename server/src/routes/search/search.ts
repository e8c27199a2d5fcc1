import { Router } from "express";
import { SearchQuery, SearchResults } from "../../../../shared/schemas/context.js";
import { appendAudit } from "../../audit/auditLog.js";
import { guard } from "../../auth/authorize.js";
import { ticketIdOf } from "../../auth/recordDenial.js";
import { requireActor } from "../../auth/requestActor.js";
import type { AppDeps } from "../../deps.js";
import { route } from "../../http/route.js";
import { searchDirectory } from "../../lookup/search.js";
import { ticketHeader } from "../audit/schema.js";

export function searchRoutes(deps: AppDeps): Router {
  const router = Router();
  const { db } = deps.database;
  route(
    router,
    {
      method: "get",
      path: "/api/search",
      summary: "Search users and accounts by email, name, id, domain or billing customer id (ranked, paged)",
      tags: ["lookup"],
      query: SearchQuery,
      headers: [ticketHeader],
      responses: { 200: SearchResults, 403: "Panel role too low" },
      // Answered only after its audit entry, which checks the cached staff row (auth/staffCache.ts).
      before: guard(deps, "search.run", { cachedStaff: true }),
    },
    async ({ query, req }) => {
      const results = await searchDirectory(db, query);
      await appendAudit(
        db,
        {
          actor: requireActor(req),
          action: "search.run",
          target: { type: "search", id: null, accountId: null },
          ticketId: ticketIdOf(req),
          after: { q: query.q, cursor: query.cursor ?? null, returned: results.hits.length },
          outcome: "succeeded",
          requestId: String(req.id ?? "") || null,
        },
        deps.clock,
      );
      return results;
    },
  );
  return router;
}
