import { z } from "zod";
import { TicketId } from "../../../../shared/audit.js";
import { wholeNumberText } from "../../../../shared/schemas/audit.js";

/** The audit routes' request and response schemas live in shared/ so the app uses the same ones. */
export { AuditExportQuery, AuditPage, AuditSearchQuery, AuditVerification } from "../../../../shared/schemas/audit.js";

// Strict: a misspelt `full` would otherwise run an incremental verify while the caller believes it full.
export const AuditVerifyQuery = z
  .strictObject({
    full: z.enum(["true", "false"], { message: "expected true or false" }).optional().describe("true: check every entry from the first, not only those since the last intact verify"),
    anchorSeq: wholeNumberText().positive().optional().describe("chain position of a head recorded earlier (a verify's headSeq or a checkpoint's chainSeq)"),
    anchorHash: z.string().regex(/^[0-9a-f]{64}$/, "expected a SHA-256 hex hash").optional().describe("hash recorded with anchorSeq"),
  })
  .refine((q) => (q.anchorSeq === undefined) === (q.anchorHash === undefined), { message: "give anchorSeq and anchorHash together", path: ["anchorHash"] });

export const ticketHeader = { name: "X-Ticket-Id", required: false, description: "The Zendesk ticket the agent is working on (recorded in the audit entry)", schema: TicketId };
