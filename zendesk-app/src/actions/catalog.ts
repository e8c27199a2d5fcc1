import { elevationChoices, gainAccessBlock, productRoleRank, roleChangeChoices, roleChangeGrants } from "../../../shared/productAccess";
import type { ProductRole } from "../../../shared/roles";
import type { SupportActionName } from "../../../shared/schemas/actions";
import type { RequesterContext } from "../../../shared/schemas/context";

/**
 * Which support actions the sidebar offers for a requester, and the form fields each needs (the
 * input shapes are shared/schemas/actions.ts; field names match them so 400 field errors land on
 * the right input). The panel role filter is applied separately (see ActionsPanel).
 */
export type FieldKind = "number" | "money" | "select" | "text" | "textarea" | "idList" | "hidden";

export interface FieldSpec {
  name: string;
  kind: FieldKind;
  options?: readonly string[];
  /** Options that come from the server's configuration (the session) instead of the catalog. */
  optionsFrom?: "plans";
  min?: number;
  max?: number;
  optional?: boolean;
  initial?: (context: RequesterContext) => string;
  /** Fewer options for this requester, when the server would refuse the others, and why (said under the field). */
  narrow?: (context: RequesterContext) => NarrowedChoices | null;
}

export interface NarrowedChoices {
  options: readonly string[];
  /** Why, said under the field, one sentence each; none when the choices left out are plainly meaningless. */
  why: FieldNote[];
}

/**
 * One reason, said by the form as `field.<code>`: `{status}` the status in the way; `{action}` the action
 * that does what this field does not, which the form also offers to open when the panel lists it.
 */
export type FieldNote =
  | { code: "role_lower_only_user" | "role_lower_only_account"; status: string }
  | { code: "role_admin_customer" }
  | { code: "role_admin_promote" | "role_admin_elevate"; action: SupportActionName };

export interface ActionSpec {
  action: SupportActionName;
  target: "user" | "account";
  fields: FieldSpec[];
  /** Its preview reads no input: shown as the form opens, above Run, instead of a Preview step (one click less). */
  previewOnOpen?: true;
  applies(context: RequesterContext): boolean;
}

const productRoles: readonly ProductRole[] = ["owner", "admin", "billing", "member", "viewer"];

const identity = (c: RequesterContext) => (c.identity.status === "ok" ? c.identity.data : null);
const account = (c: RequesterContext) => (c.account.status === "ok" ? c.account.data : null);
const inReview = (c: RequesterContext) => (c.unresolvedOperations ?? []).filter((o) => o.status === "needs_review");
const billing = (c: RequesterContext) => (c.billing.status === "ok" ? c.billing.data : null);
const userStatus = (c: RequesterContext) => c.user?.status;
const accountStatus = (c: RequesterContext) => account(c)?.status;

/**
 * A role change may always lower a role; a higher one only for a user who can use it; owner and admin
 * never (the rules the server checks, shared/productAccess.ts). The current role stays shown: it is where
 * the form starts. Where owner or admin is left out, the note says which action gives it instead.
 */
function roleChoices(c: RequesterContext): NarrowedChoices | null {
  if (!c.user) return null;
  const { role, status } = c.user;
  const block = gainAccessBlock(status, accountStatus(c));
  const why: FieldNote[] = block ? [{ code: block.by === "user" ? "role_lower_only_user" : "role_lower_only_account", status: block.status }] : [];
  // Left out for being owner or admin, not (only) for being above a blocked user's role.
  const adminLeftOut = productRoles.some((r) => r !== role && !roleChangeGrants(r) && !(block && productRoleRank(r) > productRoleRank(role)));
  if (adminLeftOut) {
    // As the server's promote_admin and elevation allow: an active user with nothing in the way.
    if (status === "active" && !block && account(c)?.activeAdminCount === 0) why.push({ code: "role_admin_promote", action: "user.promote_admin" });
    else if (status === "active" && !block && elevationChoices(productRoles, role).length > 0) why.push({ code: "role_admin_elevate", action: "user.elevate_temporarily" });
    else why.push({ code: "role_admin_customer" });
  }
  return { options: roleChangeChoices(productRoles, role, block), why };
}

