import { Router } from "express";
import { AccountUsers, AccountUsersParams, AccountUsersQuery, SearchQuery, SearchResults } from "../../../../shared/schemas/context.js";
import { appendAudit } from "../../audit/auditLog.js";
import { guard } from "../../auth/authorize.js";
import { ticketIdOf } from "../../auth/recordDenial.js";
import { requireActor } from "../../auth/requestActor.js";
import type { AppDeps } from "../../deps.js";
import { Problem } from "../../http/problem.js";
import { isProviderError } from "../../providers/providerError.js";
import { route } from "../../http/route.js";
import { accountHit, searchDirectory, userHit } from "../../lookup/search.js";
import { markServedFromCache, readDepsOf, refreshAccount, refreshSearch } from "../../directory/readThrough.js";
import { ticketHeader } from "../audit/schema.js";

export function searchRoutes(deps: AppDeps): Router {
  const router = Router();
  const { db } = deps.database;
  const searchOptions = { similarTermsBeside: deps.database.kind === "postgres" };
  route(
    router,
    {
      method: "get",
      path: "/api/search",
      summary: "Search users and accounts by email, name, id, domain or billing customer id (ranked, paged)",
      tags: ["lookup"],
      query: SearchQuery,
      headers: [ticketHeader],
      responses: { 200: SearchResults, 403: "Panel role too low", 502: "DIRECTORY_PROVIDER=http: the product did not answer and the cache holds no match" },
      // Answered only after its audit entry, which checks the cached staff row (auth/staffCache.ts).
      before: guard(deps, "search.run", { cachedStaff: true }),
    },
    async ({ query, req }) => {
      // DIRECTORY_PROVIDER=http: the product's candidates into the cache (first page), ranked here as always.
      // The cache is searched meanwhile; that answer stands unless the product's candidates changed the cache.
      const early = searchDirectory(db, query, searchOptions).then(
        (results) => ({ results }),
        (err: unknown) => ({ err }),
      );
      let unanswered: unknown = null;
      const changed = query.cursor
        ? false
        : await refreshSearch(readDepsOf(deps, { actor: requireActor(req), ticketId: ticketIdOf(req) }), query.q, query.limit).catch((err: unknown) => {
            (req.log ?? deps.logger).warn({ err }, "the product's directory did not answer the search; searching the cache");
            unanswered = err;
            return false;
          });
      const first = await early;
      if (!changed && "err" in first) throw first.err;
      const results = changed || !("results" in first) ? await searchDirectory(db, query, searchOptions) : first.results;
      // Nothing in the cache and the product did not answer: not "no matches", which is not known.
      const unknown = unanswered !== null && results.hits.length === 0;
      await appendAudit(
        db,
        {
          actor: requireActor(req),
          action: "search.run",
          target: { type: "search", id: null, accountId: null },
          ticketId: ticketIdOf(req),
          after: { q: query.q, cursor: query.cursor ?? null, returned: results.hits.length },
          outcome: unknown ? "failed" : "succeeded",
          ...(unknown ? { error: `directory: ${isProviderError(unanswered) ? unanswered.code : "unavailable"}` } : {}),
          requestId: String(req.id ?? "") || null,
        },
        deps.clock,
      );
      if (unknown) throw unanswered;
      return unanswered === null ? results : { ...results, hits: await markServedFromCache(db, results.hits) };
    },
  );
  route(
    router,
    {
      method: "get",
      path: "/api/accounts/:accountId/users",
      summary: "An account's users (not deleted), by name: for picking the ticket's user when a search by account id, domain or customer id found the account",
      tags: ["lookup"],
      params: AccountUsersParams,
      query: AccountUsersQuery,
      headers: [ticketHeader],
      responses: { 200: AccountUsers, 403: "Panel role too low", 404: "No such account", 502: "DIRECTORY_PROVIDER=http: the product did not answer and the cache does not hold the account" },
      before: guard(deps, "account.view", { cachedStaff: true }),
    },
    async ({ params, query, req }) => {
      const actor = requireActor(req);
      // DIRECTORY_PROVIDER=http: the account and its users as the product has them now, into the cache first.
      let unanswered: unknown = null;
      await refreshAccount(readDepsOf(deps, { actor, ticketId: ticketIdOf(req) }), params.accountId).catch((err: unknown) => {
        (req.log ?? deps.logger).warn({ err }, "the product's directory did not answer for the account; listing the cache");
        // The product saying it has no such account is an answer; anything else leaves it unknown.
        if (!(isProviderError(err) && err.code === "not_found")) unanswered = err;
      });
      const account = await db.selectFrom("accounts").select(["id", "name", "domain", "plan", "status"]).where("id", "=", params.accountId).executeTakeFirst();
      const rows = account
        ? await db.selectFrom("users").select(["id", "name", "email", "status"]).where("account_id", "=", account.id).where("status", "!=", "deleted").orderBy("name").orderBy("id").limit(query.limit + 1).execute()
        : [];
      await appendAudit(
        db,
        {
          actor,
          action: "account.view",
          target: { type: "account", id: account?.id ?? null, accountId: account?.id ?? null },
          ticketId: ticketIdOf(req),
          after: { accountId: params.accountId, usersListed: Math.min(rows.length, query.limit) },
          outcome: account ? "succeeded" : "failed",
          error: account ? null : unanswered ? `directory: ${isProviderError(unanswered) ? unanswered.code : "unavailable"}` : "not_found",
          requestId: String(req.id ?? "") || null,
        },
        deps.clock,
      );
      // Not in the cache and the product did not answer: unknown, not "no such account".
      if (!account && unanswered) throw unanswered;
      if (!account) throw Problem.notFound(`No account ${params.accountId}`);
      const users = rows.slice(0, query.limit).map((u) => userHit({ id: u.id, accountId: account.id, name: u.name, email: u.email, status: u.status, accountName: account.name }, "account", 1));
      if (unanswered === null) return { account: accountHit(account, "account", 1), users, more: rows.length > query.limit };
      const [cachedAccount, ...cachedUsers] = await markServedFromCache(db, [accountHit(account, "account", 1), ...users]);
      return { account: cachedAccount!, users: cachedUsers, more: rows.length > query.limit };
    },
  );
  return router;
}
