import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { IdentitySummary } from "../../../shared/schemas/context.js";
import { ManualClock } from "../../src/clock.js";
import { createAuth0Identity } from "../../src/providers/index.js";
import { providerFailure } from "./providerFailure.js";
import type { IdentityPort, IdentityUserRef } from "../../src/providers/ports.js";
import { Auth0Fake } from "../fakes/auth0Fake.js";
import { testConfig } from "../support/databases.js";
import { seedAuth0Users } from "./auth0Seed.js";

const fake = new Auth0Fake();
const clock = new ManualClock(new Date("2026-11-24T12:00:00.000Z"));
let identity: IdentityPort;
const ctx = { idempotencyKey: "op-auth0-test" };

const locked: IdentityUserRef = { id: "usr_locked", idpId: "auth0|locked", email: "lou.locked@acme.example" };
const blocked: IdentityUserRef = { id: "usr_blocked", idpId: "auth0|blocked", email: "bea.blocked@acme.example" };
const byEmail: IdentityUserRef = { id: "usr_email_only", idpId: null, email: "eli.email@acme.example" };

function portFor(env: Record<string, string>, policy = { baseDelayMs: 10 }): IdentityPort {
  return createAuth0Identity({ config: testConfig({ ...fake.env(), PROVIDER_TIMEOUT_MS: "2000", PROVIDER_MAX_RETRIES: "2", ...env }), clock, policy });
}

const failure = providerFailure;

