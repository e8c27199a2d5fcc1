import type { User } from "../db/schema.js";
import type { CommandContext, Reread } from "./command.js";
import { identityRef } from "./identityRef.js";

/**
 * The reconciler's re-reads at the identity provider. Auth0 takes no idempotency key, so an identity
 * write whose answer was lost is settled from the user's state now: the intended state shows (applied),
 * the earlier state shows (not applied), or a mix that only running the write again can complete.
 */

/** Each user's admin block at the provider, in order; null when the adapter cannot say (built-in). */
export async function blockedAtProvider(users: readonly User[], ctx: CommandContext): Promise<boolean[] | null> {
  const { identity } = ctx.deps;
  if (!identity.isBlocked) return null;
  const states: boolean[] = [];
  // One at a time: a large account must not burst past Auth0's rate limit from the reconciler.
  for (const user of users) states.push(await identity.isBlocked(identityRef(user)));
  return states;
}

/** All of them show the intended block state: applied; none does: not applied; some do: null (run it again). */
export async function blockReread<P>(users: readonly User[], blocked: boolean, ctx: CommandContext, performed: P): Promise<Reread<P>> {
  const states = await blockedAtProvider(users, ctx);
  if (!states) return null;
  if (states.every((s) => s === blocked)) return { applied: true, performed };
  if (states.every((s) => s !== blocked)) return { applied: false };
  return null;
}
