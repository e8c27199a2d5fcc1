import { z } from "zod";
import { ActionNameSchema, actionNames } from "../actions.js";
import { AuditEntry, AuditOutcome, TicketId } from "../audit.js";
import { actionGroupOf, flagIds } from "../flags.js";
import { AUDIT_PAGE_MAX, AuditExportFormat, FilterInstant, wholeNumberText } from "./audit.js";

export const actionGroups = [...new Set(actionNames.map(actionGroupOf))] as [string, ...string[]];
export const FlagIdSchema = z.enum(flagIds);

/** The explorer's filters (all optional, combined with AND); dates are UTC instants. Strict, as the audit search's. */
const consoleFilterFields = z.strictObject({
  actor: z.string().trim().min(1).max(320).optional().describe("Staff id, or staff email (contains @)"),
  action: ActionNameSchema.optional(),
  group: z.enum(actionGroups).optional().describe("Action group: the action name's prefix (user, billing…)"),
  outcome: AuditOutcome.optional().describe("pending: intents whose outcome entry is not in the log yet"),
  ticketId: TicketId.optional(),
  targetAccountId: z.string().trim().min(1).max(200).optional(),
  targetUserId: z.string().trim().min(1).max(200).optional(),
  from: FilterInstant.optional().describe("Inclusive lower bound on occurredAt"),
  to: FilterInstant.optional().describe("Exclusive upper bound on occurredAt"),
  flag: FlagIdSchema.optional(),
});
const ordered = (f: { from?: string; to?: string }) => !f.from || !f.to || Date.parse(f.from) <= Date.parse(f.to);
const orderedRange = [ordered, { message: "must not be after to", path: ["from"] }] as [typeof ordered, { message: string; path: string[] }];

export const ConsoleFilters = consoleFilterFields.refine(...orderedRange);
export type ConsoleFilters = z.infer<typeof ConsoleFilters>;

export const ConsoleEntriesQuery = consoleFilterFields
  .extend({
    /** desc: newest first (the explorer); asc: oldest first (ticket and agent timelines). */
    order: z.enum(["desc", "asc"]).default("desc"),
    cursor: z.string().max(100).optional().describe("nextCursor of the previous page"),
    limit: wholeNumberText().min(1).max(AUDIT_PAGE_MAX).default(50),
  })
  .refine(...orderedRange);
export type ConsoleEntriesQuery = z.infer<typeof ConsoleEntriesQuery>;

export const ConsoleExportQuery = consoleFilterFields.extend({ format: AuditExportFormat }).refine(...orderedRange);
export type ConsoleExportQuery = z.infer<typeof ConsoleExportQuery>;

/** A single-use export link: `url` is relative to Steward, for the browser to download once before `expiresAt`. */
export const ExportLinkIssued = z.object({ id: z.string(), url: z.string(), expiresAt: z.string() });
export type ExportLinkIssued = z.infer<typeof ExportLinkIssued>;

/**
 * How far a link's download got, as the server sent it (the browser's download manager holds the file).
 * `interrupted`: the stream stopped with no end recorded (its process was killed, or lost the database) and no
 * progress for 30 s; rowsSent is what had been sent by its last progress write.
 */
export const ExportLinkStatusView = z.object({
  state: z.enum(["waiting", "expired", "streaming", "complete", "incomplete", "interrupted"]),
  /** Entries matching when the download started (counted up to 1,000,000); null until then. */
  total: z.number().int().nullable(),
  rowsSent: z.number().int(),
  /** Why the link gave no file, or why the file is incomplete. */
  error: z.string().nullable(),
});
export type ExportLinkStatusView = z.infer<typeof ExportLinkStatusView>;

export const FlaggedEntry = AuditEntry.extend({ flags: z.array(FlagIdSchema) });
export type FlaggedEntry = z.infer<typeof FlaggedEntry>;
export const ConsolePage = z.object({ entries: z.array(FlaggedEntry), nextCursor: z.string().nullable() });
export type ConsolePage = z.infer<typeof ConsolePage>;

/** One leaf that differs between before and after (a JSON path such as `billing.status`). */
export const DiffLine = z.object({ path: z.string(), change: z.enum(["added", "removed", "changed"]), before: z.unknown(), after: z.unknown() });
export type DiffLine = z.infer<typeof DiffLine>;

/** The ticket as recorded with the entry (from its ticket snapshot when there is one). */
export const EntryTicket = z.object({
  id: z.string(),
  subject: z.string().nullable(),
  status: z.string().nullable(),
  requester: z.object({ name: z.string().nullable(), email: z.string().nullable() }).nullable(),
  match: z.string().nullable(),
  fromSnapshot: z.boolean(),
});

export const EntryChain = z.object({
  /** The entry's MAC against the audit key: valid, invalid, or none (entries from before sealing). */
  mac: z.enum(["valid", "invalid", "none"]),
  /** sealed: chained by the sealer; verified: also inside the last intact chain verify. */
  status: z.enum(["unsealed", "sealed", "verified"]),
  chainSeq: z.number().int().nullable(),
  verifiedAt: z.string().nullable(),
});

export const ConsoleEntryView = z.object({ entry: FlaggedEntry, diff: z.array(DiffLine), ticket: EntryTicket.nullable(), chain: EntryChain });
export type ConsoleEntryView = z.infer<typeof ConsoleEntryView>;

export const ActivitySeries = z.object({ key: z.string(), label: z.string(), counts: z.array(z.number().int()) });
export type ActivitySeries = z.infer<typeof ActivitySeries>;
export const ConsoleOverview = z.object({
  from: z.string(),
  to: z.string(),
  flags: z.array(z.object({ id: FlagIdSchema, count: z.number().int() })),
  /** UTC days, oldest first; each series has one count per day. */
  days: z.array(z.string()),
  byAgent: z.array(ActivitySeries),
  byGroup: z.array(ActivitySeries),
});
export type ConsoleOverview = z.infer<typeof ConsoleOverview>;
export const ConsoleOverviewQuery = z.strictObject({ days: wholeNumberText().min(1).max(90).default(30) });
