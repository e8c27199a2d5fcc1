import { Router } from "express";
import { ContextQuery, RequesterContext } from "../../../../shared/schemas/context.js";
import { appendAudit, type AuditInput } from "../../audit/auditLog.js";
import { guard } from "../../auth/authorize.js";
import { ticketIdOf } from "../../auth/recordDenial.js";
import { requireActor } from "../../auth/requestActor.js";
import type { AppDeps } from "../../deps.js";
import { Problem } from "../../http/problem.js";
import { route } from "../../http/route.js";
import { PART_NAMES, buildRequesterContext, type ContextResult, type PartName } from "../../lookup/requesterContext.js";
import { ticketHeader } from "../audit/schema.js";
import { openOperationsOf } from "../../reconcile/providerOperations.js";

/** The one audit entry a lookup leaves: who looked at whom, for which ticket, and what could be read. */
function lookupEntry(result: ContextResult, query: ContextQuery): Pick<AuditInput, "target" | "after" | "outcome" | "error"> {
  const requester = { email: query.email, zendeskUserId: query.zendeskUserId ?? null, externalId: query.externalId ?? null, userId: query.userId ?? null };
  if (result.match === "unknown") {
    return {
      target: { type: "user", id: null, accountId: null },
      after: { requester, match: "unknown", candidates: result.candidates.map((c) => c.id) },
      outcome: "failed",
      error: "requester_not_found",
    };
  }
  if (result.match === "ambiguous") {
    return {
      target: { type: "user", id: null, accountId: null },
      after: { requester, match: "ambiguous", candidates: result.context.candidates.map((c) => c.id) },
      outcome: "succeeded",
    };
  }
  const { user, failedParts } = result;
  // "Failed" only when none of the parts could be read; a partial answer is still a lookup that happened.
  const nothingRead = failedParts.length === PART_NAMES.length;
  return {
    target: { type: "user", id: user?.id ?? null, accountId: user?.account_id ?? null },
    after: { requester, match: "exact", failedParts },
    outcome: nothingRead ? "failed" : "succeeded",
    error: failedParts.length ? failedParts.map((p) => `${p}: ${errorCode(result.context[p])}`).join("; ") : null,
  };
}

function errorCode(part: RequesterContext[PartName]): string {
  return part.status === "error" ? part.error.code : "ok";
}

export function contextRoutes(deps: AppDeps): Router {
  const router = Router();
  route(
    router,
    {
      method: "get",
      path: "/api/context",
      summary: "The ticket requester's user, sign-in state, account, billing, recent activity and audit trail in one response",
      tags: ["lookup"],
      query: ContextQuery,
      headers: [ticketHeader],
      responses: {
        200: RequesterContext,
        403: "Panel role too low",
        404: "No user has this email: problem+json `requester_not_found` with the closest search matches in `candidates`",
      },
      // Answered only after its audit entry, which checks the cached staff row (auth/staffCache.ts).
      before: guard(deps, "context.view", { cachedStaff: true }),
    },
    async ({ query, req }) => {
      const result = await buildRequesterContext(
        { db: deps.database.db, identity: deps.identity, billing: deps.billing, directory: deps.directory, reader: { actor: requireActor(req), ticketId: ticketIdOf(req) }, clock: deps.clock, partTimeoutMs: deps.config.CONTEXT_PART_TIMEOUT_MS, logger: req.log ?? deps.logger },
        query,
      );
      await appendAudit(
        deps.database.db,
        { actor: requireActor(req), action: "context.view", ticketId: ticketIdOf(req), requestId: String(req.id ?? "") || null, ...lookupEntry(result, query) },
        deps.clock,
      );
      if (result.match === "unknown") {
        throw new Problem(404, "requester_not_found", "Not found", `No user has the email ${query.email}; the closest matches are in candidates`, { candidates: result.candidates });
      }
      const accountId = result.user?.account_id;
      if (!accountId) return result.context;
      const open = result.openOperations ?? (await openOperationsOf(deps.database.db, accountId));
      return {
        ...result.context,
        unresolvedOperations: open.map((o) => ({
          operationId: o.operation_id,
          action: o.action,
          target: { type: o.target_type, id: o.target_id },
          status: o.status as "pending" | "unknown" | "needs_review",
          since: new Date(o.created_at).toISOString(),
          lastError: o.last_error,
        })),
      };
    },
  );
  return router;
}