/** An elevation only raises (the server refuses the same or a lower role): the roles above the current one. */
function elevationRoles(c: RequesterContext): ProductRole[] {
  return c.user ? elevationChoices(productRoles, c.user.role) : [];
}

export const actionCatalog: ActionSpec[] = [
  // Sign-in help first: the most common tickets.
  { action: "user.lockout_clear", previewOnOpen: true, target: "user", fields: [], applies: (c) => identity(c)?.locked === true },
  { action: "user.unblock", previewOnOpen: true, target: "user", fields: [], applies: (c) => identity(c)?.blocked === true },
  { action: "user.password_reset", previewOnOpen: true, target: "user", fields: [], applies: (c) => userStatus(c) !== "deleted" },
  {
    action: "user.mfa_reset",
    target: "user",
    fields: [
      { name: "identityVerification", kind: "select", options: ["verified_email_reply", "callback_known_phone", "admin_confirmed", "id_document", "other"] },
      { name: "verificationNote", kind: "textarea" },
    ],
    applies: (c) => identity(c)?.mfaEnrolled === true,
  },
  { action: "user.sessions_revoke", previewOnOpen: true, target: "user", fields: [], applies: (c) => (identity(c)?.activeSessions ?? 0) > 0 },
  { action: "user.block", target: "user", fields: [], applies: (c) => identity(c)?.blocked === false },
  { action: "user.activate", previewOnOpen: true, target: "user", fields: [], applies: (c) => ["suspended", "deactivated", "invited"].includes(userStatus(c) ?? "") },
  { action: "user.suspend", target: "user", fields: [], applies: (c) => userStatus(c) === "active" },
  { action: "user.deactivate", target: "user", fields: [], applies: (c) => ["active", "suspended", "invited"].includes(userStatus(c) ?? "") },
  { action: "user.role_change", target: "user", fields: [{ name: "role", kind: "select", options: productRoles, initial: (c) => c.user?.role ?? "member", narrow: roleChoices }], applies: (c) => userStatus(c) !== "deleted" },
  { action: "user.promote_admin", target: "user", fields: [{ name: "role", kind: "select", options: ["admin", "owner"] }], applies: (c) => account(c)?.activeAdminCount === 0 },
  {
    action: "user.elevate_temporarily",
    target: "user",
    fields: [
      {
        name: "role",
        kind: "select",
        options: productRoles,
        initial: (c) => (elevationRoles(c).includes("admin") ? "admin" : (elevationRoles(c)[0] ?? "")),
        narrow: (c) => ({ options: elevationRoles(c), why: [] }),
      },
      { name: "hours", kind: "number", min: 1, max: 720, initial: () => "24" },
    ],
    // Nothing is above an owner.
    applies: (c) => userStatus(c) === "active" && elevationRoles(c).length > 0,
  },
  // The customer asked that no one views their account as them (impersonation.start then refuses them).
  { action: "user.impersonation_protect", previewOnOpen: true, target: "user", fields: [], applies: (c) => c.user?.impersonationProtected === false && userStatus(c) !== "deleted" },
  { action: "user.impersonation_unprotect", previewOnOpen: true, target: "user", fields: [], applies: (c) => c.user?.impersonationProtected === true && userStatus(c) !== "deleted" },
  { action: "user.delete", target: "user", fields: [], applies: (c) => userStatus(c) !== "deleted" },

  { action: "account.unsuspend", previewOnOpen: true, target: "account", fields: [], applies: (c) => accountStatus(c) === "suspended" },
  { action: "account.activate", previewOnOpen: true, target: "account", fields: [], applies: (c) => accountStatus(c) === "deactivated" },
  { action: "account.suspend", target: "account", fields: [], applies: (c) => ["active", "trialing", "past_due"].includes(accountStatus(c) ?? "") },
  { action: "billing.trial_extend", target: "account", fields: [{ name: "days", kind: "number", min: 1, max: 365, initial: () => "7" }], applies: (c) => billing(c)?.status === "trialing" },
  { action: "billing.credit_apply", target: "account", fields: [{ name: "amountCents", kind: "money", min: 1 }, { name: "description", kind: "text", optional: true }], applies: (c) => billing(c) !== null },
  {
    action: "seats.expand_temporarily",
    target: "account",
    fields: [
      { name: "seats", kind: "number", min: 1, max: 10_000, initial: () => "2" },
      { name: "days", kind: "number", min: 1, max: 90, initial: () => "14" },
    ],
    applies: (c) => ["active", "trialing", "past_due"].includes(accountStatus(c) ?? ""),
  },
  { action: "seats.reclaim", target: "account", fields: [{ name: "userIds", kind: "idList" }], applies: (c) => account(c)?.overSeatLimit === true },
  {
    // Only for an operation the reconciler could not settle: operations checks the provider, then says what it shows.
    action: "operation.resolve",
    target: "account",
    fields: [
      { name: "operationId", kind: "text", initial: (c) => inReview(c)[0]?.operationId ?? "" },
      { name: "resolution", kind: "select", options: ["applied", "not_applied"] },
    ],
    applies: (c) => inReview(c).length > 0,
  },
  { action: "seats.change", target: "account", fields: [{ name: "seats", kind: "number", min: 0, max: 100_000, initial: (c) => String(account(c)?.seatsLicensed ?? 1) }], applies: (c) => account(c) !== null },
  { action: "billing.plan_change", target: "account", fields: [{ name: "plan", kind: "select", optionsFrom: "plans", initial: (c) => billing(c)?.plan ?? account(c)?.plan ?? "team" }], applies: (c) => !!billing(c)?.subscriptionId && billing(c)?.status !== "canceled" },
  { action: "billing.subscription_cancel", target: "account", fields: [{ name: "mode", kind: "select", options: ["at_period_end", "now"] }], applies: (c) => !!billing(c)?.subscriptionId && billing(c)?.status !== "canceled" && !billing(c)?.cancelAtPeriodEnd },
  { action: "account.deactivate", target: "account", fields: [], applies: (c) => ["active", "trialing", "past_due", "suspended"].includes(accountStatus(c) ?? "") },
  { action: "account.delete", target: "account", fields: [], applies: (c) => accountStatus(c) !== "deleted" && accountStatus(c) !== undefined },
];

