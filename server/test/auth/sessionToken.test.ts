import type { Request } from "express";
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { bearerToken, issueSessionToken, SESSION_MAX_AGE_HOURS, SessionTokenError, verifyRequestSession, verifySessionToken } from "../../src/auth/sessionToken.js";
import { requireActor } from "../../src/auth/requestActor.js";
import { tokenFailureOf } from "../../src/auth/tokenErrors.js";
import { ManualClock } from "../../src/clock.js";
import { testConfig } from "../support/testConfig.js";

const config = testConfig({ SESSION_SECRET: "session-known-answer-secret-0123456789abcdef", ZENDESK_SUBDOMAIN: "acme", ZAF_INSTALLATION_ID: "123456" });
const T0 = Date.parse("2026-11-24T12:00:00.000Z") / 1000;
const clockAt = (seconds: number) => new ManualClock(new Date(seconds * 1000));

/**
 * A session for stf_demo_full (Zendesk user 9002) issued at T0 for 60 minutes, signed HS256 with the
 * secret above; its signature was checked outside this code. Any change to the secret's use, the
 * algorithm, the type, issuer, audience or claim names makes it stop verifying.
 */
const FIXED_SESSION =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6InN0ZXdhcmQtc2Vzc2lvbitqd3QifQ.eyJ6dWlkIjoiOTAwMiIsImF1dGhfdGltZSI6MTc5NTUyMTYwMCwiaXNzIjoiaHR0cHM6Ly9hY21lLnplbmRlc2suY29tIiwiYXVkIjoiMTIzNDU2Iiwic3ViIjoic3RmX2RlbW9fZnVsbCIsImp0aSI6IjAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwMSIsImlhdCI6MTc5NTUyMTYwMCwiZXhwIjoxNzk1NTI1MjAwfQ.6ifmqqlTCGd9ron-rDo93lo2G_O1zCF-zGTXc5pbiGk";

async function signed(claims: Record<string, unknown>, header: Record<string, string> = { alg: "HS256", typ: "steward-session+jwt" }): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(new TextEncoder().encode(config.SESSION_SECRET));
}

describe("session tokens: known answers", () => {
  it("verifies the fixed session to its fixed claims", async () => {
    await expect(verifySessionToken(FIXED_SESSION, { config, clock: clockAt(T0 + 60) })).resolves.toEqual({
      staffId: "stf_demo_full",
      zendeskUserId: "9002",
      authTime: T0,
      expiresAt: new Date((T0 + 3600) * 1000),
    });
  });

  it("issues exactly these claims: account, installation, staff member, Zendesk user, auth time, one hour", async () => {
    const { token, expiresAt } = await issueSessionToken({ config, clock: clockAt(T0) }, { staffId: "stf_demo_full", zendeskUserId: "9002" });
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "steward-session+jwt" });
    expect(decodeJwt(token)).toEqual({
      zuid: "9002",
      auth_time: T0,
      iss: "https://acme.zendesk.com",
      aud: "123456",
      sub: "stf_demo_full",
      jti: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      iat: T0,
      exp: T0 + 3600,
    });
    expect(expiresAt).toEqual(new Date((T0 + 3600) * 1000));
    // Two sessions issued in the same second are still two tokens.
    const again = await issueSessionToken({ config, clock: clockAt(T0) }, { staffId: "stf_demo_full", zendeskUserId: "9002" });
    expect(again.token).not.toBe(token);
  });

  it(`renewal keeps the auth time and never runs past ${SESSION_MAX_AGE_HOURS} h after it`, async () => {
    const late = T0 + SESSION_MAX_AGE_HOURS * 3600 - 600;
    const { token, expiresAt } = await issueSessionToken({ config, clock: clockAt(late) }, { staffId: "stf_demo_full", zendeskUserId: "9002", authTime: T0 });
    expect(decodeJwt(token)).toMatchObject({ auth_time: T0, iat: late, exp: T0 + SESSION_MAX_AGE_HOURS * 3600 });
    expect(expiresAt).toEqual(new Date((T0 + SESSION_MAX_AGE_HOURS * 3600) * 1000));
  });
});

