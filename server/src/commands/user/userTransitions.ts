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

/** While the account is suspended, deactivated or deleted, a user's access follows the account. */
export function assertAccountOpen(action: string, account: Account): void {
  if (account.status === "active" || account.status === "trialing" || account.status === "past_due") return;
  throw Problem.conflict("account_not_active", `${action} is not possible while account ${account.id} is ${account.status}; change the account's status first`, { accountStatus: account.status });
}
