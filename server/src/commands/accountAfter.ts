import { accountSnapshot, loadAccountTarget, type Executor } from "./targets.js";

/** The account as it is after the command's writes, for the audit entry's `after`. */
export async function accountAfter(trx: Executor, accountId: string): Promise<Record<string, unknown>> {
  const { account } = await loadAccountTarget(trx, accountId);
  return accountSnapshot(account);
}
