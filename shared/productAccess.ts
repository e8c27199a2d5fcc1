import type { AccountStatus, ProductRole, UserStatus } from "./roles.js";

/**
 * Who can be given more access in the product, and which roles each role action can give: the server
 * refuses a higher role, an elevation or admin to a user who could not use it
 * (server/src/commands/user/userTransitions.ts), owner or admin as a role change, and an elevation that
 * does not raise (server/src/commands/user/roleChange.ts, elevateTemporarily.ts); the sidebar offers only
 * what it would accept. One rule, read by both.
 */

/** Product roles from least to most rights; raising a role goes up this list. */
const RIGHTS: readonly ProductRole[] = ["viewer", "member", "billing", "admin", "owner"];

export function productRoleRank(role: ProductRole): number {
  return RIGHTS.indexOf(role);
}

/** Account statuses whose users have access; while suspended, deactivated or deleted, a user's access follows the account. */
const OPEN_ACCOUNT: readonly AccountStatus[] = ["active", "trialing", "past_due"];

export function accountOpen(status: AccountStatus): boolean {
  return OPEN_ACCOUNT.includes(status);
}

/** Users who can use a higher role: active ones, and invited ones (the role they get on accepting). */
export const gainAccessStatuses: readonly UserStatus[] = ["active", "invited"];

/** What stands in the way of more access: the user's status, the account's, or nothing. */
export type GainAccessBlock = { by: "user"; status: UserStatus } | { by: "account"; status: AccountStatus } | null;

/** An unknown account (not read just now) blocks nothing here: the server checks it. */
export function gainAccessBlock(userStatus: UserStatus, accountStatus: AccountStatus | undefined, statuses: readonly UserStatus[] = gainAccessStatuses): GainAccessBlock {
  if (!statuses.includes(userStatus)) return { by: "user", status: userStatus };
  if (accountStatus !== undefined && !accountOpen(accountStatus)) return { by: "account", status: accountStatus };
  return null;
}

/**
 * Roles only the account's owners and admins grant: support's role change never sets them
 * (user.promote_admin does when the account has none left; user.elevate_temporarily for a while).
 */
const CUSTOMER_GRANTED: readonly ProductRole[] = ["owner", "admin"];

export function roleChangeGrants(role: ProductRole): boolean {
  return !CUSTOMER_GRANTED.includes(role);
}

/**
 * The roles a role change may pick from: the current one (where the form starts) and those it can grant,
 * only those not above the current one when more access is blocked.
 */
export function roleChangeChoices(roles: readonly ProductRole[], current: ProductRole, block: GainAccessBlock): ProductRole[] {
  return roles.filter((role) => role === current || (roleChangeGrants(role) && (!block || productRoleRank(role) <= productRoleRank(current))));
}

/** An elevation raises the role: one not above the current one would grant nothing, then "restore" it when it ends. */
export function elevationRaises(current: ProductRole, role: ProductRole): boolean {
  return productRoleRank(role) > productRoleRank(current);
}

/** The roles a temporary elevation may pick from: those above the current one (none for an owner). */
export function elevationChoices(roles: readonly ProductRole[], current: ProductRole): ProductRole[] {
  return roles.filter((role) => elevationRaises(current, role));
}