describe("session token checks", () => {
  it("expires at its exp, not a second later", async () => {
    await expect(verifySessionToken(FIXED_SESSION, { config, clock: clockAt(T0 + 3599) })).resolves.toMatchObject({ staffId: "stf_demo_full" });
    await expect(verifySessionToken(FIXED_SESSION, { config, clock: clockAt(T0 + 3600) })).rejects.toMatchObject({ code: "expired", cause: expect.any(joseErrors.JWTExpired) });
  });

  it(`refuses a session whose auth time is more than ${SESSION_MAX_AGE_HOURS} h old even if its exp is later`, async () => {
    const base = { zuid: "9002", iss: "https://acme.zendesk.com", aud: "123456", sub: "stf_demo_full", exp: T0 + 48 * 3600 };
    const now = T0 + SESSION_MAX_AGE_HOURS * 3600;
    await expect(verifySessionToken(await signed({ ...base, auth_time: T0 }), { config, clock: clockAt(now) })).resolves.toMatchObject({ authTime: T0 });
    await expect(verifySessionToken(await signed({ ...base, auth_time: T0 - 1 }), { config, clock: clockAt(now) })).rejects.toMatchObject({ code: "too_old" });
  });

  it("refuses sessions missing a claim or with claims of the wrong type", async () => {
    const base = { zuid: "9002", auth_time: T0, iss: "https://acme.zendesk.com", aud: "123456", sub: "stf_demo_full", exp: T0 + 600 };
    const clock = clockAt(T0);
    for (const missing of ["zuid", "auth_time", "sub", "exp"]) {
      const claims: Record<string, unknown> = { ...base };
      delete claims[missing];
      // jose names the missing claim (kept as the cause for the log).
      await expect(verifySessionToken(await signed(claims), { config, clock }), missing).rejects.toMatchObject({ code: "malformed", cause: { claim: missing, reason: "missing" } });
    }
    await expect(verifySessionToken(await signed({ ...base, sub: 42 }), { config, clock })).rejects.toMatchObject({ code: "malformed" });
    await expect(verifySessionToken(await signed({ ...base, zuid: 9002 }), { config, clock })).rejects.toMatchObject({ code: "malformed" });
    await expect(verifySessionToken(await signed({ ...base, auth_time: String(T0) }), { config, clock })).rejects.toMatchObject({ code: "malformed" });
    await expect(verifySessionToken(await signed(base, { alg: "HS256", typ: "JWT" }), { config, clock })).rejects.toMatchObject({ code: "wrong_type" });
    await expect(verifySessionToken(await signed(base), { config, clock })).resolves.toMatchObject({ zendeskUserId: "9002" });
  });

  it("the error names its code; its problem is 401 session_<code>, telling a missing header from a bad session", () => {
    expect(new SessionTokenError("too_old")).toMatchObject({ name: "SessionTokenError", message: "Steward session rejected: too old", code: "too_old" });
    const problem = (code: "missing" | "too_old") => {
      const p = new SessionTokenError(code).toProblem();
      return { status: p.status, code: p.code, title: p.title, detail: p.detail, extra: p.extra };
    };
    expect(problem("missing")).toEqual({ status: 401, code: "session_missing", title: "Unauthorized", detail: "Send the Steward session as Authorization: Bearer <token>", extra: { reason: "missing" } });
    expect(problem("too_old")).toEqual({ status: 401, code: "session_too_old", title: "Unauthorized", detail: "The Steward session is not valid; reload the app in Zendesk", extra: { reason: "too_old" } });
  });

  it("reads only a well-formed bearer header", () => {
    expect(bearerToken("Bearer abc.def.ghi")).toBe("abc.def.ghi");
    expect(bearerToken("bearer   abc.def-_~+/=  ")).toBe("abc.def-_~+/=");
    for (const header of [undefined, "", "Bearer", "Bearer ", "Basic abc", "Bearerabc", "Bearer abc def", "Bearer a\u00e9b", "xBearer abc"]) {
      expect(() => bearerToken(header), String(header)).toThrow(expect.objectContaining({ code: "missing" }));
    }
  });
});

