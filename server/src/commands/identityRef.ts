import type { User } from "../db/schema.js";
import type { IdentityUserRef } from "../providers/ports.js";
import type { Executor } from "./targets.js";
import { loadUserTarget, userSnapshot } from "./targets.js";

export function identityRef(user: User): IdentityUserRef {
  return { id: user.id, idpId: user.idp_id, email: user.email };
}

/** The user as it is after the command's writes, for the audit entry's `after`. */
export async function userAfter(trx: Executor, userId: string): Promise<Record<string, unknown>> {
  const { user } = await loadUserTarget(trx, userId);
  return userSnapshot(user);
}
