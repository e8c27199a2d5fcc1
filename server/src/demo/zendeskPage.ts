import { readFileSync } from "node:fs";
import { Router } from "express";
import { z } from "zod";
import { mintDemoZafToken } from "../auth/mintDemoZafToken.js";
import type { AppDeps } from "../deps.js";
import { Problem } from "../http/problem.js";
import { route } from "../http/route.js";
import { DEMO_AGENTS } from "../seed/demo.js";
import { demoTicketPayload } from "./demoTickets.js";
import { renderZendeskPage } from "./zendeskPageHtml.js";

/**
 * Demo mode only: a page that plays the Zendesk agent UI at /zendesk, so the unmodified ZAF SDK in
 * Steward's sidebar runs locally. Tickets come from `demo_tickets`; internal notes live in memory.
 */
const hostScript = readFileSync(new URL("./zendeskHost.js", import.meta.url), "utf8");
/** The console's nav_bar icon, as the Zendesk package ships it (zendesk-app/icons). */
const navBarIcon = new URL("../../../zendesk-app/icons/icon_nav_bar.svg", import.meta.url);

export const DemoTicket = z.object({
  id: z.number().int(),
  subject: z.string(),
  status: z.string(),
  requester: z.object({ id: z.number().int(), name: z.string(), email: z.string(), externalId: z.string().nullable() }),
});
export const DemoAgent = z.object({ zendeskUserId: z.string(), name: z.string(), email: z.string(), role: z.string() });
export const DemoDesk = z.object({ tickets: z.array(DemoTicket), agents: z.array(DemoAgent) });
export const InternalNote = z.object({ id: z.number().int(), ticketId: z.number().int(), body: z.string(), public: z.literal(false), createdAt: z.string() });
export type InternalNote = z.infer<typeof InternalNote>;

const TicketParams = z.object({ ticketId: z.coerce.number().int().positive() });
const TicketUpdate = z.object({ ticket: z.object({ comment: z.object({ body: z.string().trim().min(1).max(65_000), public: z.boolean().default(true) }) }) });

