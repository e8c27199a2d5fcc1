import { z } from "zod";
import { ActionNameSchema } from "../actions.js";
import { AuditEntry, AuditOutcome, TicketId } from "../audit.js";

const EARLIEST = Date.parse("0001-01-01T00:00:00.000Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");
/** An instant both databases take as a timestamp: PGlite refuses one outside years 0001–9999 UTC (an offset can move 0000 or 9999 there). */
export const storableInstant = (ms: number) => ms >= EARLIEST && ms <= LATEST;

/**
 * A whole number given as text (query string, path). Only text that is no number reads "expected a number";
 * one out of range keeps its bound's message (a schema-wide message would give limit=0 "expected a number" too).
 */
export const wholeNumberText = (noun = "a number") =>
  z.coerce.number({ error: (issue) => (issue.code !== "invalid_type" ? undefined : issue.expected === "int" ? "expected a whole number" : `expected ${noun}`) }).int();
export const FilterInstant = z.iso
  .datetime({ offset: true, message: "expected an ISO 8601 date-time" })
  // (Text that is no date at all is the format check's to name.)
  .refine((v) => Number.isNaN(Date.parse(v)) || storableInstant(Date.parse(v)), "must fall within the years 0001 to 9999 (UTC)");

/**
 * Search filters for the audit log; the same ones apply to export. All optional, combined with AND.
 * Strict: a misspelt or unknown filter is refused, not dropped (dropped, it would silently widen the answer).
 */
const filterFields = z.strictObject({
    actor: z.string().trim().min(1).max(320).optional().describe("Staff id, or staff email (contains @)"),
    action: ActionNameSchema.optional(),
    targetAccountId: z.string().trim().min(1).max(200).optional(),
    targetUserId: z.string().trim().min(1).max(200).optional(),
    ticketId: TicketId.optional(),
    outcome: AuditOutcome.optional().describe("pending: intents whose outcome entry is not in the log yet"),
    from: FilterInstant.optional().describe("Inclusive lower bound on occurredAt"),
    to: FilterInstant.optional().describe("Exclusive upper bound on occurredAt"),
});
const rangeIsOrdered = (f: { from?: string; to?: string }) => !f.from || !f.to || Date.parse(f.from) <= Date.parse(f.to);
const orderedRange = [rangeIsOrdered, { message: "must not be after to", path: ["from"] }] as [typeof rangeIsOrdered, { message: string; path: string[] }];

export const AuditFilters = filterFields.refine(...orderedRange);
export type AuditFilters = z.infer<typeof AuditFilters>;

export const AUDIT_PAGE_MAX = 200;

export const AuditSearchQuery = filterFields
  .extend({
    cursor: z.string().max(100).optional().describe("nextCursor of the previous page"),
    limit: wholeNumberText().min(1).max(AUDIT_PAGE_MAX).default(50),
  })
  .refine(...orderedRange);
export type AuditSearchQuery = z.infer<typeof AuditSearchQuery>;

export const AuditExportFormat = z.enum(["csv", "ndjson"]);
export type AuditExportFormat = z.infer<typeof AuditExportFormat>;
export const AuditExportQuery = filterFields.extend({ format: AuditExportFormat }).refine(...orderedRange);
export type AuditExportQuery = z.infer<typeof AuditExportQuery>;

/** Newest first; nextCursor is null on the last page. */
export const AuditPage = z.object({ entries: z.array(AuditEntry), nextCursor: z.string().nullable() });
export type AuditPage = z.infer<typeof AuditPage>;

export const ChainBreakReason = z.enum(["changed", "deleted", "inserted", "reordered"]);
export type ChainBreakReason = z.infer<typeof ChainBreakReason>;

/** One place where the log does not hold: the entry (seq, id) and the chain position it concerns. */
export const ChainBreak = z.object({
  /** seq of the entry concerned (null when only a chain position is known, e.g. removed seals). */
  brokenAt: z.number().int().nullable(),
  chainSeq: z.number().int().nullable(),
  entryId: z.string().nullable(),
  reason: ChainBreakReason,
  detail: z.string(),
});
export type ChainBreak = z.infer<typeof ChainBreak>;

/** The result of checking the sealed chain: every break found (not only the first), and what is not sealed yet. */
export const AuditVerification = z.object({
  ok: z.boolean(),
  /** full: from the first entry; incremental: from the head the last intact verify recorded (fromSeq). */
  mode: z.enum(["full", "incremental"]),
  fromSeq: z.number().int(),
  /** Sealed entries checked. */
  entries: z.number().int(),
  /** Chain position and hash of the head: record them (or the exported checkpoints) to anchor a later verify. */
  headSeq: z.number().int().nullable(),
  headHash: z.string(),
  /** Entries committed but not sealed yet (the sealer adds them within about a second). */
  unsealed: z.number().int(),
  breaks: z.array(ChainBreak),
  /** More breaks were found than are listed. */
  truncated: z.boolean(),
});
export type AuditVerification = z.infer<typeof AuditVerification>;