/** Support actions with a view of their own instead of a form in the actions panel. */
export const dedicatedViews: readonly SupportActionName[] = ["impersonation.start", "impersonation.stop", "user.settings_change", "user.elevation_end", "seats.expansion_end"];

/** The target and its version as the agent saw it (the server answers 409 if it changed since). */
export function targetOf(spec: ActionSpec, context: RequesterContext): { type: "user" | "account"; id: string; version: number } | null {
  if (spec.target === "user") return context.user ? { type: "user", id: context.user.id, version: context.user.version } : null;
  const acc = account(context);
  return acc ? { type: "account", id: acc.id, version: acc.version } : null;
}


/** How the full action list is grouped, in this order: sign-in help first, money last. */
export const actionGroups = ["auth", "status", "roles", "seats", "billing"] as const;
export type ActionGroup = (typeof actionGroups)[number];

const authActions = new Set<string>(["user.lockout_clear", "user.unblock", "user.password_reset", "user.mfa_reset", "user.sessions_revoke", "user.block", "user.impersonation_protect", "user.impersonation_unprotect"]);
const roleActions = new Set<string>(["user.role_change", "user.promote_admin", "user.elevate_temporarily"]);

export function groupOf(action: SupportActionName): ActionGroup {
  if (authActions.has(action)) return "auth";
  if (roleActions.has(action)) return "roles";
  if (action.startsWith("seats.")) return "seats";
  if (action.startsWith("billing.") || action.startsWith("operation.")) return "billing";
  return "status";
}
