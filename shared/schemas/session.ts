import { z } from "zod";
import { ActionNameSchema } from "../actions.js";
import { PanelRole } from "../roles.js";
import { CapUnit } from "./staff.js";

/** What the signed-in agent may do: every action, allowed or not, with the cap their role has. */
export const ActionPermission = z.object({
  allowed: z.boolean(),
  cap: z.object({ field: z.string(), unit: CapUnit, limit: z.number().int() }).optional(),
});
export const Permissions = z.record(ActionNameSchema, ActionPermission);
export type Permissions = z.infer<typeof Permissions>;

export const SessionStaff = z.object({
  id: z.string(),
  zendeskUserId: z.string(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  panelRole: PanelRole,
});

export const SessionGrant = z.object({
  sessionToken: z.string(),
  expiresAt: z.string(),
  staff: SessionStaff,
  permissions: Permissions,
  /** The plans a subscription may move to (the server's plan catalog). */
  plans: z.array(z.string()),
});
export type SessionGrant = z.infer<typeof SessionGrant>;

/** The session as the server sees it now (role read fresh), without a new token. */
export const SessionInfo = SessionGrant.omit({ sessionToken: true });
export type SessionInfo = z.infer<typeof SessionInfo>;

export const SessionRequest = z.object({ token: z.string().min(1, "the ZAF token from Zendesk").max(8192) });
