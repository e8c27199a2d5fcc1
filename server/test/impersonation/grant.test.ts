import { generateKeyPairSync } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { GRANT_MAX_SECONDS, GRANT_TYP } from "../../../shared/schemas/impersonation.js";
import { GrantError, signGrant, verifyGrant, type GrantBody } from "../../src/impersonation/grant.js";
import { GrantKeys } from "../../src/impersonation/signingKeys.js";

// The grant token alone: a fixed key and clock, no app or database (the attacks through redeem are in
// startAndGrant.test.ts). Cheap enough for the mutation run to try every grant.ts mutant here first.

/** A P-256 test key (IMPERSONATION_SIGNING_KEY form); its kid is the JWK thumbprint below. */
const PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzdYoa2KO4umUT3sc
0Ay0Ts8jrLMvbFXGJEnmowfOD+WhRANCAARZwyQRP2zmzLXIQDa9QmWe6nEjOPsi
h7PCMvIqv4QhtuJKfdIhoJSlZyPsCpoLTUHA0FagJbzqlvCodpbmcGsG
-----END PRIVATE KEY-----`;
const KID = "anUVRqKrht6xETKIh43R3GuM8Jb4yIQIvoVDLCIaC0U";
const ISSUER = "http://127.0.0.1:3000";
const AUDIENCE = "prd_demo";
const T0 = Date.parse("2026-11-24T12:00:00.000Z") / 1000;
const at = (seconds: number) => new Date(seconds * 1000);
const BODY: GrantBody = {
  sub: "usr_demo_001",
  aud: AUDIENCE,
  jti: "grant-known-answer-0001",
  sid: "imp_known_answer",
  ticket: "1004",
  mode: "read_only",
  act: { sub: "9002", email: "sam.support@steward-demo.test", name: "Sam Support" },
};
const CLAIMS = { ...BODY, iss: ISSUER, iat: T0, exp: T0 + 60 };

/**
 * The grant signGrant made from BODY at T0 with the key above (ES256 signatures are randomised, so this is one
 * of many valid ones; its signature was checked with node:crypto outside jose). Any change to what a grant
 * carries, its header or its algorithm makes it stop verifying or verify to other claims.
 */
const FIXED_GRANT =
  "eyJhbGciOiJFUzI1NiIsImtpZCI6ImFuVVZScUtyaHQ2eEVUS0loNDNSM0d1TThKYjR5SVFJdm9WRExDSWFDMFUiLCJ0eXAiOiJzdGV3YXJkLWltcGVyc29uYXRpb24rand0In0.eyJzaWQiOiJpbXBfa25vd25fYW5zd2VyIiwidGlja2V0IjoiMTAwNCIsIm1vZGUiOiJyZWFkX29ubHkiLCJhY3QiOnsic3ViIjoiOTAwMiIsImVtYWlsIjoic2FtLnN1cHBvcnRAc3Rld2FyZC1kZW1vLnRlc3QiLCJuYW1lIjoiU2FtIFN1cHBvcnQifSwiaXNzIjoiaHR0cDovLzEyNy4wLjAuMTozMDAwIiwic3ViIjoidXNyX2RlbW9fMDAxIiwiYXVkIjoicHJkX2RlbW8iLCJqdGkiOiJncmFudC1rbm93bi1hbnN3ZXItMDAwMSIsImlhdCI6MTc5NTUyMTYwMCwiZXhwIjoxNzk1NTIxNjYwfQ.6_7G0Sd4MuuEozaevK9PHdgrOoRhBcuLCHxJqRJO6utVrOhLJ1192nhdSrZwi6jFHK7mRDBp8hYUoDNy-9ZROQ";

const keys = new GrantKeys({ kind: "env", pem: PEM });
const expected = (seconds: number, audience = AUDIENCE) => ({ issuer: ISSUER, audience, now: at(seconds) });

/** A grant with any claim or header changed, signed by the test key unless told. */
async function craft(claims: Record<string, unknown>, header: Record<string, unknown> = {}, key?: Parameters<SignJWT["sign"]>[0]): Promise<string> {
  const signingKey = key ?? (await keys.current(at(T0))).privateKey;
  return new SignJWT({ ...CLAIMS, ...claims }).setProtectedHeader({ alg: "ES256", kid: KID, typ: GRANT_TYP, ...header } as { alg: string }).sign(signingKey);
}

const refusal = (promise: Promise<unknown>) => promise.then(() => null, (err: unknown) => err);

describe("impersonation grant: known answers", () => {
  it("verifies the fixed grant to its fixed claims", async () => {
    await expect(verifyGrant(keys, FIXED_GRANT, expected(T0 + 1))).resolves.toEqual(CLAIMS);
  });

  it(`signs exactly these claims and header, living ${GRANT_MAX_SECONDS} s`, async () => {
    const { token, expiresAt } = await signGrant(keys, BODY, ISSUER, new Date(T0 * 1000 + 999));
    expect(decodeProtectedHeader(token)).toEqual({ alg: "ES256", kid: KID, typ: "steward-impersonation+jwt" });
    expect(decodeJwt(token)).toEqual(CLAIMS);
    // The payload segment is byte for byte the fixed grant's: same claims in the same order.
    expect(token.split(".").slice(0, 2)).toEqual(FIXED_GRANT.split(".").slice(0, 2));
    expect(expiresAt).toEqual(at(T0 + 60));
    await expect(verifyGrant(keys, token, expected(T0))).resolves.toEqual(CLAIMS);
  });
});

describe("impersonation grant checks", () => {
  it("lives until its exp plus 5 s of skew, not a second more", async () => {
    await expect(verifyGrant(keys, FIXED_GRANT, expected(T0 + 64))).resolves.toMatchObject({ jti: BODY.jti });
    const late = await refusal(verifyGrant(keys, FIXED_GRANT, expected(T0 + 65)));
    expect(late).toBeInstanceOf(GrantError);
    expect(late).toMatchObject({ code: "expired", cause: expect.any(joseErrors.JWTExpired) });
  });

  it(`refuses a grant whose exp is more than ${GRANT_MAX_SECONDS} s after its iat, or whose iat is older than that plus 5 s`, async () => {
    await expect(verifyGrant(keys, await craft({ exp: T0 + 60 }), expected(T0))).resolves.toMatchObject({ exp: T0 + 60 });
    await expect(verifyGrant(keys, await craft({ exp: T0 + 61 }), expected(T0))).rejects.toMatchObject({ code: "malformed" });
    // The iat may be up to 60 s plus 5 s of grace plus 5 s of skew old…
    await expect(verifyGrant(keys, await craft({ iat: T0 - 64, exp: T0 - 4 }), expected(T0))).resolves.toMatchObject({ iat: T0 - 64 });
    // …an older one has expired, whatever its exp says.
    await expect(verifyGrant(keys, await craft({ iat: T0 - 71, exp: T0 + 60 }), expected(T0))).rejects.toMatchObject({ code: "expired" });
  });

  it("refuses another audience, issuer or type, an unknown or missing kid, another algorithm, another key — each by its code", async () => {
    const cases: [string, () => Promise<unknown>][] = [
      ["wrong_audience", async () => verifyGrant(keys, FIXED_GRANT, expected(T0, "prd_other"))],
      ["wrong_issuer", async () => verifyGrant(keys, FIXED_GRANT, { ...expected(T0), issuer: "http://steward.elsewhere" })],
      ["wrong_type", async () => verifyGrant(keys, await craft({}, { typ: "JWT" }), expected(T0))],
      ["unknown_key", async () => verifyGrant(keys, await craft({}, { kid: "not-a-published-kid" }), expected(T0))],
      ["unknown_key", async () => verifyGrant(keys, await craft({}, { kid: undefined }), expected(T0))],
      ["alg_not_allowed", async () => verifyGrant(keys, await craft({}, { alg: "HS256" }, new TextEncoder().encode("a shared secret of enough length here")), expected(T0))],
      ["bad_signature", async () => verifyGrant(keys, await craft({}, {}, generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey), expected(T0))],
    ];
    for (const [code, verification] of cases) {
      const err = await refusal(verification());
      expect(err, code).toBeInstanceOf(GrantError);
      expect(err, code).toMatchObject({ code });
    }
  });

  it("refuses claims of the wrong shape as malformed", async () => {
    for (const claims of [{ mode: "god" }, { ticket: "ticket-1" }, { act: { sub: "9002" } }, { jti: "short" }, { sid: "" }]) {
      await expect(verifyGrant(keys, await craft(claims), expected(T0)), JSON.stringify(claims)).rejects.toMatchObject({ code: "malformed" });
    }
    await expect(verifyGrant(keys, "not-a-jwt", expected(T0))).rejects.toMatchObject({ code: "malformed", cause: expect.any(Error) });
  });

  it("the error names its code; its problem is 401 grant_<code>, or 409 grant_replayed for a second redemption", () => {
    expect(new GrantError("unknown_key")).toMatchObject({ name: "GrantError", message: "impersonation grant refused: unknown key", code: "unknown_key" });
    const problem = (err: GrantError) => {
      const p = err.toProblem();
      return { status: p.status, code: p.code, title: p.title, detail: p.detail, extra: p.extra };
    };
    expect(problem(new GrantError("wrong_audience"))).toEqual({
      status: 401,
      code: "grant_wrong_audience",
      title: "Unauthorized",
      detail: "The impersonation grant is not valid (wrong audience)",
      extra: { reason: "wrong_audience" },
    });
    expect(problem(new GrantError("replayed"))).toMatchObject({ status: 409, code: "grant_replayed", detail: "This grant was already redeemed; start a new session from the ticket" });
  });
});
