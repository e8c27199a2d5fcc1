import { z } from "zod";
import type { PanelRole } from "./roles.js";

/**
 * The panel's permission table: every action Steward performs, the lowest panel role allowed to do
 * it, and its per-role caps. The server enforces it on every request; the app reads it only to decide
 * what to show; the README renders it. Audit entries use these names as their `action`.
 */
/** What an action acts on; a support action's `target.type` must be this one (400 otherwise). */
export type ActionTargetType = "user" | "account" | "staff" | "audit" | "search" | "system";

export interface ActionRule {
  target: ActionTargetType;
  /** Lowest panel role allowed. `system` actions are done by Steward itself (sweeps, mail). */
  minRole: PanelRole | "system";
  kind: "read" | "write";
  /** Destructive writes need a billing-aware preview and a confirmation token. */
  destructive?: boolean;
  /**
   * Value limit per role: the input field it applies to, its unit, and the largest value each role may
   * use in one request (`limits`), per agent on one target over a rolling 24 h (`perTarget`), and per
   * agent over a rolling 24 h in all (`perDay`), so a cap cannot be split into several requests.
   */
  cap?: {
    field: string;
    unit: "days" | "hours" | "minutes" | "cents" | "seats";
    limits: Partial<Record<PanelRole, number>>;
    perTarget: Partial<Record<PanelRole, number>>;
    perDay: Partial<Record<PanelRole, number>>;
  };
  /** For actions with modes (impersonation): the input field and the lowest role allowed each mode. */
  modes?: { field: string; minRoles: Record<string, PanelRole> };
  summary: string;
}

