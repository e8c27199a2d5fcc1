import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { ActionEffects, ActionTarget } from "../../../shared/schemas/actions.js";
import { ManualClock } from "../../src/clock.js";
import { CONFIRMATION_TTL_SECONDS, issueConfirmationToken, previewFingerprint, verifyConfirmationToken } from "../../src/commands/confirmation.js";
import { testConfig } from "../support/testConfig.js";

const config = testConfig({ SESSION_SECRET: "confirmation-known-answer-secret-0123456789" });
const ISSUED_AT = new Date("2026-11-24T12:00:00.000Z");
const binding: { staffId: string; action: string; target: ActionTarget; fingerprint: string } = { staffId: "stf_demo_ops", action: "account.delete", target: { type: "account", id: "acc_demo_019" }, fingerprint: "f".repeat(64) };

const effects: ActionEffects = {
  summary: "Deletes the account",
  summaryPhrase: { code: "account_delete", params: { name: "Acme", count: 1, untilDate: "2026-12-24T12:00:00.000Z" } },
  activeSubscription: true,
  mrrLostCents: 98_000,
  currency: "usd",
  nextInvoice: null,
  openInvoices: 0,
  amountDueCents: 0,
  usersLosingAccess: [{ id: "usr_demo_019_1", email: "a@example.test", name: "A" }],
  retentionUntil: "2026-12-24T12:00:00.000Z",
  warnings: [],
  warningPhrases: [],
};

/** Issued once with the fixed secret, binding and clock above; HS256 is deterministic, so issuing again must give these bytes. */
const FIXED_TOKEN =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6InN0ZXdhcmQtY29uZmlybWF0aW9uK2p3dCJ9.eyJhY3QiOiJhY2NvdW50LmRlbGV0ZSIsInRndCI6ImFjY291bnQ6YWNjX2RlbW9fMDE5IiwiZnAiOiJmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmIiwic3ViIjoic3RmX2RlbW9fb3BzIiwiYXVkIjoic3Rld2FyZDpjb25maXJtYXRpb24iLCJpYXQiOjE3OTU1MjE2MDAsImV4cCI6MTc5NTUyMTkwMH0.2YFf8BLdB0n9Mgip1YTP1B6kl6l6Wt1EPj2RQRZ0tR4";
/** sha256 of {"effects":…,"input":…,"version":4} with keys sorted at every level (checked outside this code). */
const FIXED_FINGERPRINT = "4b92f4ff4009137fc765f6e3da10e4a31c8a2f4bb385a29e2a83b1fcd65452b5";

const clockAt = (offsetSeconds = 0) => new ManualClock(new Date(ISSUED_AT.getTime() + offsetSeconds * 1000));
const verify = (token: string | undefined, over: Partial<typeof binding> = {}, offsetSeconds = 0) => verifyConfirmationToken(token, { ...binding, ...over }, { config, clock: clockAt(offsetSeconds) });

describe("confirmation tokens: known answers", () => {
  it("issues the fixed token for the fixed binding, with exactly these claims", async () => {
    const { token, expiresAt } = await issueConfirmationToken(binding, { config, clock: clockAt() });
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "steward-confirmation+jwt" });
    const iat = ISSUED_AT.getTime() / 1000;
    expect(decodeJwt(token)).toEqual({ act: "account.delete", tgt: "account:acc_demo_019", fp: "f".repeat(64), sub: "stf_demo_ops", aud: "steward:confirmation", iat, exp: iat + 300 });
    expect(expiresAt).toBe("2026-11-24T12:05:00.000Z");
    expect(token).toBe(FIXED_TOKEN);
    expect(CONFIRMATION_TTL_SECONDS).toBe(300);
  });

  it("fingerprints a fixed preview to a fixed value, whatever the key order, and any change shows", () => {
    expect(previewFingerprint(4, { mode: "now", note: "x" }, effects)).toBe(FIXED_FINGERPRINT);
    const reordered = Object.fromEntries(Object.entries(effects).reverse()) as ActionEffects;
    expect(previewFingerprint(4, { note: "x", mode: "now" }, reordered)).toBe(FIXED_FINGERPRINT);
    const others = [
      previewFingerprint(5, { mode: "now", note: "x" }, effects),
      previewFingerprint(4, { mode: "later", note: "x" }, effects),
      previewFingerprint(4, { mode: "now", note: "x" }, { ...effects, mrrLostCents: 97_999 }),
      previewFingerprint(4, { mode: "now", note: "x" }, { ...effects, usersLosingAccess: [] }),
      previewFingerprint(4, { mode: "now", note: "x" }, { ...effects, summaryPhrase: { ...effects.summaryPhrase, params: { ...effects.summaryPhrase.params, count: 2 } } }),
      previewFingerprint(4, [{ mode: "now" }], effects),
      previewFingerprint(4, null, effects),
    ];
    // No input and a null input are the same request.
    expect(previewFingerprint(4, undefined, effects)).toBe(previewFingerprint(4, null, effects));
    expect(new Set([FIXED_FINGERPRINT, ...others]).size).toBe(others.length + 1);
  });

  it("fingerprints arrays element by element, in order (a second known answer, checked outside this code)", () => {
    const more: ActionEffects = {
      ...effects,
      warnings: ["Open invoice", "Active subscription"],
      usersLosingAccess: [...effects.usersLosingAccess, { id: "usr_demo_019_2", email: "b@example.test", name: "B" }],
    };
    expect(previewFingerprint(4, { seats: [3, 1, 2] }, more)).toBe("6ecb1e89dba9047c28cd626962bdd0ed97d6ee999c6156b706eed3e6d56aa43b");
    expect(previewFingerprint(4, { seats: [1, 2, 3] }, more)).not.toBe("6ecb1e89dba9047c28cd626962bdd0ed97d6ee999c6156b706eed3e6d56aa43b");
  });

  it("accepts the fixed token for its binding within its five minutes", async () => {
    await expect(verify(FIXED_TOKEN)).resolves.toBeUndefined();
    await expect(verify(FIXED_TOKEN, {}, CONFIRMATION_TTL_SECONDS - 1)).resolves.toBeUndefined();
  });
});

