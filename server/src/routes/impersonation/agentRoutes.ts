import { Router } from "express";
import { z } from "zod";
import { TicketId } from "../../../../shared/audit.js";
import { NoticeSettings, NoticeSettingsChange, SessionStatus } from "../../../../shared/schemas/impersonation.js";
import { guard } from "../../auth/authorize.js";
import { requireActor } from "../../auth/requestActor.js";
import type { AppDeps } from "../../deps.js";
import { customerNoticesOn, setCustomerNotices } from "../../impersonation/notices.js";
import { statusesOf } from "../../impersonation/sessions.js";
import { route } from "../../http/route.js";

const AgentSession = SessionStatus.extend({ targetVersion: z.number().int(), mine: z.boolean() });
const TicketSessionsQuery = z.object({
  userId: z.string().trim().min(1).max(255).optional().describe("The ticket's customer: their live sessions from any ticket are listed in customerLive"),
});
const TicketSessionsResponse = z.object({
  live: AgentSession.nullable(),
  sessions: z.array(AgentSession),
  /** Live sessions on the customer (userId) started from any ticket: who else is viewing them now. */
  customerLive: z.array(AgentSession),
});

/** What the sidebar needs: the agent's live session and a ticket's sessions; and the admin's notice setting. */
export function impersonationAgentRoutes(deps: AppDeps): Router {
  const router = Router();
  const db = deps.database.db;

  route(
    router,
    {
      method: "get",
      path: "/api/impersonation/tickets/:ticketId/sessions",
      summary: "The impersonation sessions of a ticket (newest first), the agent's live session, and with userId the customer's live sessions from any ticket",
      tags: ["impersonation"],
      params: z.object({ ticketId: TicketId }),
      query: TicketSessionsQuery,
      before: guard(deps, "context.view"),
      responses: { 200: TicketSessionsResponse },
    },
    async ({ params, query, req }) => {
      const actor = requireActor(req);
      const rows = await db.selectFrom("impersonation_sessions").selectAll().where("ticket_id", "=", params.ticketId).orderBy("started_at", "desc").limit(50).execute();
      const liveRow = await db.selectFrom("impersonation_sessions").selectAll().where("staff_id", "=", actor.staffId).where("ended_at", "is", null).executeTakeFirst();
      // Sessions on the same customer from other tickets: nothing the audit log (audit.search, open to every role) does not already show.
      const customerRows = query.userId ? await db.selectFrom("impersonation_sessions").selectAll().where("user_id", "=", query.userId).where("ended_at", "is", null).orderBy("started_at", "desc").limit(50).execute() : [];
      const all = [...rows];
      for (const row of [...(liveRow ? [liveRow] : []), ...customerRows]) if (!all.some((r) => r.id === row.id)) all.push(row);
      const statuses = await statusesOf(db, all, deps.clock.now(), deps.config);
      const versions = all.length ? await db.selectFrom("users").select(["id", "version"]).where("id", "in", [...new Set(all.map((r) => r.user_id))]).execute() : [];
      const withVersion = statuses.map((s, i) => ({ ...s, targetVersion: versions.find((v) => v.id === s.user.id)?.version ?? 0, mine: all[i]?.staff_id === actor.staffId }));
      const customerSids = new Set(customerRows.map((r) => r.id));
      return {
        live: withVersion.find((s) => s.mine && s.status === "live") ?? null,
        sessions: withVersion.filter((s) => s.ticket === params.ticketId),
        customerLive: withVersion.filter((s) => customerSids.has(s.sid)),
      };
    },
  );

  route(
    router,
    { method: "get", path: "/api/impersonation/settings", summary: "Whether customers are told when staff impersonate them", tags: ["impersonation"], before: guard(deps, "context.view"), responses: { 200: NoticeSettings } },
    async () => ({ customerNotices: await customerNoticesOn(db) }),
  );

  route(
    router,
    {
      method: "put",
      path: "/api/impersonation/settings",
      summary: "Turn the customer notices of impersonation on or off (admin; audited)",
      tags: ["impersonation"],
      body: NoticeSettingsChange,
      before: guard(deps, "impersonation.notices_change"),
      responses: { 200: NoticeSettings.extend({ changed: z.boolean() }), 403: "Admin only" },
    },
    async ({ body, req }) => setCustomerNotices(db, deps.clock, { actor: requireActor(req), on: body.customerNotices, reason: body.reason }),
  );

  return router;
}
