import { z } from "zod";
import { ActionNameSchema, type ActionRule } from "../actions.js";
import { TicketId } from "../audit.js";
import { PanelRole } from "../roles.js";

/** A panel staff member: a Zendesk agent known to Steward, with their panel role. */
export const StaffMember = z.object({
  id: z.string(),
  zendeskUserId: z.string(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  panelRole: PanelRole,
  active: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type StaffMember = z.infer<typeof StaffMember>;

export const StaffList = z.object({ staff: z.array(StaffMember) });
export type StaffList = z.infer<typeof StaffList>;

export const ZendeskUserId = z.string().regex(/^[1-9][0-9]{0,18}$/, "must be a Zendesk user id (a positive whole number)");

const Reason = z.string().trim().min(3, "say why, in a few words").max(500);
/** Panel administration is not about a customer, so the ticket is optional (recorded when given). */
const OptionalTicket = TicketId.optional();

export const StaffChange = z
  .object({ panelRole: PanelRole.optional(), active: z.boolean().optional(), reason: Reason, ticketId: OptionalTicket })
  .refine((v) => v.panelRole !== undefined || v.active !== undefined, { message: "give panelRole or active", path: ["panelRole"] });
export type StaffChange = z.infer<typeof StaffChange>;

export const StaffGrant = z.object({
  zendeskUserId: ZendeskUserId,
  email: z.email().optional(),
  name: z.string().trim().min(1).max(200).optional(),
  panelRole: PanelRole,
  reason: Reason,
  ticketId: OptionalTicket,
});
export type StaffGrant = z.infer<typeof StaffGrant>;

/** Units of the caps in shared/actions.ts (server/src/staff/caps.ts fails to compile if one is missing). */
export const CapUnit = z.enum(["days", "hours", "minutes", "cents", "seats"] as const satisfies readonly NonNullable<ActionRule["cap"]>["unit"][]);

/** One capped action: the input field it limits, and the limit in force for each panel role. */
export const ActionCap = z.object({
  action: ActionNameSchema,
  field: z.string(),
  unit: CapUnit,
  /** Limit in force per role (override or default); null when the role may not do the action. */
  limits: z.record(PanelRole, z.number().int().nullable()),
  defaults: z.record(PanelRole, z.number().int().nullable()),
  /** What one agent may use over a rolling 24 h, on one target and in all (in force, and the defaults). */
  perTarget: z.object({ limits: z.record(PanelRole, z.number().int().nullable()), defaults: z.record(PanelRole, z.number().int().nullable()) }),
  perDay: z.object({ limits: z.record(PanelRole, z.number().int().nullable()), defaults: z.record(PanelRole, z.number().int().nullable()) }),
});
export type ActionCap = z.infer<typeof ActionCap>;

export const CapList = z.object({ caps: z.array(ActionCap) });
export type CapList = z.infer<typeof CapList>;

export const CapChange = z.object({
  changes: z
    .array(
      z.object({
        action: ActionNameSchema,
        role: PanelRole,
        /** null puts the role back on the default from the permission table. */
        limit: z.number().int().min(0).max(1_000_000_000).nullable(),
        /** request: one action's value (default); target / day: what one agent may use over a rolling 24 h on one target / in all. */
        scope: z.enum(["request", "target", "day"]).default("request"),
      }),
    )
    .min(1)
    .max(50),
  reason: Reason,
  ticketId: OptionalTicket,
});
export type CapChange = z.infer<typeof CapChange>;
