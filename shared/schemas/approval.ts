import { z } from "zod";
import { TicketId } from "../audit.js";
import { PanelRole } from "../roles.js";
import { ActionTarget, CustomerLocale, Reason } from "./actions.js";
import { TicketOverrideReason } from "./ticket.js";

export const approvalStatuses = ["pending", "approved", "rejected", "expired", "failed"] as const;
export const ApprovalStatus = z.enum(approvalStatuses);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

export const ApprovalPerson = z.object({ staffId: z.string(), email: z.string(), name: z.string().nullable() });
export type ApprovalPerson = z.infer<typeof ApprovalPerson>;

/** One request for a second person to run an action the requester may not run alone. */
export const ApprovalRequest = z.object({
  id: z.string(),
  action: z.string(),
  targetType: ActionTarget.shape.type,
  targetId: z.string(),
  ticketId: z.string(),
  reason: z.string(),
  input: z.unknown(),
  /** The requester's "notify the customer" choice, applied when the action runs; null: not given (the action's default). */
  notifyCustomer: z.boolean().nullable(),
  /** The requester's preview (effects) for destructive actions, else null. */
  preview: z.unknown().nullable(),
  status: ApprovalStatus,
  requestedBy: ApprovalPerson.extend({ panelRole: PanelRole }),
  decidedBy: ApprovalPerson.nullable(),
  decisionReason: z.string().nullable(),
  /** What the action answered when it ran (approved), or the problem it ended with (failed). */
  result: z.unknown().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  decidedAt: z.string().nullable(),
});
export type ApprovalRequest = z.infer<typeof ApprovalRequest>;

/** `POST /api/approvals`: the same fields as `POST /api/actions/:action`, with the action named. */
export const ApprovalCreate = z.object({
  action: z.string().min(1).max(100),
  targetType: ActionTarget.shape.type,
  targetId: ActionTarget.shape.id,
  ticketId: TicketId,
  reason: Reason,
  input: z.record(z.string(), z.unknown()).default({}),
  // The same rule as on the action: the reason is recorded and flagged, so "x" is not one.
  ticketOverrideReason: TicketOverrideReason.optional(),
  /** As on the action: whether the customer gets the action's notice when it runs (kept until an approver runs it). */
  notifyCustomer: z.boolean().optional(),
  /** As on the action: the language of the customer's notice (the ticket requester's locale). */
  customerLocale: CustomerLocale.optional(),
});
export type ApprovalCreate = z.infer<typeof ApprovalCreate>;

export const ApprovalDecision = z.object({ reason: Reason });
export const ApprovalApprove = z.object({ reason: Reason.optional() }).default({});

export const ApprovalQuery = z.object({
  ticketId: TicketId.optional(),
  status: ApprovalStatus.optional(),
  /** `mine`: requests I may approve (not my own). */
  for: z.enum(["me"]).optional(),
});

export const ApprovalResponse = z.object({ approval: ApprovalRequest });
export const ApprovalListResponse = z.object({ approvals: z.array(ApprovalRequest) });

/** The admin's list of actions that always need a second person. */
export const ApprovalPolicy = z.object({ actions: z.array(z.string()) });
export const ApprovalPolicySet = z.object({ action: z.string().min(1).max(100), requiresApproval: z.boolean(), reason: Reason });

export { AuditApproval } from "../audit.js";
