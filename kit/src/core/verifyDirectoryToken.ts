import { jwtVerify, type JWTVerifyGetKey } from "jose";
import { z } from "zod";

/**
 * For products implementing Steward's directory contract (docs/directory-contract.json): checks the
 * token on each directory request — ES256, a key from Steward's JWKS, Steward as issuer, this product
 * as audience, the directory token type and a life of at most 60 s — and returns who is acting.
 * The kit keeps its own copy of the claims (it never imports Steward's code).
 */
export const DIRECTORY_TOKEN_TYP = "steward-directory+jwt";

export const DirectoryTokenClaims = z.object({
  iss: z.string(),
  sub: z.string().min(1),
  aud: z.union([z.string(), z.array(z.string())]),
  iat: z.number(),
  exp: z.number(),
  jti: z.string().min(1),
  agent: z.object({ id: z.string().min(1), email: z.string().nullable() }),
  ticketId: z.string().nullable(),
  /** Present on writes: apply the write once per key, and answer a repeat with the first answer. */
  idem: z.string().min(1).optional(),
});
export type DirectoryTokenClaims = z.infer<typeof DirectoryTokenClaims>;

export class DirectoryTokenRejected extends Error {
  constructor(
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`directory token rejected: ${code}`, options);
    this.name = "DirectoryTokenRejected";
  }
}

/** `authorization` is the request's Authorization header as received. */
export async function verifyDirectoryToken(authorization: string | undefined, keys: JWTVerifyGetKey, expected: { issuer: string; audience: string; now?: Date }): Promise<DirectoryTokenClaims> {
  const token = /^Bearer ([A-Za-z0-9._-]+)$/.exec(authorization ?? "")?.[1];
  if (!token) throw new DirectoryTokenRejected("missing");
  try {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: ["ES256"],
      issuer: expected.issuer.replace(/\/$/, ""),
      audience: expected.audience,
      typ: DIRECTORY_TOKEN_TYP,
      maxTokenAge: "65s",
      clockTolerance: 5,
      ...(expected.now ? { currentDate: expected.now } : {}),
    });
    const claims = DirectoryTokenClaims.safeParse(payload);
    if (!claims.success || claims.data.exp - claims.data.iat > 60) throw new DirectoryTokenRejected("malformed");
    return claims.data;
  } catch (err) {
    if (err instanceof DirectoryTokenRejected) throw err;
    const code = (err as { code?: string }).code ?? "invalid";
    throw new DirectoryTokenRejected(code.replace(/^ERR_/, "").toLowerCase(), { cause: err });
  }
}
