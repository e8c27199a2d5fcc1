import { errors, jwtVerify, SignJWT, type JWTHeaderParameters } from "jose";
import { GRANT_MAX_SECONDS, GRANT_TYP, GrantClaims } from "../../../shared/schemas/impersonation.js";
import { tokenFailureOf, type TokenFailure } from "../auth/tokenErrors.js";
import { Problem } from "../http/problem.js";
import { ALG, type GrantKeys } from "./signingKeys.js";

/**
 * The one-time handoff grant: a short JWT (≤ 60 s) that tells the product who to show (`sub`), who is
 * really acting (`act`, RFC 8693), for which session, ticket and mode. Signed with Steward's current
 * ES256 key; the product checks it against /.well-known/jwks.json and then redeems it once.
 */
export type GrantBody = Omit<GrantClaims, "iss" | "iat" | "exp">;

export async function signGrant(keys: GrantKeys, body: GrantBody, issuer: string, now: Date): Promise<{ token: string; expiresAt: Date }> {
  const key = await keys.current(now);
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + GRANT_MAX_SECONDS;
  const token = await new SignJWT({ sid: body.sid, ticket: body.ticket, mode: body.mode, act: body.act })
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: GRANT_TYP })
    .setIssuer(issuer)
    .setSubject(body.sub)
    .setAudience(body.aud)
    .setJti(body.jti)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key.privateKey);
  return { token, expiresAt: new Date(exp * 1000) };
}

export type GrantFailure = TokenFailure | "unknown_key" | "replayed";

export class GrantError extends Error {
  constructor(
    readonly code: GrantFailure,
    options?: { cause?: unknown },
  ) {
    super(`impersonation grant refused: ${code.replace(/_/g, " ")}`, options);
    this.name = "GrantError";
  }
  toProblem(): Problem {
    return this.code === "replayed"
      ? Problem.conflict("grant_replayed", "This grant was already redeemed; start a new session from the ticket")
      : new Problem(401, `grant_${this.code}`, "Unauthorized", `The impersonation grant is not valid (${this.code.replace(/_/g, " ")})`, { reason: this.code });
  }
}

/** Verifies signature (ES256 only, a published `kid`), type, issuer, audience, expiry and claim shapes. */
export async function verifyGrant(keys: GrantKeys, token: string, expected: { issuer: string; audience: string; now: Date }): Promise<GrantClaims> {
  let payload: unknown;
  try {
    const verified = await jwtVerify(
      token,
      async (header: JWTHeaderParameters) => {
        if (header.alg !== ALG) throw new errors.JOSEAlgNotAllowed(`alg ${String(header.alg)} is not allowed`);
        const key = header.kid ? await keys.publicKey(header.kid, expected.now) : null;
        if (!key) throw new GrantError("unknown_key");
        return key;
      },
      { algorithms: [ALG], issuer: expected.issuer, audience: expected.audience, typ: GRANT_TYP, currentDate: expected.now, maxTokenAge: `${GRANT_MAX_SECONDS + 5}s`, clockTolerance: 5 },
    );
    payload = verified.payload;
  } catch (err) {
    if (err instanceof GrantError) throw err;
    throw new GrantError(tokenFailureOf(err), { cause: err });
  }
  const claims = GrantClaims.safeParse(payload);
  if (!claims.success) throw new GrantError("malformed");
  if (claims.data.exp - claims.data.iat > GRANT_MAX_SECONDS) throw new GrantError("malformed");
  return claims.data;
}
