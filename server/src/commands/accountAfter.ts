import type { DirectoryAccount } from "../../../shared/directory/contract.js";
import { accountSnapshot, loadAccountTarget, type Executor } from "./targets.js";

/**
 * The account as the command left it, for the audit entry's `after`. `written`: the directory's answer to the
 * command's write; what the directory owns is taken from it, since the cache may keep a read asked after the
 * write instead (mirror.ts), and that read is not this command's result.
 */
export async function accountAfter(trx: Executor, accountId: string, written?: DirectoryAccount): Promise<Record<string, unknown>> {
  const { account } = await loadAccountTarget(trx, accountId);
  return accountSnapshot(written ? { ...account, status: written.status, plan: written.plan, seats_licensed: written.seatsLicensed } : account);
}