export function zendeskPageRoutes(deps: AppDeps): Router {
  const router = Router();
  if (!deps.config.demo) return router;
  const notes = new Map<number, InternalNote[]>();
  let nextNoteId = 1;

  route(router, { method: "get", path: "/zendesk", summary: "Demo: the local Zendesk agent page", tags: ["demo"], authenticated: false, produces: ["text/html"] }, ({ res }) => {
    res.setHeader("Cache-Control", "no-store");
    res.type("html").send(renderZendeskPage());
  });

  route(router, { method: "get", path: "/zendesk/host.js", summary: "Demo: the ZAF host protocol for the local Zendesk page", tags: ["demo"], authenticated: false, produces: ["text/javascript"] }, ({ res }) => {
    res.setHeader("Cache-Control", "no-store");
    res.type("text/javascript").send(hostScript);
  });

  route(router, { method: "get", path: "/zendesk/icon_nav_bar.svg", summary: "Demo: the console's nav_bar icon", tags: ["demo"], authenticated: false, produces: ["image/svg+xml"] }, ({ res }) => {
    res.type("image/svg+xml").send(readFileSync(navBarIcon, "utf8"));
  });

  route(
    router,
    { method: "get", path: "/zendesk/api/desk", summary: "Demo: the tickets and agents of the local Zendesk page", tags: ["demo"], authenticated: false, responses: { 200: DemoDesk } },
    async () => {
      const rows = await deps.database.db.selectFrom("demo_tickets").selectAll().orderBy("id").execute();
      return {
        tickets: rows.map((r) => ({ id: r.id, subject: r.subject, status: r.status, requester: { id: r.requester_zendesk_id, name: r.requester_name, email: r.requester_email, externalId: r.requester_external_id } })),
        agents: DEMO_AGENTS.map((a) => ({ zendeskUserId: a.zendeskUserId, name: a.name, email: a.email, role: a.role })),
      };
    },
  );

  route(
    router,
    {
      method: "post",
      path: "/zendesk/api/zaf-token",
      summary: "Demo: a signed ZAF token for one of the demo agents, as Zendesk would post it to the sidebar URL (or, for nav_bar, the console URL)",
      tags: ["demo"],
      authenticated: false,
      // The sidebar's token names its ticket; the nav_bar console's has none.
      body: z.union([
        z.object({ zendeskUserId: z.string(), ticketId: z.coerce.number().int().positive(), location: z.literal("ticket_sidebar").default("ticket_sidebar") }),
        z.object({ zendeskUserId: z.string(), location: z.literal("nav_bar") }),
      ]),
      responses: { 200: z.object({ token: z.string() }), 404: "Not a demo agent" },
    },
    async ({ body }) => {
      // Only the seeded demo agents: this page must not mint tokens for arbitrary Zendesk users.
      const agent = DEMO_AGENTS.find((a) => a.zendeskUserId === body.zendeskUserId);
      if (!agent) throw Problem.notFound(`${body.zendeskUserId} is not a demo agent`);
      const where = "ticketId" in body ? { ticketId: String(body.ticketId), location: "ticket_sidebar" as const } : { location: "nav_bar" as const };
      return { token: await mintDemoZafToken(deps, { zendeskUserId: agent.zendeskUserId, name: agent.name, email: agent.email, ...where }) };
    },
  );

  route(
    router,
    {
      method: "put",
      path: "/zendesk/api/v2/tickets/:ticketId.json",
      summary: "Demo: Zendesk's ticket update, as the sidebar's client.request reaches it (comments only)",
      tags: ["demo"],
      authenticated: false,
      params: TicketParams,
      body: TicketUpdate,
      responses: { 200: z.object({ ticket: z.object({ id: z.number().int() }), audit: z.object({ events: z.array(InternalNote) }) }) },
    },
    ({ params, body }) => {
      // The demo keeps internal notes only: a public reply would go to a customer that does not exist.
      if (body.ticket.comment.public) throw Problem.badRequest("The local Zendesk page keeps internal notes only", [{ field: "body.ticket.comment.public", reason: "must be false" }]);
      const note: InternalNote = { id: nextNoteId++, ticketId: params.ticketId, body: body.ticket.comment.body, public: false, createdAt: deps.clock.now().toISOString() };
      notes.set(params.ticketId, [...(notes.get(params.ticketId) ?? []), note]);
      return { ticket: { id: params.ticketId }, audit: { events: [note] } };
    },
  );

  route(
    router,
    {
      method: "get",
      path: "/zendesk/api/v2/tickets/:ticketId/comments.json",
      summary: "Demo: Zendesk's List Comments (internal notes only, newest first with sort_order=desc), as Steward re-reads a ticket",
      tags: ["demo"],
      authenticated: false,
      params: TicketParams,
      query: z.object({ sort_order: z.enum(["asc", "desc"]).default("asc") }),
      responses: { 200: z.object({ comments: z.array(z.object({ id: z.number().int(), body: z.string(), plain_body: z.string(), public: z.literal(false), created_at: z.string() })), next_page: z.null() }) },
    },
    ({ params, query }) => {
      const list = (notes.get(params.ticketId) ?? []).map((n) => ({ id: n.id, body: n.body, plain_body: n.body, public: false as const, created_at: n.createdAt }));
      return { comments: query.sort_order === "desc" ? list.reverse() : list, next_page: null };
    },
  );

  route(
    router,
    {
      method: "get",
      path: "/zendesk/api/v2/tickets/:ticketId.json",
      summary: "Demo: Zendesk's ticket read with requester and organization sideloaded, as Steward's ticket verification makes it",
      tags: ["demo"],
      authenticated: false,
      params: TicketParams,
      responses: { 200: z.object({ ticket: z.object({ id: z.number().int() }).passthrough() }).passthrough(), 404: "No such ticket" },
    },
    async ({ params }) => {
      const payload = await demoTicketPayload(deps.database.db, String(params.ticketId));
      if (!payload) throw Problem.notFound(`No ticket ${params.ticketId}`);
      return payload;
    },
  );

  route(
    router,
    { method: "get", path: "/zendesk/api/tickets/:ticketId/notes", summary: "Demo: the internal notes added to a ticket", tags: ["demo"], authenticated: false, params: TicketParams, responses: { 200: z.object({ notes: z.array(InternalNote) }) } },
    ({ params }) => ({ notes: notes.get(params.ticketId) ?? [] }),
  );

  return router;
}
