import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Request, Response } from "express";
import { Router } from "express";
import { z } from "zod";
import { wholeNumberText } from "../../../../shared/schemas/audit.js";
import { ConsoleEntriesQuery, ConsoleEntryView, ConsoleOverview, ConsoleOverviewQuery, ConsolePage, type ConsoleFilters } from "../../../../shared/schemas/console.js";
import { appendAudit } from "../../audit/auditLog.js";
import { auditVisibilityFor } from "../../audit/auditQuery.js";
import { guard } from "../../auth/authorize.js";
import { grantSession, verifyAgent } from "../../auth/openSession.js";
import { ticketIdOf } from "../../auth/recordDenial.js";
import { requireActor } from "../../auth/requestActor.js";
import { entryView, explorerPage, overview, type ExplorerScope } from "../../console/explorer.js";
import { parseWorkingHours } from "../../console/workingHours.js";
import type { AppDeps } from "../../deps.js";
import { Problem } from "../../http/problem.js";
import { route } from "../../http/route.js";
import { staffForAgent } from "../../staff/firstVisit.js";
import { appDistDir, embedSession } from "../session/sidebarPage.js";
import { ticketHeader } from "../audit/schema.js";
import { consoleExportRoutes, givenFilters } from "./consoleExport.js";

const EntryParams = z.object({ seq: wholeNumberText("an entry number").positive() });

/**
 * The team-lead console (Zendesk nav_bar): its signed page at /console, and the explorer API under
 * /api/console. Every read is audited like an audit search; support roles see only what the audit
 * visibility rule gives them (their own actions and tickets they acted on).
 */
export function consoleRoutes(deps: AppDeps): Router {
  const router = Router();
  const { db } = deps.database;
  const hours = parseWorkingHours(deps.config.CONSOLE_WORKING_HOURS);
  const scopeOf = (req: Request): ExplorerScope => ({ visibility: auditVisibilityFor(requireActor(req)), hours });
  const readerEntry = (req: Request, action: "audit.search", filters: ConsoleFilters, after: Record<string, unknown>, failed?: { error: string }) =>
    appendAudit(
      db,
      {
        actor: requireActor(req),
        action,
        target: { type: "audit", id: null, accountId: filters.targetAccountId ?? null },
        ticketId: ticketIdOf(req),
        after: { console: true, filters: givenFilters(filters), ...after },
        outcome: failed ? "failed" : "succeeded",
        error: failed?.error ?? null,
        requestId: String(req.id ?? "") || null,
      },
      deps.clock,
    );

  // ── The console page (nav_bar location, signed like the sidebar) ─────────────────────────────
  const dist = appDistDir(deps.config);
  // Refusals reach the problem middleware, which answers a browser with a readable page (http/problem.ts).
  const servePage = async (req: Request, res: Response, token: string | undefined) => {
    if (!token) throw Problem.unauthorized("zaf_token_missing", `Steward's console opens from Zendesk's navigation bar, which posts a signed token to this address.${deps.config.demo ? ` In demo mode, open ${deps.config.publicUrl}/zendesk?view=console.` : ""}`);
    const agent = await verifyAgent(deps, token, req.log, String(req.id ?? "") || null);
    let html: string;
    try {
      html = await readFile(join(dist, "console.html"), "utf8");
    } catch {
      throw new Problem(503, "app_not_built", "Service unavailable", "The console app is not built: run npm run build:app");
    }
    const grant = await grantSession(deps, await staffForAgent(deps, agent));
    res.status(200).type("html").send(embedSession(html, { token: grant.sessionToken, expiresAt: grant.expiresAt }));
  };
  route(
    router,
    {
      method: "post",
      path: "/console",
      summary: "The team-lead console page (Zendesk nav_bar): Zendesk posts the signed ZAF token (form field `token`)",
      tags: ["console"],
      authenticated: false,
      body: z.object({ token: z.string().max(8192).optional() }).loose(),
      produces: ["text/html"],
      responses: { 200: "The console with its session embedded", 401: "Missing or rejected ZAF token", 403: "No panel access", 503: "The app is not built" },
    },
    ({ body, req, res }) => servePage(req, res, body.token),
  );
  route(
    router,
    { method: "get", path: "/console", summary: "Opened without Zendesk's signed POST: explains how to open the console", tags: ["console"], authenticated: false, produces: ["text/html"], responses: { 401: "No ZAF token" } },
    ({ req, res }) => servePage(req, res, undefined),
  );

  // ── Explorer API ─────────────────────────────────────────────────────────────────────────────
  route(
    router,
    {
      method: "get",
      path: "/api/console/entries",
      summary: "Audit explorer: entries matching the filters (incl. action group and flag), keyset-paged; order=asc for timelines",
      tags: ["console"],
      query: ConsoleEntriesQuery,
      headers: [ticketHeader],
      responses: { 200: ConsolePage, 403: "Panel role too low" },
      before: guard(deps, "audit.search"),
    },
    async ({ query, req }) => {
      const page = await explorerPage(db, query, { order: query.order, cursor: query.cursor, limit: query.limit }, scopeOf(req));
      await readerEntry(req, "audit.search", query, { order: query.order, cursor: query.cursor ?? null, returned: page.entries.length });
      return page;
    },
  );

  route(
    router,
    {
      method: "get",
      path: "/api/console/entries/:seq",
      summary: "One audit entry: before → after diff, its ticket, its flags and its chain status",
      tags: ["console"],
      params: EntryParams,
      headers: [ticketHeader],
      responses: { 200: ConsoleEntryView, 404: "No such entry, or not one the reader may see" },
      before: guard(deps, "audit.search"),
    },
    async ({ params, req }) => {
      const view = await entryView(db, deps.auditKeys, params.seq, scopeOf(req));
      // Not visible and not there answer alike, so the answer does not tell which entries exist.
      if (!view) throw Problem.notFound(`Audit entry ${params.seq} does not exist or is not one you may see`);
      await readerEntry(req, "audit.search", {}, { entrySeq: params.seq });
      return view;
    },
  );

  route(
    router,
    {
      method: "get",
      path: "/api/console/overview",
      summary: "The console's start screen: flag counts and daily activity per agent and per action group",
      tags: ["console"],
      query: ConsoleOverviewQuery,
      headers: [ticketHeader],
      responses: { 200: ConsoleOverview, 403: "Panel role too low" },
      before: guard(deps, "audit.search"),
    },
    async ({ query, req }) => {
      const result = await overview(db, scopeOf(req), deps.clock.now(), query.days);
      await readerEntry(req, "audit.search", {}, { overviewDays: query.days });
      return result;
    },
  );

  consoleExportRoutes(router, deps, hours);
  return router;
}