describe("one verification per request", () => {
  it("the rate limiter and authenticate share one verification of a request's token, its result or its error", async () => {
    const deps = { config, clock: clockAt(T0 + 60) };
    const req = {};
    const first = verifyRequestSession(req, FIXED_SESSION, deps);
    expect(verifyRequestSession(req, FIXED_SESSION, deps)).toBe(first);
    await expect(first).resolves.toMatchObject({ staffId: "stf_demo_full" });
    // Another request, or another token on the same request, is verified on its own.
    expect(verifyRequestSession({}, FIXED_SESSION, deps)).not.toBe(first);
    const tampered = `${FIXED_SESSION.slice(0, -2)}AA`;
    const refused = verifyRequestSession(req, tampered, deps);
    expect(refused).not.toBe(first);
    await expect(refused).rejects.toMatchObject({ code: "bad_signature" });
    await expect(verifyRequestSession(req, tampered, deps)).rejects.toMatchObject({ code: "bad_signature" });
  });

  it("a key imported for one secret never verifies a token signed with another", async () => {
    const other = testConfig({ SESSION_SECRET: "another-session-secret-0123456789abcdefgh", ZENDESK_SUBDOMAIN: "acme", ZAF_INSTALLATION_ID: "123456" });
    const mine = await issueSessionToken({ config, clock: clockAt(T0) }, { staffId: "stf_demo_full", zendeskUserId: "9002" });
    const theirs = await issueSessionToken({ config: other, clock: clockAt(T0) }, { staffId: "stf_demo_full", zendeskUserId: "9002" });
    // Both keys imported and cached by now; each secret still verifies only its own tokens.
    await expect(verifySessionToken(mine.token, { config, clock: clockAt(T0 + 60) })).resolves.toMatchObject({ staffId: "stf_demo_full" });
    await expect(verifySessionToken(theirs.token, { config: other, clock: clockAt(T0 + 60) })).resolves.toMatchObject({ staffId: "stf_demo_full" });
    await expect(verifySessionToken(theirs.token, { config, clock: clockAt(T0 + 60) })).rejects.toMatchObject({ code: "bad_signature" });
    await expect(verifySessionToken(mine.token, { config: other, clock: clockAt(T0 + 60) })).rejects.toMatchObject({ code: "bad_signature" });
  });
});

describe("token failure codes (every token kind)", () => {
  it("maps each jose error onto its code, and anything else onto malformed", () => {
    const claim = (name: string, reason = "check_failed") => new joseErrors.JWTClaimValidationFailed(`"${name}" claim check failed`, {}, name, reason);
    const cases: [unknown, string][] = [
      [new joseErrors.JWTExpired('"exp" claim timestamp check failed', {}, "exp", "check_failed"), "expired"],
      [new joseErrors.JOSEAlgNotAllowed("alg"), "alg_not_allowed"],
      [new joseErrors.JOSENotSupported("crit"), "alg_not_allowed"],
      [new joseErrors.JWSSignatureVerificationFailed(), "bad_signature"],
      [claim("nbf"), "not_yet_valid"],
      [claim("iat"), "not_yet_valid"],
      // An iat that is not a number is a malformed token, not one from the future.
      [claim("iat", "invalid"), "malformed"],
      [claim("iss"), "wrong_issuer"],
      [claim("aud"), "wrong_audience"],
      [claim("typ"), "wrong_type"],
      [claim("sub", "missing"), "malformed"],
      [new joseErrors.JWSInvalid("Invalid Compact JWS"), "malformed"],
      [new Error("anything"), "malformed"],
      ["not an error", "malformed"],
    ];
    expect(cases.map(([err]) => tokenFailureOf(err))).toEqual(cases.map(([, code]) => code));
  });
});

describe("the request's actor", () => {
  it("is the authenticated staff member; a route reached without authenticate answers 401 session_missing", () => {
    const actor = { kind: "staff", staffId: "stf_demo_full", zendeskUserId: "9002", email: null, name: null, panelRole: "support_full" } as const;
    expect(requireActor({ actor } as unknown as Request)).toBe(actor);
    expect(() => requireActor({} as Request)).toThrow(expect.objectContaining({ name: "SessionTokenError", code: "missing" }));
  });
});