/** A Management API token from the fake, for calling it directly. */
async function tokenOf(): Promise<string> {
  const res = await fetch(`${fake.url}/oauth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ grant_type: "client_credentials", client_id: fake.clientId, client_secret: fake.clientSecret }) });
  return ((await res.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  await fake.start();
  identity = portFor({});
});
afterAll(() => fake.close());
beforeEach(async () => {
  await fake.idle();
  fake.clearFaults();
  fake.requests.length = 0;
  seedAuth0Users(fake);
});

describe("Auth0 identity adapter (auth0 SDK against the local Auth0 fake)", () => {
  it("reads a locked user by idpId: brute-force block, failures since last success, MFA, sessions, events", async () => {
    const summary = IdentitySummary.parse(await identity.getIdentity(locked));
    expect(summary).toMatchObject({
      providerUserId: "auth0|locked",
      email: "lou.locked@acme.example",
      blocked: false,
      locked: true,
      lockedUntil: null,
      failedLoginCount: 3,
      mfaEnrolled: true,
      mfaMethods: ["totp", "webauthn-roaming"],
      lastLoginAt: "2026-11-20T08:00:00.000Z",
      activeSessions: 2,
    });
    // Newest first; the API-call log ("sapi") is not a sign-in event; the failure before the last success still shows.
    expect(summary.recentAuthEvents.map((e) => e.type)).toEqual(["locked", "login_failed", "login_failed", "login_failed", "login", "login_failed"]);
    expect(summary.recentAuthEvents[0]).toEqual({ type: "locked", at: "2026-11-24T09:03:00.000Z", ip: "198.51.100.9", detail: "Too many failed attempts" });
    // All five reads went out together, after one token request.
    const api = fake.requests.filter((r) => r.path.startsWith("/api/v2/"));
    expect(api.map((r) => `${r.method} ${decodeURIComponent(r.path)}`).sort()).toEqual(
      [
        "GET /api/v2/user-blocks/auth0|locked",
        "GET /api/v2/users/auth0|locked",
        "GET /api/v2/users/auth0|locked/authentication-methods",
        "GET /api/v2/users/auth0|locked/logs",
        "GET /api/v2/users/auth0|locked/sessions",
      ].sort(),
    );
    expect(fake.requestsTo("GET", /\/logs$/)[0]?.query.get("sort")).toBe("date:-1");
    expect(api.every((r) => String(r.headers.authorization).startsWith("Bearer fake-mgmt-"))).toBe(true);
  });

  it("reads an admin-blocked user without MFA", async () => {
    const summary = await identity.getIdentity(blocked);
    expect(summary).toMatchObject({ blocked: true, locked: false, mfaEnrolled: false, mfaMethods: [], activeSessions: 0, failedLoginCount: 0, lastLoginAt: null });
  });

  it("falls back to users-by-email without an idpId and prefers the database connection's identity", async () => {
    const summary = await identity.getIdentity(byEmail);
    expect(summary.providerUserId).toBe("auth0|eli-db");
    const byEmailCall = fake.requestsTo("GET", "/api/v2/users-by-email")[0];
    expect(byEmailCall?.query.get("email")).toBe("eli.email@acme.example");
    expect(fake.requestsTo("GET", /\/users\/auth0%7Celi-db\/sessions$/)).toHaveLength(1);
  });

  it("finds a user by email whatever the case the product wrote it in: Auth0 matches exactly and keeps its database users in lower case", async () => {
    // The fake, like Auth0, does not find the database user by the mixed-case address.
    const exact = await fetch(`${fake.url}/api/v2/users-by-email?email=${encodeURIComponent("Eli.Email@ACME.example")}`, { headers: { authorization: `Bearer ${await tokenOf()}` } });
    expect(await exact.json()).toEqual([]);
    const summary = await identity.getIdentity({ id: "usr_email_only", idpId: null, email: "Eli.Email@ACME.example" });
    expect(summary.providerUserId).toBe("auth0|eli-db");
    // An enterprise IdP keeps the case it was given: found as written.
    fake.addUser({ user_id: "samlp|mia", email: "Mia.Mixed@acme.example", connection: "acme-saml" });
    expect((await identity.getIdentity({ id: "usr_mia", idpId: null, email: "Mia.Mixed@acme.example" })).providerUserId).toBe("samlp|mia");
  });

  it("not found: unknown idpId and unknown email become ProviderError not_found", async () => {
    const unknownId = await failure(identity.getIdentity({ id: "usr_x", idpId: "auth0|nobody", email: "nobody@acme.example" }));
    expect(unknownId).toMatchObject({ provider: "auth0", code: "not_found", status: 404, retryable: false });
    expect(unknownId.toProblem().status).toBe(404);
    const unknownEmail = await failure(identity.getIdentity({ id: "usr_x", idpId: null, email: "nobody@acme.example" }));
    expect(unknownEmail).toMatchObject({ code: "not_found", operation: "users.listUsersByEmail" });
  });

  it("429 then success: waits the Retry-After the fake sent, then answers", async () => {
    fake.failNext(1, 429, { retryAfter: 1, path: /auth0%7Cblocked/ });
    const started = Date.now();
    const summary = await identity.getIdentity(blocked);
    expect(summary.blocked).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    const limited = fake.requests.find((r) => r.fault === "failed");
    expect(limited?.status).toBe(429);
    const retried = fake.requests.filter((r) => r.method === limited?.method && r.path === limited?.path);
    expect(retried.map((r) => r.status)).toEqual([429, 200]);
    expect((retried[1]?.at ?? 0) - (retried[0]?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
  });

  it("500 on every attempt: tries 1 + PROVIDER_MAX_RETRIES times, then ProviderError unavailable", async () => {
    fake.failNext(3, 500, { path: /auth0%7Clocked/ });
    const err = await failure(identity.setBlocked(locked, true, ctx));
    expect(err).toMatchObject({ provider: "auth0", code: "unavailable", status: 500, retryable: true, operation: "users.update" });
    expect(err.toProblem().status).toBe(502);
    expect(fake.requestsTo("PATCH", "/api/v2/users/auth0%7Clocked").map((r) => r.status)).toEqual([500, 500, 500]);
    expect(fake.users.get("auth0|locked")?.blocked).toBeUndefined();
  });

  it("a slow answer becomes ProviderError timeout after PROVIDER_TIMEOUT_MS", async () => {
    fake.delayNext(5_000, 1, { path: /auth0%7Clocked/ });
    const started = Date.now();
    const err = await failure(identity.getIdentity(locked));
    expect(err).toMatchObject({ provider: "auth0", code: "timeout" });
    expect(err.toProblem().status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_990);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("an unreachable Auth0 is retried, then reported unavailable", async () => {
    const closed = new Auth0Fake();
    const url = await closed.start();
    await closed.close();
    const err = await failure(portFor({ AUTH0_BASE_URL: url }).getIdentity(locked));
    expect(err).toMatchObject({ provider: "auth0", code: "unavailable", status: undefined });
  });

  it("wrong client credentials are reported as misconfigured, not retried", async () => {
    const before = fake.requestsTo("POST", "/oauth/token").length;
    const err = await failure(portFor({ AUTH0_CLIENT_SECRET: "wrong-secret" }).setBlocked(locked, true, ctx));
    expect(err).toMatchObject({ provider: "auth0", code: "misconfigured", status: 401, retryable: false });
    expect(fake.requestsTo("POST", "/oauth/token").length - before).toBe(1);
  });
});

describe("Auth0 identity writes", () => {
  it("sendPasswordReset issues a password-change ticket for the caller to deliver", async () => {
    const delivery = await identity.sendPasswordReset(locked, ctx);
    expect(delivery.method).toBe("ticket");
    if (delivery.method !== "ticket") return;
    expect(delivery.ticketUrl).toBe(fake.passwordTickets.at(-1)?.ticket);
    expect(delivery.expiresAt).toBe("2026-11-25T12:00:00.000Z");
    expect(fake.requestsTo("POST", "/api/v2/tickets/password-change")[0]?.body).toEqual({ user_id: "auth0|locked", ttl_sec: 86_400 });
  });

  it("clearLockout deletes the brute-force blocks", async () => {
    await identity.clearLockout(locked, ctx);
    expect(fake.blocks.get("auth0|locked")).toEqual([]);
    expect(fake.requestsTo("DELETE", "/api/v2/user-blocks/auth0%7Clocked")).toHaveLength(1);
    expect((await identity.getIdentity(locked)).locked).toBe(false);
  });

  it("resetMfa removes every factor and forgets remembered browsers", async () => {
    await identity.resetMfa(locked, ctx);
    expect(fake.methods.get("auth0|locked")).toEqual([]);
    expect(fake.rememberBrowserInvalidated.has("auth0|locked")).toBe(true);
    expect(fake.requests.filter((r) => r.path.startsWith("/api/v2/")).map((r) => `${r.method} ${r.path}`)).toEqual([
      "DELETE /api/v2/users/auth0%7Clocked/authentication-methods",
      "DELETE /api/v2/users/auth0%7Clocked/authenticators",
      "POST /api/v2/users/auth0%7Clocked/multifactor/actions/invalidate-remember-browser",
    ]);
    expect((await identity.getIdentity(locked)).mfaEnrolled).toBe(false);
  });

  it("revokeSessions ends sessions and refresh tokens and says how many sessions there were", async () => {
    expect(await identity.revokeSessions(locked, ctx)).toEqual({ revoked: 2 });
    expect(fake.sessions.get("auth0|locked")).toEqual([]);
    expect(fake.refreshTokens.get("auth0|locked")).toBe(0);
    expect(fake.requestsTo("DELETE", "/api/v2/users/auth0%7Clocked/sessions")[0]?.status).toBe(202);
    expect(fake.requestsTo("DELETE", "/api/v2/users/auth0%7Clocked/refresh-tokens")[0]?.status).toBe(202);
  });

  it("counts every session, past Auth0's 100 a page, when reading and when revoking", async () => {
    fake.addUser({ user_id: "auth0|busy", email: "bo.busy@acme.example", sessions: 130 });
    const busy: IdentityUserRef = { id: "usr_busy", idpId: "auth0|busy", email: "bo.busy@acme.example" };
    expect((await identity.getIdentity(busy)).activeSessions).toBe(130);
    expect(await identity.revokeSessions(busy, ctx)).toEqual({ revoked: 130 });
    expect(fake.sessions.get("auth0|busy")).toEqual([]);
  });

  it("setBlocked patches blocked both ways, also for a user found by email", async () => {
    await identity.setBlocked(byEmail, true, ctx);
    expect(fake.users.get("auth0|eli-db")?.blocked).toBe(true);
    expect(fake.requestsTo("PATCH", "/api/v2/users/auth0%7Celi-db")[0]?.body).toEqual({ blocked: true });
    await identity.setBlocked(blocked, false, ctx);
    expect(fake.users.get("auth0|blocked")?.blocked).toBe(false);
    expect((await identity.getIdentity(blocked)).blocked).toBe(false);
  });

  it("fetches the Management API token once and reuses it", async () => {
    // A fresh adapter of its own, so the count does not depend on which tests ran before.
    const own = portFor({});
    const before = fake.tokensIssued;
    await own.getIdentity(blocked);
    await own.setBlocked(blocked, false, ctx);
    await own.getIdentity(locked);
    expect(fake.tokensIssued - before).toBe(1);
    expect(fake.requestsTo("POST", "/oauth/token")).toHaveLength(1);
  });
});
