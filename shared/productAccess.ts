import type { AccountStatus, ProductRole, UserStatus } from "./roles.js";

/**
 * Who can be given more access in the product: the server refuses a higher role, an elevation or admin
 * to a user who could not use it (server/src/commands/user/userTransitions.ts), and the sidebar offers
 * only what it would accept. One rule, read by both.
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

/** The roles a role change may pick from: all of them, or, when more access is blocked, the current one and those below it. */
export function roleChangeChoices(roles: readonly ProductRole[], current: ProductRole, block: GainAccessBlock): ProductRole[] {
  return block ? roles.filter((role) => productRoleRank(role) <= productRoleRank(current)) : [...roles];
}
