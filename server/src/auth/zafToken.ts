import { decodeProtectedHeader, jwtVerify, type JWTPayload } from "jose";
import type { Clock } from "../clock.js";
import { Problem } from "../http/problem.js";
import { tokenFailureOf, type TokenFailure } from "./tokenErrors.js";
import type { ZafTrust } from "./zafTrust.js";
import { canonicalText } from "../audit/canonicalText.js";

/** Clock skew allowed between Zendesk and Steward when checking exp/nbf/iat. */
export const ZAF_CLOCK_TOLERANCE_SECONDS = 30;

export type ZafTokenFailure = Exclude<TokenFailure, "wrong_type">;

/** A ZAF token Steward refused; `code` says why and is all the client learns. */
export class ZafTokenError extends Error {
  constructor(
    readonly code: ZafTokenFailure,
    options?: { cause?: unknown },
  ) {
    super(`Zendesk app token rejected: ${code.replace(/_/g, " ")}`, options);
    this.name = "ZafTokenError";
  }
  toProblem(): Problem {
    return new Problem(401, `zaf_token_${this.code}`, "Unauthorized", "The Zendesk app token was not accepted; reload the app in Zendesk", { reason: this.code });
  }
}

/** The agent a verified ZAF token vouches for. */
export interface ZafAgent {
  zendeskUserId: string;
  email: string | null;
  name: string | null;
  ticketId: string | null;
}

const USER_ID = /^(?:.*[:/])?([1-9][0-9]{0,18})$/;

function userIdOf(value: unknown): string | null {
  if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return String(value);
  if (typeof value === "string") return USER_ID.exec(value.trim())?.[1] ?? null;
  return null;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(...values: unknown[]): string | null {
  // Canonical (no NUL, no unpaired surrogate, also none made by the cut): it becomes the staff row and audit entries.
  for (const v of values) if (typeof v === "string" && v.trim()) return canonicalText(v.trim().slice(0, 320));
  return null;
}

/**
 * Zendesk's claim layout is not fully documented: the user id is read from `sub`, or
 * `context.user_id` / `context.user.id` / `user_id`, as a number or a string ending in digits.
 */
export function zafAgentOf(payload: JWTPayload): ZafAgent {
  const context = record(payload.context);
  const contextUser = record(context.user);
  const zendeskUserId = [payload.sub, context.user_id, context.userId, contextUser.id, payload.user_id].map(userIdOf).find((id) => id !== null);
  if (!zendeskUserId) throw new ZafTokenError("missing_user");
  const ticketId = userIdOf(context.ticket_id ?? context.ticketId);
  return {
    zendeskUserId,
    email: text(payload.email, contextUser.email),
    name: text(payload.name, contextUser.name),
    ticketId,
  };
}

/**
 * Verifies the RS256 ZAF JWT Zendesk adds to the signed sidebar URL: signature by the app's key
 * (RS256 only), issuer = the Zendesk account, audience = the installation, exp/nbf with small skew.
 */
export async function verifyZafToken(token: string, trust: ZafTrust, clock: Clock): Promise<ZafAgent> {
  try {
    decodeProtectedHeader(token);
  } catch (err) {
    throw new ZafTokenError("malformed", { cause: err });
  }
  let payload: JWTPayload | undefined;
  let failure: unknown;
  for (const key of trust.keys) {
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: ["RS256"],
        issuer: trust.issuers,
        audience: trust.audience,
        requiredClaims: ["exp"],
        clockTolerance: ZAF_CLOCK_TOLERANCE_SECONDS,
        currentDate: clock.now(),
      }));
      break;
    } catch (err) {
      failure = err;
      // Only a signature mismatch means "maybe the next trusted key"; every other failure is final.
      if (tokenFailureOf(err) !== "bad_signature") break;
    }
  }
  if (!payload) {
    const code = tokenFailureOf(failure);
    throw new ZafTokenError(code === "wrong_type" ? "malformed" : code, { cause: failure });
  }
  const nowSeconds = Math.floor(clock.now().getTime() / 1000);
  if (typeof payload.iat === "number" && payload.iat > nowSeconds + ZAF_CLOCK_TOLERANCE_SECONDS) throw new ZafTokenError("not_yet_valid");
  return zafAgentOf(payload);
}
