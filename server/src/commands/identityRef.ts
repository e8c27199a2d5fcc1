import type { DirectoryUser } from "../../../shared/directory/contract.js";
import type { User } from "../db/schema.js";
import type { IdentityUserRef } from "../providers/ports.js";
import type { Executor } from "./targets.js";
import { loadUserTarget, userSnapshot } from "./targets.js";

export function identityRef(user: User): IdentityUserRef {
  return { id: user.id, idpId: user.idp_id, email: user.email };
}

/**
 * The user as the command left it, for the audit entry's `after`. `written`: the directory's answer to the
 * command's write; what the directory owns is taken from it, since the cache may keep a read asked after the
 * write instead (mirror.ts), and that read is not this command's result.
 */
export async function userAfter(trx: Executor, userId: string, written?: DirectoryUser): Promise<Record<string, unknown>> {
  const { user } = await loadUserTarget(trx, userId);
  return userSnapshot(written ? { ...user, role: written.role, status: written.status } : user);
}
