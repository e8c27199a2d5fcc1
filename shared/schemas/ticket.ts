import { z } from "zod";

/**
 * How a write's ticket was checked against its target: the requester is the target user (email,
 * external id), or belongs to the target's account (organization, email domain); `override` = it did
 * not match and an operations+ agent went ahead with a reason; `unverified` = verification was off, or
 * the requester did not match an action that only ends access (impersonation.stop), which goes ahead.
 */
export const ticketMatches = ["email", "external_id", "organization", "domain", "override", "unverified"] as const;
export const TicketMatch = z.enum(ticketMatches);
export type TicketMatch = z.infer<typeof TicketMatch>;

/** The ticket as Zendesk showed it when the write was checked; stored (MACed) with the audit entry. */
export const TicketSnapshot = z.object({
  id: z.string(),
  subject: z.string(),
  status: z.string(),
  requester: z.object({
    id: z.string(),
    email: z.string().nullable(),
    externalId: z.string().nullable(),
    organizationId: z.string().nullable(),
    name: z.string().nullable(),
  }),
  assigneeId: z.string().nullable(),
  match: TicketMatch,
  overrideReason: z.string().nullable(),
  fetchedAt: z.string(),
});
export type TicketSnapshot = z.infer<typeof TicketSnapshot>;

/** The override reason operations+ give for a ticket whose requester is not the target. */
export const TicketOverrideReason = z.string().trim().min(10, "say why the ticket may differ, in at least 10 characters").max(500, "at most 500 characters");
