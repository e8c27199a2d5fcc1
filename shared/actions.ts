import { z } from "zod";
import type { PanelRole } from "./roles.js";

/**
 * The panel's permission table: every action Steward performs, the lowest panel role allowed to do
 * it, and its per-role caps. The server enforces it on every request; the app reads it only to decide
 * what to show; the README renders it. Audit entries use these names as their `action`.
 */
export interface ActionRule {
  /** Lowest panel role allowed. `system` actions are done by Steward itself (sweeps, mail). */
  minRole: PanelRole | "system";
  kind: "read" | "write";
  /** Destructive writes need a billing-aware preview and a confirmation token. */
  destructive?: boolean;
  /** Value limit per role: the input field it applies to, its unit, and the largest value each role may use. */
  cap?: { field: string; unit: "days" | "hours" | "minutes" | "cents" | "seats"; limits: Partial<Record<PanelRole, number>> };
  /** For actions with modes (impersonation): the input field and the lowest role allowed each mode. */
  modes?: { field: string; minRoles: Record<string, PanelRole> };
  summary: string;
}

export const actionRules = {
  // Lookup and audit reading
  "context.view": { minRole: "support_read_only", kind: "read", summary: "See a ticket requester's user and account context" },
  "search.run": { minRole: "support_read_only", kind: "read", summary: "Search accounts and users" },
  "account.view": { minRole: "support_read_only", kind: "read", summary: "Open an account" },
  "user.view": { minRole: "support_read_only", kind: "read", summary: "Open a user" },
  "audit.search": { minRole: "support_read_only", kind: "read", summary: "Search the audit log" },
  "audit.export": { minRole: "support_read_only", kind: "read", summary: "Export the audit log (CSV, NDJSON)" },
  "audit.verify": { minRole: "admin", kind: "read", summary: "Verify the audit hash chain" },
  "action.preview": { minRole: "support_full", kind: "read", summary: "Preview the billing effects of a destructive action" },

  // Panel administration
  "staff.list": { minRole: "admin", kind: "read", summary: "List panel staff" },
  "staff.grant": { minRole: "admin", kind: "write", summary: "Add a staff member or change their panel role" },
  "staff.deactivate": { minRole: "admin", kind: "write", summary: "Remove a staff member's panel access" },
  "staff.caps_change": { minRole: "admin", kind: "write", summary: "Change the per-role caps" },

  // Auth help
  "user.password_reset": { minRole: "support_full", kind: "write", summary: "Send a password reset" },
  "user.lockout_clear": { minRole: "support_full", kind: "write", summary: "Clear a lockout after failed logins" },
  "user.mfa_reset": { minRole: "support_full", kind: "write", summary: "Reset two-factor authentication" },
  "user.sessions_revoke": { minRole: "support_full", kind: "write", summary: "Revoke all sessions" },
  "user.block": { minRole: "support_full", kind: "write", summary: "Block a user from signing in" },
  "user.unblock": { minRole: "support_full", kind: "write", summary: "Unblock a user" },

  // User status and roles
  "user.activate": { minRole: "support_full", kind: "write", summary: "Activate a user" },
  "user.suspend": { minRole: "support_full", kind: "write", summary: "Suspend a user" },
  "user.deactivate": { minRole: "support_full", kind: "write", summary: "Deactivate a user (revoke access)" },
  "user.delete": { minRole: "operations", kind: "write", destructive: true, summary: "Delete a user" },
  "user.role_change": { minRole: "support_full", kind: "write", summary: "Change a user's product role" },
  "user.promote_admin": { minRole: "support_full", kind: "write", summary: "Promote a new admin when the account has none" },
  "user.elevate_temporarily": {
    minRole: "support_full",
    kind: "write",
    cap: { field: "hours", unit: "hours", limits: { support_full: 72, operations: 336, admin: 720 } },
    summary: "Raise a user's role for a limited time",
  },
  "user.elevation_expire": { minRole: "system", kind: "write", summary: "Restore a role after a temporary elevation" },

  // Account status
  "account.activate": { minRole: "operations", kind: "write", summary: "Activate a deactivated account" },
  "account.suspend": { minRole: "support_full", kind: "write", summary: "Suspend an account (sign-in blocked, billing unchanged)" },
  "account.unsuspend": { minRole: "support_full", kind: "write", summary: "Lift an account suspension" },
  "account.deactivate": { minRole: "operations", kind: "write", destructive: true, summary: "Deactivate an account (access removed, subscription ends at period end)" },
  "account.delete": { minRole: "operations", kind: "write", destructive: true, summary: "Delete an account (soft delete with a retention date)" },

  // Seats and billing
  "seats.change": { minRole: "operations", kind: "write", destructive: true, summary: "Change licensed seats" },
  "seats.expand_temporarily": {
    minRole: "support_full",
    kind: "write",
    cap: { field: "seats", unit: "seats", limits: { support_full: 5, operations: 50, admin: 50 } },
    summary: "Add seats for a limited time",
  },
  "seats.expansion_expire": { minRole: "system", kind: "write", summary: "Revert a temporary seat expansion" },
  "seats.reclaim": { minRole: "support_full", kind: "write", summary: "Reclaim seats by deactivating users who left" },
  "billing.trial_extend": {
    minRole: "support_full",
    kind: "write",
    cap: { field: "days", unit: "days", limits: { support_full: 14, operations: 90, admin: 90 } },
    summary: "Extend a trial",
  },
  "billing.credit_apply": {
    minRole: "support_full",
    kind: "write",
    cap: { field: "amountCents", unit: "cents", limits: { support_full: 5_000, operations: 100_000, admin: 100_000 } },
    summary: "Apply a credit to the customer's balance",
  },
  "billing.plan_change": { minRole: "operations", kind: "write", destructive: true, summary: "Change the subscription plan" },
  "billing.subscription_cancel": { minRole: "operations", kind: "write", destructive: true, summary: "Cancel the subscription" },

  // Impersonation
  "impersonation.start": {
    minRole: "support_full",
    kind: "write",
    cap: { field: "minutes", unit: "minutes", limits: { support_full: 30, operations: 60, admin: 120 } },
    modes: { field: "mode", minRoles: { read_only: "support_full", full: "operations" } },
    summary: "Start impersonating a user for a ticket (read-only; full mode from operations)",
  },
  "impersonation.stop": { minRole: "support_full", kind: "write", summary: "Stop an impersonation session (your own; operations and admin: anyone's)" },
  "impersonation.expire": { minRole: "system", kind: "write", summary: "End an impersonation session past a deadline, or whose agent or customer lost access" },
  "impersonation.redeem": { minRole: "system", kind: "write", summary: "Exchange a one-time handoff grant for a product session (called by the product)" },
  "impersonation.event": { minRole: "system", kind: "write", summary: "Record what an agent did inside the product while impersonating (reported by the product)" },
  "impersonation.notices_change": { minRole: "admin", kind: "write", summary: "Turn the customer notices of impersonation on or off" },
  "impersonation.product_register": { minRole: "system", kind: "write", summary: "Register a product that accepts impersonation grants (command line)" },
  "impersonation.keys_rotate": { minRole: "system", kind: "write", summary: "Rotate the key that signs impersonation grants (command line)" },
  "zendesk.note_add": { minRole: "system", kind: "write", summary: "Add an internal note to a Zendesk ticket" },

  // Customer mail (audited when sent or when delivery fails)
  "mail.deliver": { minRole: "system", kind: "write", summary: "Deliver a customer-facing email" },
} as const satisfies Record<string, ActionRule>;

export type ActionName = keyof typeof actionRules;
export const actionNames = Object.keys(actionRules) as ActionName[];
export const ActionNameSchema = z.enum(actionNames as [ActionName, ...ActionName[]]);

export function ruleFor(action: ActionName): ActionRule {
  return actionRules[action];
}
