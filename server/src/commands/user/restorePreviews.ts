import type { ActionEffects } from "../../../../shared/schemas/actions.js";
import type { IdentitySummary } from "../../../../shared/schemas/context.js";
import { isNoticeMandatory } from "../../mail/notices.js";
import { actionEffects, said, type Said } from "../billingEffects.js";
import type { CommandContext } from "../command.js";
import { identityRef } from "../identityRef.js";
import { signInState } from "./signInState.js";
import type { UserTarget } from "../targets.js";

/**
 * Previews of the user actions that give access back or change how a user signs in (unlock, unblock,
 * activate, password reset, 2FA reset, sign-out everywhere): none moves money, so they read no billing,
 * only the sign-in state the action changes. Shown as the form opens; not destructive, so no token.
 */
const who = (target: UserTarget) => ({ name: target.user.name, email: target.user.email });

/** The identity provider's reading, or undefined when it cannot be read: a preview must not stop the action. */
export async function identityReading(target: UserTarget, ctx: CommandContext): Promise<IdentitySummary | undefined> {
  return ctx.deps.identity.getIdentity(identityRef(target.user)).catch(() => undefined);
}

const unread = (): Said => said("identity_unread", {}, "The sign-in state could not be read just now; the action still runs");

/** Another status keeps the user out after this (a suspended user stays out when unblocked). */
function stillOut(target: UserTarget): Said[] {
  return target.user.status === "active" ? [] : [said("user_still_status", { status: target.user.status }, `They are still ${target.user.status}: they cannot sign in until activated`)];
}

export async function lockoutClearPreview(target: UserTarget, ctx: CommandContext): Promise<ActionEffects> {
  // The same reading the action decides from (signInState), so the preview costs no second provider call.
  const state = await signInState(target, ctx).catch(() => undefined);
  const until = state?.lockedUntil ?? null;
  const { name, email } = who(target);
  const summary = until
    ? said("user_lockout_clear", { name, email, untilTime: until }, `${name} <${email}> can sign in again now; the lock would have lifted by itself at ${until}`)
    : said("user_lockout_clear_undated", { name, email }, `${name} <${email}> can sign in again now; the failed sign-ins are forgotten`);
  return actionEffects(null, { summary, billingAfter: "unchanged", warnings: [...(state ? [] : [unread()]), ...stillOut(target)] });
}

export function unblockPreview(target: UserTarget): ActionEffects {
  const { name, email } = who(target);
  return actionEffects(null, { summary: said("user_unblock", { name, email }, `${name} <${email}> can sign in again now (the block set by an admin is lifted)`), billingAfter: "unchanged", warnings: stillOut(target) });
}

export function activatePreview(target: UserTarget, seats: { used: number; licensed: number }): ActionEffects {
  const { name, email } = who(target);
  const takesSeat = target.user.status !== "invited";
  const warnings: Said[] = [];
  if (target.user.blocked && target.user.status !== "deactivated") warnings.push(said("user_still_blocked", {}, "They stay blocked by an admin until unblocked"));
  if (takesSeat && seats.used + 1 > seats.licensed) warnings.push(said("seats_over_after", { used: seats.used + 1, licensed: seats.licensed }, `Seats in use become ${seats.used + 1} of ${seats.licensed} licensed: the account is over its seats`));
  return actionEffects(null, { summary: said("user_activate", { name, email, status: target.user.status }, `${name} <${email}> can sign in again (from ${target.user.status})`), billingAfter: "unchanged", warnings });
}

export function passwordResetPreview(target: UserTarget): ActionEffects {
  const { name, email } = who(target);
  // Both identities (the product's reset link, Auth0's password-change ticket) leave the password as it is until the customer sets a new one.
  return actionEffects(null, {
    summary: said("user_password_reset", { name, email }, `A reset link is emailed to ${email}; the current password keeps working until ${name} sets a new one`),
    billingAfter: "unchanged",
  });
}

export function mfaResetPreview(target: UserTarget, methods: readonly string[]): ActionEffects {
  const { name, email } = who(target);
  const warnings: Said[] = [said("user_mfa_reenrol", {}, "At the next sign-in they are asked to set up two-factor authentication again")];
  if (isNoticeMandatory("user.mfa_reset")) warnings.push(said("security_notice_mandatory", { email }, `A security notice is emailed to ${email}; it cannot be turned off`));
  return actionEffects(null, {
    summary: said("user_mfa_reset", { name, email, count: methods.length, methods: methods.join(", ") }, `Removes ${methods.length} second factor(s) of ${name} <${email}>: ${methods.join(", ")}`),
    billingAfter: "unchanged",
    warnings,
  });
}

export async function sessionsRevokePreview(target: UserTarget, ctx: CommandContext): Promise<ActionEffects> {
  const { name, email } = who(target);
  const identity = await identityReading(target, ctx);
  const summary = identity
    ? said("user_sessions_revoke", { name, email, count: identity.activeSessions }, `${identity.activeSessions} open session(s) of ${name} <${email}> end now; they sign in again with their password`)
    : said("user_sessions_revoke_uncounted", { name, email }, `Every open session of ${name} <${email}> ends now; they sign in again with their password`);
  return actionEffects(null, { summary, billingAfter: "unchanged", warnings: identity ? [] : [unread()] });
}
