import type { Request, Response, Router } from "express";
import { z } from "zod";
import { ConsoleExportQuery, ExportLinkIssued, ExportLinkStatusView, type ConsoleFilters } from "../../../../shared/schemas/console.js";
import { TicketId } from "../../../../shared/audit.js";
import type { StaffActor } from "../../actor.js";
import { appendAudit } from "../../audit/auditLog.js";
import { auditHeadSeq, auditVisibilityFor } from "../../audit/auditQuery.js";
import { guard } from "../../auth/authorize.js";
import { actionDenied, roleAllows } from "../../auth/permissions.js";
import { recordDenial, ticketIdOf } from "../../auth/recordDenial.js";
import { requireActor } from "../../auth/requestActor.js";
import { SessionTokenError } from "../../auth/sessionToken.js";
import { countMatching, explorerBatches, type ExplorerScope } from "../../console/explorer.js";
import { exportLinkStatus, finishExportLink, issueExportLink, openHeaderExport, redeemExportLink } from "../../console/exportLinks.js";
import { runTrackedExport } from "../../console/trackedExport.js";
import type { WorkingHours } from "../../console/workingHours.js";
import type { AppDeps } from "../../deps.js";
import { Problem, toProblem } from "../../http/problem.js";
import { route } from "../../http/route.js";
import { findStaffById, toStaffActor } from "../../staff/staffQueries.js";
import { ticketHeader } from "../audit/schema.js";

/** Counting an export's size for its progress bar stops here; the bar then shows entries so far. */
const EXPORT_COUNT_CAP = 1_000_000;

export function givenFilters(f: ConsoleFilters): Record<string, unknown> {
  const { actor, action, group, outcome, ticketId, targetAccountId, targetUserId, from, to, flag } = f;
  return Object.fromEntries(Object.entries({ actor, action, group, outcome, ticketId, targetAccountId, targetUserId, from, to, flag }).filter(([, v]) => v !== undefined));
}

const LinkIdParams = z.object({ id: z.uuid() });
const LinkTokenParams = z.object({ token: z.string().max(200) });
/** What issueExportLink makes: 32 random bytes, base64url. Anything else is not a link Steward made. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Console exports. `GET /api/console/export` streams to a client that sends the session header. A browser
 * saves a file without holding it only when it navigates to it, and a navigation sends no header: the
 * console asks for a single-use link (POST, with the session) and lets the browser's download manager
 * follow it; the link names the staff member, whose role is checked again when it is used.
 */
