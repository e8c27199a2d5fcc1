import type { AccountStatus } from "../../../../shared/roles.js";
import type { Account } from "../../db/schema.js";
import { Problem } from "../../http/problem.js";

/**
 * The account status machine, as one table: which statuses each action accepts and where it leads.
 * `previous` means the status the lifted suspension or deactivation replaced (account_access_holds),
 * else active. Anything not listed is refused with 409 `invalid_transition`.
 */
export const accountTransitions = {
  "account.suspend": { from: ["active", "trialing", "past_due"], to: "suspended" },
  "account.unsuspend": { from: ["suspended"], to: "previous" },
  "account.deactivate": { from: ["active", "trialing", "past_due", "suspended"], to: "deactivated" },
  "account.activate": { from: ["deactivated"], to: "previous" },
  "account.delete": { from: ["active", "trialing", "past_due", "suspended", "deactivated"], to: "deleted" },
} as const satisfies Record<string, { from: readonly AccountStatus[]; to: AccountStatus | "previous" }>;

export type AccountStatusAction = keyof typeof accountTransitions;

/** Statuses a lifted hold may restore; a hold that replaced anything else restores `active`. */
const RESTORABLE: readonly AccountStatus[] = ["active", "trialing", "past_due"];

export function assertAccountTransition(action: AccountStatusAction, account: Account): void {
  const rule = accountTransitions[action];
  if ((rule.from as readonly AccountStatus[]).includes(account.status)) return;
  throw Problem.conflict("invalid_transition", `${action} needs an account that is ${rule.from.join(", ")}; ${account.id} is ${account.status}`, {
    status: account.status,
    allowedFrom: rule.from,
  });
}

export function restoredStatus(previous: AccountStatus | undefined): AccountStatus {
  return previous && RESTORABLE.includes(previous) ? previous : "active";
}
