import { createHash } from "node:crypto";
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

/** A verified token: the agent, and what replay protection needs (its id and expiry). */
export interface VerifiedZafToken {
  agent: ZafAgent;
  /** The SHA-256 of the token's `jti`, or of its signed part (header.payload) when it carries none. */
  tokenKey: string;
  expiresAt: Date;
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

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

const ID = /^[1-9][0-9]{0,18}$/;

/**
 * A claim naming a Zendesk resource, as a bare id or in Zendesk's URL form
 * (`https://{subdomain}.zendesk.com/api/v2/<path>/{id}.json`). The URL form must name the configured
 * Zendesk host; anything else is null.
 */
export function resourceIdOf(value: unknown, resourcePath: string, zendeskHost: string): string | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? String(value) : null;
  if (typeof value !== "string") return null;
  if (ID.test(value)) return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" || url.host !== zendeskHost || url.search || url.hash || url.username || url.password) return null;
  const prefix = `/api/v2/${resourcePath}/`;
  if (!url.pathname.startsWith(prefix) || !url.pathname.endsWith(".json")) return null;
  const id = url.pathname.slice(prefix.length, -".json".length);
  return ID.test(id) ? id : null;
}

/**
 * Zendesk's claim layout is not fully documented: the user id is read from `sub` (a bare id or the
 * user's API URL on the configured host), or `context.user_id` / `context.user.id` / `user_id`.
 */
export function zafAgentOf(payload: JWTPayload, zendeskHost: string): ZafAgent {
  const context = record(payload.context);
  const contextUser = record(context.user);
  // A `sub` in URL form on another host is not this account's user: refused rather than read from elsewhere.
  if (payload.sub !== undefined && /^https?:/i.test(payload.sub) && resourceIdOf(payload.sub, "users", zendeskHost) === null) throw new ZafTokenError("missing_user");
  const fromSub = payload.sub !== undefined ? resourceIdOf(payload.sub, "users", zendeskHost) : null;
  const zendeskUserId = fromSub ?? [context.user_id, context.userId, contextUser.id, payload.user_id].map(userIdOf).find((id) => id !== null);
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
  return (await verifyZafTokenFully(token, trust, clock)).agent;
}

/** The installation id as Zendesk may write `aud`: bare, or as the installation's API URL on the configured host. */
function audiences(trust: ZafTrust): string[] {
  const host = new URL(trust.issuer).host;
  return ID.test(trust.audience) ? [trust.audience, `https://${host}/api/v2/apps/installations/${trust.audience}.json`] : [trust.audience];
}

export async function verifyZafTokenFully(token: string, trust: ZafTrust, clock: Clock): Promise<VerifiedZafToken> {
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
        audience: audiences(trust),
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
  const agent = zafAgentOf(payload, new URL(trust.issuer).host);
  // Hashed either way: the key is fixed-length text whatever the token carries. Without a jti, the signed
  // part (header.payload) names the token: the signature's text is not unique (its last base64url character
  // has unused bits a decoder ignores), so keying on the whole token let a respelt copy through.
  const tokenKey = typeof payload.jti === "string" && payload.jti.length > 0 ? `jti:${sha256(payload.jti)}` : `token:${sha256(token.slice(0, token.lastIndexOf(".")))}`;
  return { agent, tokenKey, expiresAt: new Date(((payload.exp as number) + ZAF_CLOCK_TOLERANCE_SECONDS) * 1000) };
}