describe("confirmation tokens are bound to the agent, action, target, previewed state and five minutes", () => {
  it("expires at five minutes, not later (409 confirmation_expired)", async () => {
    await expect(verify(FIXED_TOKEN, {}, CONFIRMATION_TTL_SECONDS)).rejects.toMatchObject({ status: 409, code: "confirmation_expired", detail: "The confirmation expired (5 minutes); preview the action again" });
    await expect(verify(FIXED_TOKEN, {}, 3600)).rejects.toMatchObject({ status: 409, code: "confirmation_expired" });
  });

  it("refuses it for another agent, action, target type or target id (400 confirmation_invalid)", async () => {
    const invalid = { status: 400, code: "confirmation_invalid", title: "Invalid confirmation" };
    await expect(verify(FIXED_TOKEN, { staffId: "stf_demo_admin" })).rejects.toMatchObject({ ...invalid, detail: "The confirmation token is not valid for this agent", extra: { errors: [{ field: "confirmationToken", reason: "invalid or issued to someone else" }] } });
    await expect(verify(FIXED_TOKEN, { action: "account.deactivate" })).rejects.toMatchObject({ ...invalid, detail: "The confirmation token was issued for another action or target", extra: { errors: [{ field: "confirmationToken", reason: "issued for another action or target" }] } });
    await expect(verify(FIXED_TOKEN, { target: { type: "account", id: "acc_demo_020" } })).rejects.toMatchObject(invalid);
    await expect(verify(FIXED_TOKEN, { target: { type: "user", id: "acc_demo_019" } })).rejects.toMatchObject(invalid);
  });

  it("answers 409 confirmation_stale when the previewed state changed", async () => {
    await expect(verify(FIXED_TOKEN, { fingerprint: "e".repeat(64) })).rejects.toMatchObject({ status: 409, code: "confirmation_stale", detail: "The account changed since the preview (billing or target state); preview the action again" });
  });

  it("answers 428 without a token, and refuses tokens signed otherwise, of another kind, or garbled", async () => {
    await expect(verify(undefined)).rejects.toMatchObject({
      status: 428,
      code: "confirmation_required",
      title: "Confirmation required",
      detail: "account.delete is destructive: preview it first and send the confirmationToken it returns",
    });
    await expect(verify("")).rejects.toMatchObject({ status: 428, code: "confirmation_required" });
    const otherSecret = testConfig({ SESSION_SECRET: "another-secret-entirely-0123456789abcdef" });
    const forged = await issueConfirmationToken(binding, { config: otherSecret, clock: clockAt() });
    await expect(verify(forged.token)).rejects.toMatchObject({ status: 400, code: "confirmation_invalid" });
    // The session secret itself (without the confirmation prefix) does not sign confirmations.
    const iat = ISSUED_AT.getTime() / 1000;
    const claims = { act: binding.action, tgt: "account:acc_demo_019", fp: binding.fingerprint };
    const rawSecret = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "steward-confirmation+jwt" })
      .setSubject(binding.staffId)
      .setAudience("steward:confirmation")
      .setIssuedAt(iat)
      .setExpirationTime(iat + 300)
      .sign(new TextEncoder().encode(config.SESSION_SECRET));
    await expect(verify(rawSecret)).rejects.toMatchObject({ code: "confirmation_invalid" });
    const otherAudience = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(binding.staffId)
      .setAudience("steward:session")
      .setIssuedAt(iat)
      .setExpirationTime(iat + 300)
      .sign(new TextEncoder().encode(`confirmation:${config.SESSION_SECRET}`));
    await expect(verify(otherAudience)).rejects.toMatchObject({ code: "confirmation_invalid" });
    await expect(verify(`${FIXED_TOKEN.slice(0, -2)}AA`)).rejects.toMatchObject({ code: "confirmation_invalid" });
  });
});
