import { generateKeyPairSync } from "node:crypto";
import { createLocalJWKSet, exportJWK, SignJWT, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DIRECTORY_TOKEN_TYP, DirectoryTokenRejected, verifyDirectoryToken } from "../src/index.js";

/**
 * The product's check of Steward's directory tokens: only a short-lived ES256 token of the directory
 * type, from a key in Steward's JWKS, for this product, with the acting agent, is accepted.
 */
const ISSUER = "https://steward.test";
const AUDIENCE = "prd_kit";
const NOW = new Date("2026-03-01T12:00:00Z");
const iat = Math.floor(NOW.getTime() / 1000);
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
let keys: ReturnType<typeof createLocalJWKSet>;

interface TokenOptions {
  typ?: string;
  audience?: string;
  issuer?: string;
  lifeSeconds?: number;
  issuedAt?: number;
  key?: typeof privateKey;
  claims?: Record<string, unknown>;
}

function token(o: TokenOptions = {}): Promise<string> {
  const issuedAt = o.issuedAt ?? iat;
  return new SignJWT({ agent: { id: "stf_1", email: "agent@support.test" }, ticketId: "4242", idem: "key-1", ...o.claims })
    .setProtectedHeader({ alg: "ES256", kid: "k1", typ: o.typ ?? DIRECTORY_TOKEN_TYP })
    .setIssuer(o.issuer ?? ISSUER)
    .setAudience(o.audience ?? AUDIENCE)
    .setSubject("stf_1")
    .setJti("jti-1")
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + (o.lifeSeconds ?? 30))
    .sign(o.key ?? privateKey);
}

const verify = (authorization: string | undefined, now = NOW) => verifyDirectoryToken(authorization, keys, { issuer: ISSUER, audience: AUDIENCE, now });

async function refusal(authorization: string | undefined, now = NOW): Promise<string> {
  try {
    await verify(authorization, now);
  } catch (err) {
    if (err instanceof DirectoryTokenRejected) return err.code;
    throw err;
  }
  throw new Error("accepted");
}

describe("verifyDirectoryToken", () => {
  beforeAll(async () => {
    keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] });
  });

  it("accepts Steward's 30 s token and returns the agent, the ticket and the idempotency key", async () => {
    const claims = await verify(`Bearer ${await token()}`);
    expect(claims).toMatchObject({ sub: "stf_1", agent: { id: "stf_1", email: "agent@support.test" }, ticketId: "4242", idem: "key-1", aud: AUDIENCE });
  });

  it("refuses a token living longer than 60 s, however it is otherwise right", async () => {
    expect(await refusal(`Bearer ${await token({ lifeSeconds: 61 })}`)).toBe("malformed");
    expect(await verify(`Bearer ${await token({ lifeSeconds: 60 })}`)).toMatchObject({ sub: "stf_1" });
  });

  it("refuses a token once expired (5 s of clock tolerance)", async () => {
    expect(await verify(`Bearer ${await token()}`, new Date(NOW.getTime() + 34_000))).toMatchObject({ sub: "stf_1" });
    expect(await refusal(`Bearer ${await token()}`, new Date(NOW.getTime() + 36_000))).toBe("jwt_expired");
  });

  it("refuses another audience, another issuer, another token type, a key not in the JWKS and an unsigned token", async () => {
    expect(await refusal(`Bearer ${await token({ audience: "prd_other" })}`)).toBe("jwt_claim_validation_failed");
    expect(await refusal(`Bearer ${await token({ issuer: "https://elsewhere.test" })}`)).toBe("jwt_claim_validation_failed");
    expect(await refusal(`Bearer ${await token({ typ: "steward-impersonation+jwt" })}`)).toBe("jwt_claim_validation_failed");
    expect(await refusal(`Bearer ${await token({ key: other.privateKey })}`)).toBe("jws_signature_verification_failed");
    const unsigned = new UnsecuredJWT({ agent: { id: "stf_1", email: null }, ticketId: null }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject("stf_1").setIssuedAt(iat).setExpirationTime(iat + 30).encode();
    expect(await refusal(`Bearer ${unsigned}`)).not.toBe("accepted");
  });

  it("refuses a token without the acting agent, and a missing or malformed header", async () => {
    expect(await refusal(`Bearer ${await token({ claims: { agent: null } })}`)).toBe("malformed");
    expect(await refusal(undefined)).toBe("missing");
    expect(await refusal(`Basic ${await token()}`)).toBe("missing");
  });
});
