import type { User } from "../../db/schema.js";
import type { ProviderCallContext } from "../../providers/ports.js";
import type { CommandContext } from "../command.js";
import { runCompensated, type ProviderStep } from "../compensation.js";
import { identityRef } from "../identityRef.js";

/**
 * Takes a user's access away at the identity provider: block (unless already blocked), then end every
 * session. Sessions cannot be restored, so that step goes last and a failed block leaves nothing done.
 * `then`: steps after both (the product's keyed status write, which goes last).
 */
export async function revokeAccess(user: User, ctx: CommandContext, call: ProviderCallContext, then: ProviderStep[] = []): Promise<{ blocked: boolean; sessionsRevoked: number }> {
  const ref = identityRef(user);
  let sessionsRevoked = 0;
  const steps: ProviderStep[] = [];
  if (!user.blocked) steps.push({ label: `block ${user.id}`, run: () => ctx.deps.identity.setBlocked(ref, true, call), undo: () => ctx.deps.identity.setBlocked(ref, false, call) });
  steps.push({ label: `end the sessions of ${user.id}`, run: async () => ({ revoked: sessionsRevoked } = await ctx.deps.identity.revokeSessions(ref, call)) });
  steps.push(...then);
  await runCompensated(steps, { logger: ctx.deps.logger, transactional: Boolean(call.executor) });
  return { blocked: !user.blocked, sessionsRevoked };
}
