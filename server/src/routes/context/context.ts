import { Router } from "express";
import { ContextQuery, RequesterContext, RequesterPickBody } from "../../../../shared/schemas/context.js";
import { sql, type Kysely } from "kysely";
import type { DB } from "../../db/schema.js";
import { appendAudit, type AuditInput } from "../../audit/auditLog.js";
import { preparedStatement } from "../../db/database.js";
import { guard } from "../../auth/authorize.js";
import { ticketIdOf } from "../../auth/recordDenial.js";
import { requireActor } from "../../auth/requestActor.js";
import type { AppDeps } from "../../deps.js";
import { Problem } from "../../http/problem.js";
import { route } from "../../http/route.js";
import { emailKey } from "../../lookup/resolveRequester.js";
import { PART_NAMES, buildRequesterContext, type ContextResult, type PartName } from "../../lookup/requesterContext.js";
import { ticketHeader } from "../audit/schema.js";

/** The one audit entry a lookup leaves: who looked at whom, for which ticket, and what could be read. */
function lookupEntry(result: ContextResult, query: ContextQuery): Pick<AuditInput, "target" | "after" | "outcome" | "error"> {
  const requester = { email: query.email, zendeskUserId: query.zendeskUserId ?? null, externalId: query.externalId ?? null, userId: query.userId ?? null };
  if (result.match === "unknown") {
    return {
      target: { type: "user", id: null, accountId: null },
      after: { requester, match: "unknown", candidates: result.candidates.map((c) => c.id) },
      outcome: "failed",
      // The product did not answer: whether such a user exists is not known, so it is not "not found".
      error: result.unanswered ? `directory: ${result.unanswered.code}` : "requester_not_found",
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

/** The agent's pick for this ticket, when it was made for this requester email (a changed requester drops it). */
async function pickFor(db: Kysely<DB>, ticketId: string | null, email: string) {
  if (!ticketId) return null;
  const row = await db
    .selectFrom("ticket_requester_picks as p")
    // Read on every ticket view: a named statement, planned once per connection.
    .modifyFront(preparedStatement("ticket_requester_pick"))
    .leftJoin("staff as s", "s.id", "p.picked_by_staff_id")
    .select(["p.user_id", "p.picked_at", "p.requester_email", "s.name", "s.email"])
    .where("p.ticket_id", "=", ticketId)
    .executeTakeFirst();
  if (!row || row.requester_email !== emailKey(email)) return null;
  return { userId: row.user_id, pickedBy: row.name ?? row.email ?? "", pickedAt: new Date(row.picked_at).toISOString() };
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
        502: "DIRECTORY_PROVIDER=http: the product did not answer and the cache holds no user with this email (not known either way)",
      },
      // Answered only after its audit entry, which checks the cached staff row (auth/staffCache.ts).
      before: guard(deps, "context.view", { cachedStaff: true }),
    },
    async ({ query: asked, req }) => {
      // A pick made on this ticket (by anyone) applies unless the request names a user itself; it is read
      // beside the requester (buildRequesterContext), not before.
      const pickRead = asked.userId ? Promise.resolve(null) : pickFor(deps.database.db, ticketIdOf(req), asked.email);
      const result = await buildRequesterContext(
        { db: deps.database.db, identity: deps.identity, billing: deps.billing, directory: deps.directory, reader: { actor: requireActor(req), ticketId: ticketIdOf(req) }, clock: deps.clock, partTimeoutMs: deps.config.CONTEXT_PART_TIMEOUT_MS, logger: req.log ?? deps.logger },
        asked,
        pickRead.then((p) => p?.userId ?? null),
      );
      // A pick to a user since deleted was passed over (the email decided): it is not this context's pick.
      const pick = result.match !== "unknown" && result.pickApplied ? await pickRead : null;
      const query = pick ? { ...asked, userId: pick.userId } : asked;
      await appendAudit(
        deps.database.db,
        { actor: requireActor(req), action: "context.view", ticketId: ticketIdOf(req), requestId: String(req.id ?? "") || null, ...lookupEntry(result, query) },
        deps.clock,
      );
      if (result.match === "unknown") {
        if (result.unanswered) throw result.unanswered;
        throw new Problem(404, "requester_not_found", "Not found", `No user has the email ${query.email}; the closest matches are in candidates`, { candidates: result.candidates });
      }
      const accountId = result.user?.account_id;
      if (!accountId) return { ...result.context, pick };
      const open = result.openOperations;
      return {
        ...result.context,
        pick,
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
  route(
    router,
    {
      method: "post",
      path: "/api/context/pick",
      summary: "Remember which user a ticket is about (or forget it with userId null), for every agent who opens the ticket",
      tags: ["lookup"],
      body: RequesterPickBody,
      responses: { 200: "The pick as stored", 403: "Panel role too low", 404: "No such user" },
      before: guard(deps, "context.pick"),
    },
    async ({ body, req }) => {
      const db = deps.database.db;
      const actor = requireActor(req);
      if (actor.kind !== "staff") throw Problem.forbidden("action_not_allowed", "Only staff pick a requester");
      const user = body.userId === null ? null : await db.selectFrom("users").select(["id", "account_id"]).where("id", "=", body.userId).where("status", "!=", "deleted").executeTakeFirst();
      if (body.userId !== null && !user) throw Problem.notFound(`No user ${body.userId}`);
      // Kept in one spelling (emailKey), so the pick holds however the ticket spells the address.
      const email = emailKey(body.email);
      // The pick and its audit entry in one transaction: no pick that every agent then sees without a record of who made it.
      await db.transaction().execute(async (tx) => {
        // Picks on one ticket queue: a row lock cannot hold a ticket without a pick yet, and two first picks
        // at once would each record "before: none" while the second replaced the first.
        await sql`select pg_advisory_xact_lock(hashtext(${`steward:pick:${body.ticketId}`}))`.execute(tx);
        const previous = await tx.selectFrom("ticket_requester_picks").select(["user_id", "requester_email"]).where("ticket_id", "=", body.ticketId).forUpdate().executeTakeFirst();
        if (user) {
          const row = { ticket_id: body.ticketId, requester_email: email, user_id: user.id, picked_by_staff_id: actor.staffId, picked_at: deps.clock.now() };
          await tx
            .insertInto("ticket_requester_picks")
            .values(row)
            .onConflict((oc) => oc.column("ticket_id").doUpdateSet({ requester_email: row.requester_email, user_id: row.user_id, picked_by_staff_id: row.picked_by_staff_id, picked_at: row.picked_at }))
            .execute();
        } else {
          await tx.deleteFrom("ticket_requester_picks").where("ticket_id", "=", body.ticketId).execute();
        }
        // The entry is about the user picked, or when forgetting, the user the pick was (account looked up for the ticket history).
        const targetUserId = user?.id ?? previous?.user_id ?? null;
        const accountId = user ? user.account_id : targetUserId ? ((await tx.selectFrom("users").select("account_id").where("id", "=", targetUserId).executeTakeFirst())?.account_id ?? null) : null;
        await appendAudit(
          tx,
          {
            actor,
            action: "context.pick",
            target: { type: "user", id: targetUserId, accountId },
            ticketId: body.ticketId,
            requestId: String(req.id ?? "") || null,
            before: previous ? { userId: previous.user_id, requesterEmail: previous.requester_email } : null,
            after: user ? { userId: user.id, requesterEmail: email } : null,
            outcome: "succeeded",
          },
          deps.clock,
        );
      });
      return { pick: user ? await pickFor(db, body.ticketId, body.email) : null };
    },
  );
  return router;
}
