import { Router } from "express";
import { SearchQuery, SearchResults } from "../../../../shared/schemas/context.js";
import { appendAudit } from "../../audit/auditLog.js";
import { guard } from "../../auth/authorize.js";
import { ticketIdOf } from "../../auth/recordDenial.js";
import { requireActor } from "../../auth/requestActor.js";
import type { AppDeps } from "../../deps.js";
import { route } from "../../http/route.js";
import { searchDirectory } from "../../lookup/search.js";
import { readDepsOf, refreshSearch } from "../../directory/readThrough.js";
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
      // DIRECTORY_PROVIDER=http: the product's candidates into the cache (first page), ranked here as always.
      // The cache is searched meanwhile; that answer stands unless the product's candidates changed the cache.
      const early = searchDirectory(db, query).then(
        (results) => ({ results }),
        (err: unknown) => ({ err }),
      );
      const changed = query.cursor
        ? false
        : await refreshSearch(readDepsOf(deps, { actor: requireActor(req), ticketId: ticketIdOf(req) }), query.q, query.limit).catch((err: unknown) => {
            (req.log ?? deps.logger).warn({ err }, "the product's directory did not answer the search; searching the cache");
            return false;
          });
      const first = await early;
      if (!changed && "err" in first) throw first.err;
      const results = changed || !("results" in first) ? await searchDirectory(db, query) : first.results;
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
