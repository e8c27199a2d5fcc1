import { z } from "zod";
import { ActionNameSchema } from "./actions.js";
import { PanelRole } from "./roles.js";
import { TicketSnapshot } from "./schemas/ticket.js";

/** `unknown`: a provider call whose effect is not known yet; the reconciler closes it as succeeded or failed. */
export const auditOutcomes = ["pending", "succeeded", "failed", "denied", "unknown"] as const;
export const AuditOutcome = z.enum(auditOutcomes);
export type AuditOutcome = z.infer<typeof AuditOutcome>;

export const targetTypes = ["account", "user", "staff", "audit", "search", "system"] as const;
export const TargetType = z.enum(targetTypes);
export type TargetType = z.infer<typeof TargetType>;

/** Zendesk ticket ids are positive integers; we keep them as strings end to end. */
export const TicketId = z.string().regex(/^[1-9][0-9]{0,18}$/, "must be a Zendesk ticket id (a positive whole number)");

/** Where the sealer put an entry in the chain: hash is a MAC (audit key) over chainSeq, prevHash and entryHash. */
export const AuditSeal = z.object({ chainSeq: z.number().int(), entryHash: z.string(), prevHash: z.string(), hash: z.string() });
export type AuditSeal = z.infer<typeof AuditSeal>;

/** Recorded in the audit entry of an action run through two-person approval. */
export const AuditApproval = z.object({
  requestId: z.string(),
  requestedBy: z.object({ staffId: z.string(), email: z.string() }),
  approvedBy: z.object({ staffId: z.string(), email: z.string() }),
});
export type AuditApproval = z.infer<typeof AuditApproval>;

export const AuditEntry = z.object({
  id: z.string(),
  seq: z.number().int(),
  occurredAt: z.string(),
  actor: z.object({
    staffId: z.string().nullable(),
    zendeskUserId: z.string().nullable(),
    email: z.string().nullable(),
    panelRole: PanelRole.nullable(),
    /** Set instead of the staff fields when Steward itself acted (sweeper, mailer…). */
    system: z.string().nullable(),
  }),
  action: ActionNameSchema,
  target: z.object({ type: TargetType, id: z.string().nullable(), accountId: z.string().nullable() }),
  ticketId: z.string().nullable(),
  reason: z.string().nullable(),
  before: z.unknown().nullable(),
  after: z.unknown().nullable(),
  outcome: AuditOutcome,
  error: z.string().nullable(),
  requestId: z.string().nullable(),
  operationId: z.string().nullable(),
  /** The ticket as Zendesk showed it when a write was checked (null for reads, system actions, older entries). */
  ticketSnapshot: TicketSnapshot.nullable(),
  /** Who asked and who approved, for an action run through two-person approval. */
  approval: AuditApproval.nullable(),
  /** HMAC made with the audit key when the entry was written (null only for entries from before sealing existed). */
  mac: z.string().nullable(),
  /** Null until the sealer has chained the entry (within about a second of its commit). */
  seal: AuditSeal.nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;
