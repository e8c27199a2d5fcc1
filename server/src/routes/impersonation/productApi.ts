import { Router, type Request } from "express";
import { z } from "zod";
import { EventBatch, EventBatchResult, RedeemRequest, RedeemResponse, SessionParams, SessionStatus } from "../../../../shared/schemas/impersonation.js";
import type { AppDeps } from "../../deps.js";
import { recordEvents } from "../../impersonation/events.js";
import { authenticateProduct } from "../../impersonation/products.js";
import { redeemGrant } from "../../impersonation/redeem.js";
import { agentOf, idleDeadlineAfter, loadSession, statusesOf } from "../../impersonation/sessions.js";
import type { AnyCommand } from "../../commands/command.js";
import { stopImpersonation } from "../../commands/impersonation/stop.js";
import { runCommand } from "../../commands/runCommand.js";
import { endIfDue } from "../../impersonation/sweep.js";
import { Problem, toProblem } from "../../http/problem.js";
import { route } from "../../http/route.js";

const StatusQuery = z.object({
  /** true when the agent did something since the last check: the idle deadline moves. */
  heartbeat: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
});

/** The API a product (through the kit) calls, authenticated with its product credential. */
export function impersonationProductRoutes(deps: AppDeps): Router {
  const router = Router();
  const before = [authenticateProduct(deps.database.db)];
  const productOf = (req: Request) => {
    if (!req.product) throw Problem.unauthorized("product_credential_missing");
    return req.product;
  };

  route(
    router,
    {
      method: "post",
      path: "/api/impersonation/redeem",
      summary: "Product: exchange a one-time handoff grant for the session it opens",
      tags: ["impersonation"],
      body: RedeemRequest,
      before,
      authenticated: false,
      responses: { 200: RedeemResponse, 401: "The grant or the product credential is not valid (expired, wrong key, audience, type…)", 409: "The grant was already redeemed (grant_replayed), or its session ended before it was used (session_ended)" },
    },
    async ({ body, req }) => {
      const session = await redeemGrant(deps, productOf(req), body.grant);
      const [status] = await statusesOf(deps.database.db, [session], deps.clock.now(), deps.config);
      return status;
    },
  );

  route(
    router,
    {
      method: "get",
      path: "/api/impersonation/sessions/:sid",
      summary: "Product: a session's live status and remaining time; with heartbeat=true the idle deadline moves",
      tags: ["impersonation"],
      params: SessionParams,
      query: StatusQuery,
      before,
      authenticated: false,
      responses: { 200: SessionStatus, 404: "No such session for this product" },
    },
    async ({ params, query, req }) => {
      const product = productOf(req);
      let row = await loadSession(deps.database.db, params.sid);
      if (row.product_id !== product.id) throw Problem.notFound(`No impersonation session ${params.sid}`);
      if (!row.ended_at && (await endIfDue(deps, row)) !== "live") row = await loadSession(deps.database.db, params.sid);
      else if (!row.ended_at && query.heartbeat) {
        const now = deps.clock.now();
        row =
          (await deps.database.db
            .updateTable("impersonation_sessions")
            .set({ last_activity_at: now, idle_deadline: idleDeadlineAfter(now, new Date(row.absolute_deadline), deps.config) })
            .where("id", "=", row.id)
            .where("ended_at", "is", null)
            .returningAll()
            .executeTakeFirst()) ?? (await loadSession(deps.database.db, params.sid));
      }
      const [status] = await statusesOf(deps.database.db, [row], deps.clock.now(), deps.config);
      return status;
    },
  );

  route(
    router,
    {
      method: "post",
      path: "/api/impersonation/sessions/:sid/end",
      summary: "Product: the agent pressed End in the banner; ends the session as `impersonation.stop` by that agent",
      tags: ["impersonation"],
      params: SessionParams,
      before,
      authenticated: false,
      responses: { 200: SessionStatus, 404: "No such session for this product" },
    },
    async ({ params, req }) => {
      const product = productOf(req);
      const row = await loadSession(deps.database.db, params.sid);
      if (row.product_id !== product.id) throw Problem.notFound(`No impersonation session ${params.sid}`);
      if (!row.ended_at) {
        const user = await deps.database.db.selectFrom("users").select("version").where("id", "=", row.user_id).executeTakeFirst();
        try {
          // The agent pressed End: the entry credits them, as if they had ended it from the sidebar.
          await runCommand(
            stopImpersonation as unknown as AnyCommand,
            { actor: agentOf(row), ticketId: row.ticket_id, reason: "Ended from the product's banner", target: { type: "user", id: row.user_id }, expectedVersion: user?.version ?? 0, input: { sessionId: row.id }, idempotencyKey: `impersonation-stop:${row.id}`, requestId: String(req.id ?? "") || null },
            deps,
          );
        } catch (err) {
          // Already ended by someone else, or the customer was deleted meanwhile: the status below says what happened.
          if (!["session_already_ended", "request_in_progress", "not_found"].includes(toProblem(err).code)) throw err;
          await endIfDue(deps, await loadSession(deps.database.db, row.id));
        }
      }
      const [status] = await statusesOf(deps.database.db, [await loadSession(deps.database.db, params.sid)], deps.clock.now(), deps.config);
      return status;
    },
  );

  route(
    router,
    {
      method: "post",
      path: "/api/impersonation/sessions/:sid/events",
      summary: "Product: a batch of what the agent did (each becomes an audit entry credited to the agent)",
      tags: ["impersonation"],
      params: SessionParams,
      body: EventBatch,
      before,
      authenticated: false,
      responses: { 200: EventBatchResult, 404: "No such session for this product" },
    },
    async ({ params, body, req }) => recordEvents(deps, productOf(req), params.sid, body),
  );

  return router;
}
