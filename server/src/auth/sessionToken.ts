import { randomUUID } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import { Problem } from "../http/problem.js";
import { tokenFailureOf, type TokenFailure } from "./tokenErrors.js";
import { zafBinding } from "./zafTrust.js";

const SESSION_TYP = "steward-session+jwt";
/** Renewal keeps a session alive, but never past this long after Zendesk vouched for the agent. */
export const SESSION_MAX_AGE_HOURS = 12;

export type SessionFailure = TokenFailure | "missing" | "too_old";

export class SessionTokenError extends Error {
  constructor(
    readonly code: SessionFailure,
    options?: { cause?: unknown },
  ) {
    super(`Steward session rejected: ${code.replace(/_/g, " ")}`, options);
    this.name = "SessionTokenError";
  }
  toProblem(): Problem {
    const detail = this.code === "missing" ? "Send the Steward session as Authorization: Bearer <token>" : "The Steward session is not valid; reload the app in Zendesk";
    return new Problem(401, `session_${this.code}`, "Unauthorized", detail, { reason: this.code });
  }
}

/** What a session token says: who (staff id and Zendesk user), for which account and installation. */
export interface SessionClaims {
  staffId: string;
  zendeskUserId: string;
  /** When Zendesk last vouched for the agent (seconds since epoch); renewals keep it. */
  authTime: number;
  expiresAt: Date;
}

/** One imported HMAC key per secret: given raw bytes, jose imports the key again on every sign and verify. */
const keys = new Map<string, Promise<CryptoKey>>();

function secretOf(config: Config): Promise<CryptoKey> {
  const secret = config.SESSION_SECRET ?? "";
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    // A failed import is not kept: the next call tries again.
    key.catch(() => keys.delete(secret));
    // A process has one secret; only tests hold many, and a few dozen keys are plenty to keep.
    if (keys.size >= 32) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

/** Signs a session (HS256, SESSION_SECRET) bound to the Zendesk account, the installation and the staff member. */
export async function issueSessionToken(
  deps: { config: Config; clock: Clock },
  subject: { staffId: string; zendeskUserId: string; authTime?: number },
): Promise<{ token: string; expiresAt: Date }> {
  const trust = zafBinding(deps.config);
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  const authTime = subject.authTime ?? now;
  const exp = Math.min(now + deps.config.SESSION_TTL_MINUTES * 60, authTime + SESSION_MAX_AGE_HOURS * 3600);
  const token = await new SignJWT({ zuid: subject.zendeskUserId, auth_time: authTime })
    .setProtectedHeader({ alg: "HS256", typ: SESSION_TYP })
    .setIssuer(trust.issuer)
    .setAudience(trust.audience)
    .setSubject(subject.staffId)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(await secretOf(deps.config));
  return { token, expiresAt: new Date(exp * 1000) };
}

export async function verifySessionToken(token: string, deps: { config: Config; clock: Clock }): Promise<SessionClaims> {
  const trust = zafBinding(deps.config);
  try {
    const { payload } = await jwtVerify(token, await secretOf(deps.config), {
      algorithms: ["HS256"],
      typ: SESSION_TYP,
      issuer: trust.issuer,
      audience: trust.audience,
      requiredClaims: ["exp", "sub", "zuid", "auth_time"],
      currentDate: deps.clock.now(),
    });
    if (typeof payload.sub !== "string" || typeof payload.zuid !== "string" || typeof payload.auth_time !== "number" || typeof payload.exp !== "number") {
      throw new SessionTokenError("malformed");
    }
    const now = deps.clock.now().getTime() / 1000;
    if (now - payload.auth_time > SESSION_MAX_AGE_HOURS * 3600) throw new SessionTokenError("too_old");
    return { staffId: payload.sub, zendeskUserId: payload.zuid, authTime: payload.auth_time, expiresAt: new Date(payload.exp * 1000) };
  } catch (err) {
    if (err instanceof SessionTokenError) throw err;
    throw new SessionTokenError(tokenFailureOf(err), { cause: err });
  }
}

const verifiedFor = new WeakMap<object, { token: string; claims: Promise<SessionClaims> }>();

/**
 * verifySessionToken, once per request and token: the rate limiter reads the session to count the agent
 * and authenticate reads it to decide, and both get this one verification (its result or its error).
 */
export function verifyRequestSession(req: object, token: string, deps: { config: Config; clock: Clock }): Promise<SessionClaims> {
  const seen = verifiedFor.get(req);
  if (seen?.token === token) return seen.claims;
  const claims = verifySessionToken(token, deps);
  verifiedFor.set(req, { token, claims });
  return claims;
}

/** The bearer token of a request, or a `missing` error. */
export function bearerToken(header: string | undefined): string {
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) throw new SessionTokenError("missing");
  return match[1];
}
