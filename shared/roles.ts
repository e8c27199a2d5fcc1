import { z } from "zod";

/** Panel roles, lowest first: each role can do everything the roles before it can. */
export const panelRoles = ["support_read_only", "support_full", "operations", "admin"] as const;
export const PanelRole = z.enum(panelRoles);
export type PanelRole = z.infer<typeof PanelRole>;

export function roleRank(role: PanelRole): number {
  return panelRoles.indexOf(role);
}

export function roleAtLeast(role: PanelRole, minimum: PanelRole): boolean {
  return roleRank(role) >= roleRank(minimum);
}

/** Roles inside the customer's product account (not the panel). */
export const productRoles = ["owner", "admin", "billing", "member", "viewer"] as const;
export const ProductRole = z.enum(productRoles);
export type ProductRole = z.infer<typeof ProductRole>;

export const accountStatuses = ["active", "trialing", "past_due", "suspended", "deactivated", "deleted"] as const;
export const AccountStatus = z.enum(accountStatuses);
export type AccountStatus = z.infer<typeof AccountStatus>;

export const userStatuses = ["active", "invited", "suspended", "deactivated", "deleted"] as const;
export const UserStatus = z.enum(userStatuses);
export type UserStatus = z.infer<typeof UserStatus>;

export const subscriptionStatuses = ["trialing", "active", "past_due", "unpaid", "canceled", "incomplete"] as const;
export const SubscriptionStatus = z.enum(subscriptionStatuses);
export type SubscriptionStatus = z.infer<typeof SubscriptionStatus>;
