import { z } from "zod";
import { PanelRole } from "../roles.js";
import { ActionTarget, CustomerLocale } from "./actions.js";
import { TicketId } from "../audit.js";

/**
 * `GET /api/actions/available`: for one loaded target, every support action on it as available,
 * unavailable with the reason, or unknown (a provider could not be read). The server computes it with
 * the same checks the actions run, so the app never offers what the server would refuse.
 */
export const AvailableActionsQuery = z
  .object({
    targetType: z.enum(["user", "account"]),
    targetId: z.string().trim().min(1).max(100),
    /** The ticket the agent works: named in the customer notices' text. */
    ticketId: TicketId.optional(),
    /** The ticket requester's locale: the notices' text in their language where there is a translation. */
    customerLocale: CustomerLocale.optional(),
  })
  .strict();
export type AvailableActionsQuery = z.infer<typeof AvailableActionsQuery>;

/** Why an action cannot be done now: the target's state, the agent's role, the cap used up, no billing, an unsettled earlier action, or a provider that did not answer. */
export const UnavailableReason = z.enum(["state", "role", "cap", "billing", "pending", "provider"]);
export type UnavailableReason = z.infer<typeof UnavailableReason>;

export const CapLeft = z.object({
  field: z.string(),
  unit: z.string(),
  left: z.number().int().nonnegative(),
  perRequest: z.number().int().nonnegative(),
  canGoFurther: z.array(PanelRole),
});
export type CapLeft = z.infer<typeof CapLeft>;

/** The email the customer gets when the agent ticks "notify the customer" (or always, when mandatory). */
export const CustomerNotice = z.object({
  mandatory: z.boolean(),
  to: z.array(z.string()),
  subject: z.string(),
  /** The text as the first recipient gets it (the others differ only in the greeting). */
  bodyText: z.string(),
});
export type CustomerNotice = z.infer<typeof CustomerNotice>;

export const ActionAvailability = z.object({
  action: z.string(),
  status: z.enum(["available", "unavailable", "unknown"]),
  reason: UnavailableReason.nullable(),
  /** The problem code the action itself would answer (invalid_transition, account_closed, over_cap…). */
  code: z.string().nullable(),
  detail: z.string().nullable(),
  /** For `role`: the lowest panel role that may do it. */
  requiredRole: PanelRole.nullable(),
  /** For capped actions: what is left to this agent on this target now. */
  cap: CapLeft.nullable(),
  /** Whether the action shows its effects first (POST …/preview): every action that changes money or access. */
  preview: z.boolean(),
  /** The customer notice this action can send, or null when it sends none. */
  notice: CustomerNotice.nullable(),
});
export type ActionAvailability = z.infer<typeof ActionAvailability>;

/**
 * A temporary grant still open on the target (a raised role on a user, extra seats on an account), with
 * what ends it now (user.elevation_end / seats.expansion_end, whose availability is in `actions`).
 * `endsAt` past `checkedAt` means the sweep has not reached it yet.
 */
export const TemporaryGrant = z.object({
  kind: z.enum(["elevation", "seats"]),
  id: z.string(),
  endAction: z.enum(["user.elevation_end", "seats.expansion_end"]),
  /** elevation: the role given and the one that comes back. */
  role: z.string().nullable(),
  previousRole: z.string().nullable(),
  /** seats: how many were added. */
  seats: z.number().int().nullable(),
  endsAt: z.string(),
  ticketId: z.string(),
  /** Who granted it: a staff member's name (or email), or null for Steward itself. */
  grantedBy: z.string().nullable(),
});
export type TemporaryGrant = z.infer<typeof TemporaryGrant>;

export const AvailableActions = z.object({
  target: ActionTarget,
  version: z.number().int(),
  checkedAt: z.string(),
  actions: z.array(ActionAvailability),
  grants: z.array(TemporaryGrant),
});
export type AvailableActions = z.infer<typeof AvailableActions>;
