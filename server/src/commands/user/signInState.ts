import type { CommandContext } from "../command.js";
import { identityRef } from "../identityRef.js";
import type { UserTarget } from "../targets.js";

/**
 * The sign-in state an identity action decides from: the identity provider's when it is external
 * (Auth0 is the truth; the product's copy may lag), else the product's own tables. Read once per
 * request, before the runner's transaction, and shared by providerState, validate and apply.
 */
export interface SignInState {
  blocked: boolean;
  locked: boolean;
  /** When a brute-force lock lifts by itself (ISO), when locked and known. */
  lockedUntil: string | null;
  mfaEnrolled: boolean;
  mfaMethods: string[];
  source: "builtin" | "auth0";
}

const readings = new WeakMap<CommandContext, Promise<SignInState>>();

export function signInState(target: UserTarget, ctx: CommandContext): Promise<SignInState> {
  let reading = readings.get(ctx);
  if (!reading) {
    reading = readSignInState(target, ctx);
    readings.set(ctx, reading);
  }
  return reading;
}

/** The reading taken earlier in this request, if any (the reconciler finishing an operation has none). */
export function earlierSignInState(ctx: CommandContext): Promise<SignInState> | undefined {
  return readings.get(ctx);
}

async function readSignInState(target: UserTarget, ctx: CommandContext): Promise<SignInState> {
  const { user } = target;
  if (ctx.deps.identity.name === "builtin") {
    const locked = user.locked_until !== null && new Date(user.locked_until) > ctx.now;
    return { blocked: user.blocked, locked, lockedUntil: locked && user.locked_until ? new Date(user.locked_until).toISOString() : null, mfaEnrolled: user.mfa_enrolled || user.mfa_methods.length > 0, mfaMethods: user.mfa_methods, source: "builtin" };
  }
  const identity = await ctx.deps.identity.getIdentity(identityRef(user));
  return { blocked: identity.blocked, locked: identity.locked, lockedUntil: identity.locked ? identity.lockedUntil : null, mfaEnrolled: identity.mfaEnrolled, mfaMethods: identity.mfaMethods, source: ctx.deps.identity.name };
}

/** `providerState` of identity actions: the provider's view next to the local snapshot, when the provider is external. */
export async function identityBefore(target: UserTarget, _input: unknown, ctx: CommandContext): Promise<Record<string, unknown>> {
  if (ctx.deps.identity.name === "builtin") return {};
  const { source, blocked, locked, mfaEnrolled, mfaMethods } = await signInState(target, ctx);
  return { identity: { provider: source, blocked, locked, mfaEnrolled, mfaMethods } };
}
