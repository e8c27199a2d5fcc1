import type { Request } from "express";
import { Router } from "express";
import type { Kysely, Transaction } from "kysely";
import type { AuditFilters } from "../../../../shared/schemas/audit.js";
import { appendAudit } from "../../audit/auditLog.js";
import { auditBatches, auditHeadSeq, auditVisibilityFor, searchAudit } from "../../audit/auditQuery.js";
import { sealPending } from "../../audit/sealer.js";
import { verifyAuditChain } from "../../audit/verifyChain.js";
import { guard } from "../../auth/authorize.js";
import { ticketIdOf } from "../../auth/recordDenial.js";
import { requireActor } from "../../auth/requestActor.js";
import { openHeaderExport } from "../../console/exportLinks.js";
import { runTrackedExport } from "../../console/trackedExport.js";
import type { DB } from "../../db/schema.js";
import type { AppDeps } from "../../deps.js";
import { route } from "../../http/route.js";
import { AuditExportQuery, AuditPage, AuditSearchQuery, AuditVerification, AuditVerifyQuery, ticketHeader } from "./schema.js";

/** Only the filters actually given, as recorded in the reader's own audit entry. */
function givenFilters(query: AuditFilters): AuditFilters {
  const { actor, action, targetAccountId, targetUserId, ticketId, outcome, from, to } = query;
  return Object.fromEntries(Object.entries({ actor, action, targetAccountId, targetUserId, ticketId, outcome, from, to }).filter(([, v]) => v !== undefined));
}

export function auditRoutes(deps: AppDeps): Router {
  const router = Router();
  const { db } = deps.database;
  const readerEntry = (req: Request, action: "audit.search" | "audit.export" | "audit.verify", filters: AuditFilters, after: Record<string, unknown>, failed?: { error: string }, executor: Kysely<DB> | Transaction<DB> = db) =>
    appendAudit(
      executor,
      {
        actor: requireActor(req),
        action,
        target: { type: "audit", id: null, accountId: filters.targetAccountId ?? null },
        ticketId: ticketIdOf(req),
        after: { filters: givenFilters(filters), ...after },
        outcome: failed ? "failed" : "succeeded",
        error: failed?.error ?? null,
        requestId: String(req.id ?? "") || null,
      },
      deps.clock,
    );

  route(
    router,
    {
      method: "get",
      path: "/api/audit",
      summary: "Search the audit log, newest first (keyset pages); support roles see their own actions and tickets of their checked writes",
      tags: ["audit"],
      query: AuditSearchQuery,
      headers: [ticketHeader],
      responses: { 200: AuditPage, 403: "Panel role too low" },
      before: guard(deps, "audit.search"),
    },
    async ({ query, req }) => {
      const page = await searchAudit(db, query, { cursor: query.cursor, limit: query.limit }, auditVisibilityFor(requireActor(req)));
      // Recorded after the query, so a search never lists its own entry.
      await readerEntry(req, "audit.search", query, { cursor: query.cursor ?? null, returned: page.entries.length });
      return page;
    },
  );

  route(
    router,
    {
      method: "get",
      path: "/api/audit/export",
      summary: "Export matching audit entries (CSV or NDJSON), streamed newest first; the same visibility as search",
      tags: ["audit"],
      query: AuditExportQuery,
      headers: [ticketHeader],
      produces: ["text/csv", "application/x-ndjson"],
      responses: { 200: "The entries as a file", 403: "Panel role too low" },
      before: guard(deps, "audit.export"),
    },
    async ({ query, req, res }) => {
      const actor = requireActor(req);
      // A row for its stream, as for a console export: a process killed mid-way is settled as interrupted.
      const rowId = await openHeaderExport(db, { actor, ticketId: ticketIdOf(req), query, now: deps.clock.now() });
      await runTrackedExport(db, deps.clock, req, res, {
        rowId,
        format: query.format,
        what: "an audit export",
        entry: (executor, after, failed) => readerEntry(req, "audit.export", query, after, failed, executor),
        prepare: async () => {
          // The export is a snapshot up to the current head; its own entry (written first, so an aborted export is still on record) falls outside it.
          const throughSeq = await auditHeadSeq(db);
          return { after: { format: query.format, throughSeq }, total: null, headers: { "Cache-Control": "no-store" }, batches: () => auditBatches(db, query, { throughSeq, visibility: auditVisibilityFor(actor) }) };
        },
      });
    },
  );

  route(
    router,
    {
      method: "get",
      path: "/api/audit/verify",
      summary: "Check the sealed audit chain and list every break (incremental from the last intact verify unless full=true)",
      tags: ["audit"],
      query: AuditVerifyQuery,
      headers: [ticketHeader],
      responses: { 200: AuditVerification, 403: "Only admins verify the chain" },
      before: guard(deps, "audit.verify"),
    },
    async ({ query, req }) => {
      const anchors = query.anchorSeq !== undefined && query.anchorHash !== undefined ? [{ chainSeq: query.anchorSeq, hash: query.anchorHash }] : [];
      // Whatever is committed is sealed first, so the answer covers every entry up to now.
      await sealPending(db, deps.auditKeys, { now: () => deps.clock.now() });
      const result = await verifyAuditChain(db, deps.auditKeys, { mode: query.full === "true" ? "full" : "incremental", anchors, now: () => deps.clock.now() });
      const first = result.breaks[0];
      await readerEntry(req, "audit.verify", {}, {
        result: { ok: result.ok, mode: result.mode, entries: result.entries, headSeq: result.headSeq, breaks: result.breaks.length, ...(first ? { brokenAt: first.brokenAt, reason: first.reason } : {}) },
      });
      return result;
    },
  );
  return router;
}