export const actionRules = {
  // Lookup and audit reading
  "context.view": { target: "user", minRole: "support_read_only", kind: "read", summary: "See a ticket requester's user and account context" },
  "context.pick": { target: "user", minRole: "support_read_only", kind: "write", summary: "Pick which user a ticket is about (or forget the pick), for every agent who opens the ticket" },
  "search.run": { target: "search", minRole: "support_read_only", kind: "read", summary: "Search accounts and users" },
  "account.view": { target: "account", minRole: "support_read_only", kind: "read", summary: "Open an account" },
  "user.view": { target: "user", minRole: "support_read_only", kind: "read", summary: "Open a user" },
  "audit.search": { target: "audit", minRole: "support_read_only", kind: "read", summary: "Search the audit log" },
  "audit.export": { target: "audit", minRole: "support_read_only", kind: "read", summary: "Export the audit log (CSV, NDJSON)" },
  "audit.verify": { target: "audit", minRole: "admin", kind: "read", summary: "Verify the audit hash chain" },
  "action.preview": { target: "account", minRole: "support_full", kind: "read", summary: "Preview the effects of an action that moves money or access" },

  // Panel administration
  "staff.list": { target: "staff", minRole: "admin", kind: "read", summary: "List panel staff" },
  "staff.grant": { target: "staff", minRole: "admin", kind: "write", summary: "Add a staff member or change their panel role" },
  "staff.deactivate": { target: "staff", minRole: "admin", kind: "write", summary: "Remove a staff member's panel access" },
  "staff.caps_change": { target: "staff", minRole: "admin", kind: "write", summary: "Change the per-role caps" },

  // Auth help
  "user.password_reset": { target: "user", minRole: "support_full", kind: "write", summary: "Send a password reset" },
  "user.lockout_clear": { target: "user", minRole: "support_full", kind: "write", summary: "Clear a lockout after failed logins" },
  "user.mfa_reset": { target: "user", minRole: "support_full", kind: "write", summary: "Reset two-factor authentication" },
  "user.sessions_revoke": { target: "user", minRole: "support_full", kind: "write", summary: "Revoke all sessions" },
  "user.block": { target: "user", minRole: "support_full", kind: "write", summary: "Block a user from signing in" },
  "user.unblock": { target: "user", minRole: "support_full", kind: "write", summary: "Unblock a user" },

  // User status and roles
  "user.activate": { target: "user", minRole: "support_full", kind: "write", summary: "Activate a user" },
  "user.suspend": { target: "user", minRole: "support_full", kind: "write", summary: "Suspend a user" },
  "user.deactivate": { target: "user", minRole: "support_full", kind: "write", summary: "Deactivate a user (revoke access)" },
  "user.delete": { target: "user", minRole: "operations", kind: "write", destructive: true, summary: "Delete a user" },
  "user.role_change": { target: "user", minRole: "support_full", kind: "write", summary: "Change a user's product role" },
  "user.promote_admin": { target: "user", minRole: "support_full", kind: "write", summary: "Promote a new admin when the account has none" },
  "user.elevate_temporarily": {
    target: "user",
    minRole: "support_full",
    kind: "write",
    cap: {
      field: "hours",
      unit: "hours",
      limits: { support_full: 72, operations: 336, admin: 720 },
      perTarget: { support_full: 72, operations: 336, admin: 720 },
      perDay: { support_full: 240, operations: 1_000, admin: 2_000 },
    },
    summary: "Raise a user's role for a limited time",
  },
  "user.settings_change": { target: "user", minRole: "support_full", kind: "write", summary: "Change a user's settings that the product lets support change" },
  // Protecting opens no access, so support may do it; lifting it re-opens the customer to impersonation: operations.
  "user.impersonation_protect": { target: "user", minRole: "support_full", kind: "write", summary: "Protect a user from impersonation (the customer asked that no one views their account as them)" },
  "user.impersonation_unprotect": { target: "user", minRole: "operations", kind: "write", summary: "Lift a user's protection from impersonation" },
  "user.elevation_expire": { target: "user", minRole: "system", kind: "write", summary: "Restore a role after a temporary elevation" },
  "user.elevation_end": { target: "user", minRole: "support_full", kind: "write", summary: "End a temporary elevation now (the previous role comes back)" },

  // Account status
  "account.activate": { target: "account", minRole: "operations", kind: "write", summary: "Activate a deactivated account" },
  "account.suspend": { target: "account", minRole: "support_full", kind: "write", summary: "Suspend an account (sign-in blocked, billing unchanged)" },
  "account.unsuspend": { target: "account", minRole: "support_full", kind: "write", summary: "Lift an account suspension" },
  "account.deactivate": { target: "account", minRole: "operations", kind: "write", destructive: true, summary: "Deactivate an account (access removed, subscription ends at period end)" },
  "account.delete": { target: "account", minRole: "operations", kind: "write", destructive: true, summary: "Delete an account (soft delete with a retention date)" },

  // Seats and billing
  "seats.change": { target: "account", minRole: "operations", kind: "write", destructive: true, summary: "Change licensed seats" },
  "seats.expand_temporarily": {
    target: "account",
    minRole: "support_full",
    kind: "write",
    cap: {
      field: "seats",
      unit: "seats",
      limits: { support_full: 5, operations: 50, admin: 50 },
      perTarget: { support_full: 5, operations: 50, admin: 50 },
      perDay: { support_full: 20, operations: 200, admin: 200 },
    },
    summary: "Add seats for a limited time",
  },
  "seats.expansion_expire": { target: "account", minRole: "system", kind: "write", summary: "Revert a temporary seat expansion" },
  "seats.expansion_end": { target: "account", minRole: "support_full", kind: "write", summary: "End a temporary seat expansion now (billing drops back)" },
  "seats.reclaim": { target: "account", minRole: "support_full", kind: "write", summary: "Reclaim seats by deactivating users who left" },
  "billing.trial_extend": {
    target: "account",
    minRole: "support_full",
    kind: "write",
    cap: {
      field: "days",
      unit: "days",
      limits: { support_full: 14, operations: 90, admin: 90 },
      perTarget: { support_full: 14, operations: 90, admin: 90 },
      perDay: { support_full: 60, operations: 365, admin: 365 },
    },
    summary: "Extend a trial",
  },
  "billing.credit_apply": {
    target: "account",
    minRole: "support_full",
    kind: "write",
    cap: {
      field: "amountCents",
      unit: "cents",
      limits: { support_full: 5_000, operations: 100_000, admin: 100_000 },
      perTarget: { support_full: 5_000, operations: 100_000, admin: 100_000 },
      perDay: { support_full: 20_000, operations: 500_000, admin: 500_000 },
    },
    summary: "Apply a credit to the customer's balance",
  },
  "billing.plan_change": { target: "account", minRole: "operations", kind: "write", destructive: true, summary: "Change the subscription plan" },
  "billing.subscription_cancel": { target: "account", minRole: "operations", kind: "write", destructive: true, summary: "Cancel the subscription" },

  // Impersonation
  "impersonation.start": {
    target: "user",
    minRole: "support_full",
    kind: "write",
    cap: {
      field: "minutes",
      unit: "minutes",
      limits: { support_full: 30, operations: 60, admin: 120 },
      // Sessions are one at a time per agent; over a day, a working day's worth per customer at most.
      perTarget: { support_full: 480, operations: 720, admin: 1_440 },
      perDay: { support_full: 1_440, operations: 1_440, admin: 1_440 },
    },
    modes: { field: "mode", minRoles: { read_only: "support_full", full: "operations" } },
    summary: "Start impersonating a user for a ticket (read-only; full mode from operations)",
  },
  "impersonation.stop": { target: "user", minRole: "support_full", kind: "write", summary: "Stop an impersonation session (your own; operations and admin: anyone's)" },
  "impersonation.expire": { target: "user", minRole: "system", kind: "write", summary: "End an impersonation session past a deadline, or whose agent or customer lost access" },
  "impersonation.redeem": { target: "user", minRole: "system", kind: "write", summary: "Exchange a one-time handoff grant for a product session (called by the product)" },
  "impersonation.event": { target: "user", minRole: "system", kind: "write", summary: "Record what an agent did inside the product while impersonating (reported by the product)" },
  "impersonation.notices_change": { target: "system", minRole: "admin", kind: "write", summary: "Turn the customer notices of impersonation on or off" },
  "impersonation.product_register": { target: "system", minRole: "system", kind: "write", summary: "Register a product that accepts impersonation grants (command line)" },
  "impersonation.keys_rotate": { target: "system", minRole: "system", kind: "write", summary: "Rotate the key that signs impersonation grants (command line)" },
  "zendesk.note_add": { target: "system", minRole: "system", kind: "write", summary: "Add an internal note to a Zendesk ticket" },

  // Provider operations the reconciler could not settle
  "operation.resolve": { target: "account", minRole: "operations", kind: "write", summary: "Close a provider operation awaiting review, after checking the provider (applied or not)" },
  // Two-person approval: over-cap requests and actions an admin marks go to a second person
  "approval.request": { target: "system", minRole: "support_full", kind: "write", summary: "Ask a second person to run an action over your cap or marked as needing approval" },
  "approval.approve": { target: "system", minRole: "support_full", kind: "write", summary: "Approve someone else's request: the action runs with your role and caps, both of you recorded" },
  "approval.reject": { target: "system", minRole: "support_full", kind: "write", summary: "Reject someone else's request, with a reason" },
  "approval.expire": { target: "system", minRole: "system", kind: "write", summary: "Expire a request nobody decided within 24 hours" },
  "approval.policy_set": { target: "system", minRole: "admin", kind: "write", summary: "Mark an action as always needing a second person (or not)" },

  // Refusals Steward records on its own (no staff member chose to do these)
  "session.token_replayed": { target: "staff", minRole: "system", kind: "read", summary: "Refuse a Zendesk app token used a second time" },
  "request.rate_limited": { target: "system", minRole: "system", kind: "read", summary: "Refuse requests over the rate limit (audited once per window)" },

  // Customer mail (audited when sent or when delivery fails)
  "mail.deliver": { target: "system", minRole: "system", kind: "write", summary: "Deliver a customer-facing email" },
} as const satisfies Record<string, ActionRule>;

export type ActionName = keyof typeof actionRules;
export const actionNames = Object.keys(actionRules) as ActionName[];
export const ActionNameSchema = z.enum(actionNames as [ActionName, ...ActionName[]]);

export function ruleFor(action: ActionName): ActionRule {
  return actionRules[action];
}

/**
 * The lowest role that may end another agent's session (impersonation.stop enforces it; the sidebar offers it from
 * here). Kept here, not beside the impersonation schemas: the sidebar would bundle zod's schemas with it.
 */
export const END_OTHERS_SESSION_MIN_ROLE: PanelRole = "operations";
