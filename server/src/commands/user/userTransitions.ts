import { accountOpen, gainAccessBlock, gainAccessStatuses } from "../../../../shared/productAccess.js";
import type { UserStatus } from "../../../../shared/roles.js";
import type { Account, User } from "../../db/schema.js";
import { Problem } from "../../http/problem.js";

/** Which product-user statuses each status action accepts, and what it leaves. One table, read top to bottom. */
export const userStatusTransitions = {
  "user.activate": { from: ["suspended", "deactivated"], to: "active" },
  "user.suspend": { from: ["active", "invited"], to: "suspended" },
  "user.deactivate": { from: ["active", "invited", "suspended"], to: "deactivated" },
  "user.delete": { from: ["active", "invited", "suspended", "deactivated"], to: "deleted" },
} as const satisfies Record<string, { from: readonly UserStatus[]; to: UserStatus }>;

export type UserStatusAction = keyof typeof userStatusTransitions;

export function invalidTransition(detail: string, extra: Record<string, unknown> = {}): Problem {
  return Problem.conflict("invalid_transition", detail, extra);
}

export function assertUserTransition(action: UserStatusAction, user: User): void {
  const rule = userStatusTransitions[action];
  if ((rule.from as readonly UserStatus[]).includes(user.status)) return;
  throw invalidTransition(`${action} needs a user who is ${rule.from.join(" or ")}; ${user.id} is ${user.status}`, { status: user.status, allowedFrom: rule.from });
}

/** Sign-in help makes sense only for users who may sign in at all. */
export function assertCanSignIn(action: string, user: User): void {
  if (user.status === "active" || user.status === "invited") return;
  throw invalidTransition(`${action} is for active or invited users; ${user.id} is ${user.status}`, { status: user.status });
}

/**
 * Raising a user's rights (a higher role, a temporary elevation, admin) only means something when the
 * user can use them: granted to a suspended or deactivated user, or on a closed account, it would look
 * done while the person still has no access. So it is refused, naming the state and what to do first.
 * Lowering rights is never refused here: it takes access away, whatever the state. The rule is shared
 * (shared/productAccess.ts): the sidebar offers only the roles it lets through.
 */
export function assertCanGainAccess(action: string, target: { user: User; account: Account }, statuses: readonly UserStatus[] = gainAccessStatuses): void {
  const { user, account } = target;
  const block = gainAccessBlock(user.status, account.status, statuses);
  if (block?.by === "user") {
    const first = user.status === "invited" ? "the invitation has to be accepted first" : "activate the user first (user.activate)";
    throw invalidTransition(`${action} raises ${user.email}'s access, which they cannot use while ${user.status}; ${first}`, { status: user.status, allowedFrom: statuses });
  }
  if (block?.by === "account") throw accountNotActive(action, account);
}

/** While the account is suspended, deactivated or deleted, a user's access follows the account. */
export function assertAccountOpen(action: string, account: Account): void {
  if (!accountOpen(account.status)) throw accountNotActive(action, account);
}

function accountNotActive(action: string, account: Account): Problem {
  return Problem.conflict("account_not_active", `${action} is not possible while account ${account.id} is ${account.status}; change the account's status first`, { accountStatus: account.status });
}
