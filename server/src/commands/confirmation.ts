import { createHash } from "node:crypto";
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import type { ActionEffects, ActionTarget } from "../../../shared/schemas/actions.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import { Problem } from "../http/problem.js";

/**
 * Confirmation tokens for destructive actions: bound to the actor, the action, the target and a
 * fingerprint of the previewed state (target version, input, billing effects), valid 5 minutes.
 * At execution the preview is computed again; a different fingerprint means the state changed (409).
 */
export const CONFIRMATION_TTL_SECONDS = 300;
const AUDIENCE = "steward:confirmation";

function key(config: Config): Uint8Array {
  return new TextEncoder().encode(`confirmation:${config.SESSION_SECRET}`);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

export function previewFingerprint(version: number, input: unknown, effects: ActionEffects): string {
  return createHash("sha256").update(canonical({ version, input, effects })).digest("hex");
}

interface Binding {
  staffId: string;
  action: string;
  target: ActionTarget;
  fingerprint: string;
}

export async function issueConfirmationToken(binding: Binding, deps: { config: Config; clock: Clock }): Promise<{ token: string; expiresAt: string }> {
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  const exp = now + CONFIRMATION_TTL_SECONDS;
  const token = await new SignJWT({ act: binding.action, tgt: `${binding.target.type}:${binding.target.id}`, fp: binding.fingerprint })
    .setProtectedHeader({ alg: "HS256", typ: "steward-confirmation+jwt" })
    .setSubject(binding.staffId)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(key(deps.config));
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
}

/** Throws 428 when no token is given, 409 when it no longer matches what was previewed. */
export async function verifyConfirmationToken(token: string | undefined, binding: Binding, deps: { config: Config; clock: Clock }): Promise<void> {
  if (!token) {
    throw new Problem(428, "confirmation_required", "Confirmation required", `${binding.action} is destructive: preview it first and send the confirmationToken it returns`);
  }
  let payload;
  try {
    ({ payload } = await jwtVerify(token, key(deps.config), {
      algorithms: ["HS256"],
      audience: AUDIENCE,
      subject: binding.staffId,
      currentDate: deps.clock.now(),
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw Problem.conflict("confirmation_expired", "The confirmation expired (5 minutes); preview the action again");
    throw new Problem(400, "confirmation_invalid", "Invalid confirmation", "The confirmation token is not valid for this agent", { errors: [{ field: "confirmationToken", reason: "invalid or issued to someone else" }] });
  }
  if (payload.act !== binding.action || payload.tgt !== `${binding.target.type}:${binding.target.id}`) {
    throw new Problem(400, "confirmation_invalid", "Invalid confirmation", "The confirmation token was issued for another action or target", {
      errors: [{ field: "confirmationToken", reason: "issued for another action or target" }],
    });
  }
  if (payload.fp !== binding.fingerprint) {
    throw Problem.conflict("confirmation_stale", "The account changed since the preview (billing or target state); preview the action again");
  }
}
