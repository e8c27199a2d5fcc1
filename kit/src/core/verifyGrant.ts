import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from "jose";
import { GrantClaims } from "./types.js";

/**
 * Checks a handoff grant before redeeming it: ES256 only, a key from Steward's JWKS, the issuer
 * (Steward's URL), the audience (this product), the grant type and a life of at most 60 s.
 */
export const GRANT_TYP = "steward-impersonation+jwt";

export class GrantRejected extends Error {
  constructor(
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`impersonation grant rejected: ${code}`, options);
    this.name = "GrantRejected";
  }
}

export function remoteKeys(stewardUrl: string): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL("/.well-known/jwks.json", stewardUrl), { cooldownDuration: 5_000, cacheMaxAge: 60_000 });
}

export async function verifyGrant(token: string, keys: JWTVerifyGetKey, expected: { issuer: string; productId: string; now?: Date }): Promise<GrantClaims> {
  try {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: ["ES256"],
      issuer: expected.issuer.replace(/\/$/, ""),
      audience: expected.productId,
      typ: GRANT_TYP,
      // No maxTokenAge: it refuses an iat in this machine's future, i.e. every grant when Steward's clock is
      // over 5 s ahead (Steward allows products 30 s). exp, and exp - iat ≤ 60 below, bound the age alike.
      clockTolerance: 5,
      ...(expected.now ? { currentDate: expected.now } : {}),
    });
    const claims = GrantClaims.safeParse(payload);
    if (!claims.success || claims.data.exp - claims.data.iat > 60) throw new GrantRejected("malformed");
    return claims.data;
  } catch (err) {
    if (err instanceof GrantRejected) throw err;
    const code = (err as { code?: string }).code ?? "invalid";
    throw new GrantRejected(code.replace(/^ERR_/, "").toLowerCase(), { cause: err });
  }
}