export function consoleExportRoutes(router: Router, deps: AppDeps, hours: WorkingHours): void {
  const { db } = deps.database;

  /** Streams one export, audited as before links existed, recorded on its row (`rowId`: its link's, or a header export's). */
  const runExport = (req: Request, res: Response, query: ConsoleExportQuery, who: { actor: StaffActor; ticketId: string | null; rowId: string }) => {
    const scope: ExplorerScope = { visibility: auditVisibilityFor(who.actor), hours };
    return runTrackedExport(db, deps.clock, req, res, {
      rowId: who.rowId,
      format: query.format,
      what: "a console export",
      entry: (executor, after, failed) =>
        appendAudit(
          executor,
          {
            actor: who.actor,
            action: "audit.export",
            target: { type: "audit", id: null, accountId: query.targetAccountId ?? null },
            ticketId: who.ticketId,
            after: { console: true, filters: givenFilters(query), ...after },
            outcome: failed ? "failed" : "succeeded",
            error: failed?.error ?? null,
            requestId: String(req.id ?? "") || null,
          },
          deps.clock,
        ),
      prepare: async () => {
        // A snapshot up to the current head; the export's own entry (written first) falls outside it.
        const throughSeq = await auditHeadSeq(db);
        const total = await countMatching(db, query, scope, throughSeq, EXPORT_COUNT_CAP);
        return {
          after: { format: query.format, throughSeq, total },
          total,
          headers: { "X-Export-Total": String(total), "Access-Control-Expose-Headers": "X-Export-Total" },
          batches: () => explorerBatches(db, query, scope, { throughSeq }),
        };
      },
    });
  };

  route(
    router,
    {
      method: "get",
      path: "/api/console/export",
      summary: "Export the explorer's current filter (CSV or NDJSON), streamed newest first; X-Export-Total says how many entries",
      tags: ["console"],
      query: ConsoleExportQuery,
      headers: [ticketHeader],
      produces: ["text/csv", "application/x-ndjson"],
      responses: { 200: "The entries as a file", 403: "Panel role too low" },
      before: guard(deps, "audit.export"),
    },
    async ({ query, req, res }) => {
      const actor = requireActor(req);
      const ticketId = ticketIdOf(req);
      // No link, but a row all the same: the stream's heartbeat, so a process killed mid-way is settled as interrupted.
      const rowId = await openHeaderExport(db, { actor, ticketId, query, now: deps.clock.now() });
      await runExport(req, res, query, { actor, ticketId, rowId });
    },
  );

  route(
    router,
    {
      method: "post",
      path: "/api/console/export-links",
      summary: "A single-use download link (60 s) for an export of these filters, for the browser to save without holding it",
      tags: ["console"],
      body: ConsoleExportQuery,
      headers: [ticketHeader],
      responses: { 201: ExportLinkIssued, 403: "Panel role too low" },
      before: guard(deps, "audit.export"),
    },
    async ({ body, req, res }) => {
      // The ticket the console names in X-Ticket-Id, as for the header export; the body's ticketId is a filter, not that.
      const ticketId = TicketId.safeParse(req.get("x-ticket-id")).data ?? null;
      const link = await issueExportLink(db, { actor: requireActor(req), ticketId, query: body, now: deps.clock.now() });
      res.status(201);
      return { id: link.id, url: `/api/console/export-downloads/${link.token}`, expiresAt: link.expiresAt.toISOString() } satisfies ExportLinkIssued;
    },
  );

  route(
    router,
    {
      method: "get",
      path: "/api/console/export-links/:id",
      summary: "How far the download of one of your export links got (waiting, streaming, complete, incomplete, interrupted, expired)",
      tags: ["console"],
      params: LinkIdParams,
      responses: { 200: ExportLinkStatusView, 404: "No such link of yours" },
      before: guard(deps, "audit.export"),
    },
    async ({ params, req }) => {
      const status = await exportLinkStatus(db, deps.clock, params.id, requireActor(req).staffId);
      if (!status) throw Problem.notFound("No export link of yours has this id");
      return status satisfies ExportLinkStatusView;
    },
  );

  route(
    router,
    {
      method: "get",
      path: "/api/console/export-downloads/:token",
      summary: "Follow an export link once: the file, as the staff member who asked for it (their role checked again now)",
      tags: ["console"],
      params: LinkTokenParams,
      authenticated: false,
      produces: ["text/csv", "application/x-ndjson"],
      responses: { 200: "The entries as a file", 403: "Panel role too low now", 404: "Not a link Steward made", 410: "The link was used or expired" },
    },
    async ({ params, req, res }) => {
      if (!TOKEN_SHAPE.test(params.token)) throw new Problem(404, "export_link_unknown", "Not found", "This export link is not one Steward made. Start the export again from the console.");
      const link = await redeemExportLink(db, params.token, deps.clock.now());
      let actor: StaffActor;
      try {
        // Identity and role come from the staff row now, not from the browser or from when the link was made.
        const staff = await findStaffById(db, link.staffId);
        if (!staff || staff.zendesk_user_id !== link.zendeskUserId) throw new SessionTokenError("missing_user");
        if (!staff.active) throw Problem.forbidden("staff_inactive", "Your panel access has been removed; ask a Steward admin");
        actor = toStaffActor(staff);
        req.actor = actor;
        await deps.rateLimits?.checkAgent(req, actor);
        if (!roleAllows(actor.panelRole, "audit.export")) {
          const problem = actionDenied("audit.export", actor.panelRole);
          await recordDenial(deps, { actor, action: "audit.export", problem, req, ticketId: link.ticketId });
          throw problem;
        }
      } catch (err) {
        // The link is used up: the console shows why it gave no file.
        const problem = toProblem(err);
        await finishExportLink(db, link.id, { rowsSent: 0, at: deps.clock.now(), complete: false, error: `${problem.code}: ${problem.detail ?? problem.title}` });
        throw err;
      }
      const query = ConsoleExportQuery.parse(link.query);
      res.setHeader("Cache-Control", "no-store");
      await runExport(req, res, query, { actor, ticketId: link.ticketId, rowId: link.id });
    },
  );
}
