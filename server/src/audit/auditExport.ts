import type { Response } from "express";
import type { AuditEntry } from "../../../shared/audit.js";
import type { AuditExportFormat } from "../../../shared/schemas/audit.js";
import { writable } from "../http/writable.js";

/** CSV columns, one per stored field; before/after are their JSON text. */
const columns: [string, (e: AuditEntry) => string | number | null][] = [
  ["seq", (e) => e.seq],
  ["id", (e) => e.id],
  ["occurred_at", (e) => e.occurredAt],
  ["actor_staff_id", (e) => e.actor.staffId],
  ["actor_zendesk_user_id", (e) => e.actor.zendeskUserId],
  ["actor_email", (e) => e.actor.email],
  ["actor_role", (e) => e.actor.panelRole],
  ["actor_system", (e) => e.actor.system],
  ["action", (e) => e.action],
  ["target_type", (e) => e.target.type],
  ["target_id", (e) => e.target.id],
  ["target_account_id", (e) => e.target.accountId],
  ["ticket_id", (e) => e.ticketId],
  ["reason", (e) => e.reason],
  ["outcome", (e) => e.outcome],
  ["error", (e) => e.error],
  ["request_id", (e) => e.requestId],
  ["operation_id", (e) => e.operationId],
  ["before", (e) => (e.before === null ? null : JSON.stringify(e.before))],
  ["after", (e) => (e.after === null ? null : JSON.stringify(e.after))],
  ["ticket_snapshot", (e) => (e.ticketSnapshot ? JSON.stringify(e.ticketSnapshot) : null)],
  ["approval", (e) => (e.approval ? JSON.stringify(e.approval) : null)],
  ["mac", (e) => e.mac],
  ["chain_seq", (e) => e.seal?.chainSeq ?? null],
  ["chain_prev_hash", (e) => e.seal?.prevHash ?? null],
  ["chain_hash", (e) => e.seal?.hash ?? null],
  // The hash a verify recomputes from the entry's fields: with chain_seq it matches a row to the verify's answer. Last, so older readers' columns keep their places.
  ["chain_entry_hash", (e) => e.seal?.entryHash ?? null],
];

/** RFC 4180 quoting; text a spreadsheet would run as a formula gets a leading ' (OWASP CSV injection advice). */
function csvField(value: string | number | null): string {
  // Stryker disable next-line ConditionalExpression: without it null passes through as null, and join() writes null as "" too
  if (value === null) return "";
  // Stryker disable next-line ConditionalExpression,StringLiteral: the numbers (seq, chain position) are positive, so the text path gives the same digits
  if (typeof value === "number") return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  // Also ; and tab: Excel in a locale whose list separator is ; (German, French…) splits an unquoted field there,
  // and the text after it (x;=HYPERLINK(…)) would start a cell of its own, undefused.
  return /[",;\t\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const exportContentTypes: Record<AuditExportFormat, string> = {
  csv: "text/csv; charset=utf-8",
  ndjson: "application/x-ndjson; charset=utf-8",
};

/** What goes before the first entry (the CSV header line). */
export function exportPreamble(format: AuditExportFormat): string {
  return format === "csv" ? `${columns.map(([name]) => name).join(",")}\r\n` : "";
}

/** One entry as a CSV record or an NDJSON line (NDJSON keeps every value exactly, with the MAC and seal). */
export function exportLine(format: AuditExportFormat, entry: AuditEntry): string {
  if (format === "ndjson") return `${JSON.stringify(entry)}\n`;
  return `${columns.map(([, get]) => csvField(get(entry))).join(",")}\r\n`;
}

export function exportFilename(format: AuditExportFormat, at: Date): string {
  return `steward-audit-${at.toISOString().replace(/[:.]/g, "-")}.${format}`;
}

/** How a streamed export ended; `rows` = entries handed to the connection by then. */
export type ExportEnd = { complete: true; rows: number } | { complete: false; rows: number; cause: "client_closed" | "failed"; error?: unknown };

/**
 * Streams the batches as the file, one batch in memory at a time. It is complete only once every entry
 * was written and the response finished; a client leaving first or a failure mid-stream (the stream is
 * then cut, so the client sees an incomplete download, not a short file that ends normally) is not.
 */
export async function streamExport(res: Response, format: AuditExportFormat, batches: AsyncIterable<AuditEntry[]>): Promise<ExportEnd> {
  let closed = false;
  res.once("close", () => (closed = true));
  let rows = 0;
  try {
    if (!res.write(exportPreamble(format))) await writable(res);
    for await (const batch of batches) {
      if (closed) break;
      const text = batch.map((entry) => exportLine(format, entry)).join("");
      rows += batch.length;
      if (!res.write(text)) await writable(res);
    }
    if (closed) return { complete: false, rows, cause: "client_closed" };
    res.end();
    // 'finish': all of it went out; 'close' without it: the client left before the end.
    if (!res.writableFinished) await new Promise((done) => (res.once("finish", done), res.once("close", done)));
    return res.writableFinished ? { complete: true, rows } : { complete: false, rows, cause: "client_closed" };
  } catch (error) {
    res.destroy(error as Error);
    return { complete: false, rows, cause: "failed", error };
  }
}

/** The follow-up entry's error text for an export that did not complete (fixed wording: no provider or database text). */
export function incompleteExportError(end: Extract<ExportEnd, { complete: false }>): string {
  return end.cause === "failed"
    ? `export_incomplete: the export failed after ${end.rows} entries were sent; the file is incomplete`
    : `export_incomplete: the client went away after ${end.rows} entries were sent; the file is incomplete`;
}
