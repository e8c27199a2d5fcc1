import { generateKeyPairSync } from "node:crypto";
import { SignJWT, base64url } from "jose";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { demoZafKey } from "../../src/auth/demoZafKey.js";
import { verifyZafToken, ZAF_CLOCK_TOLERANCE_SECONDS } from "../../src/auth/zafToken.js";
import { DEMO_INSTALLATION_ID, zafTrust } from "../../src/auth/zafTrust.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, authTestDeps, capturingLogger, rowCounts, zafToken, type TestDeps } from "./helpers.js";

const ISSUER_HOST = "steward-demo.zendesk.com";

describe.each(databaseKinds)("ZAF token → session on %s", (kind) => {
  let deps: TestDeps;
  let log: ReturnType<typeof capturingLogger>;
  let app: ReturnType<typeof createApp>;
  let now: number;

  beforeAll(async () => {
    deps = await authTestDeps(kind);
    log = capturingLogger();
    deps = { ...deps, logger: log.logger };
    app = createApp(deps);
    now = Math.floor(deps.clock.now().getTime() / 1000);
  });
  afterAll(async () => {
    await deps.database.close();
  });

  /** A token like the demo one, with any claim or header overridden, signed by the demo key unless told. */
  async function craft(overrides: { claims?: Record<string, unknown>; omit?: string[]; alg?: string; key?: Parameters<SignJWT["sign"]>[0] } = {}): Promise<string> {
    const claims: Record<string, unknown> = { iss: ISSUER_HOST, aud: DEMO_INSTALLATION_ID, sub: AGENT.support.zendeskUserId, iat: now, nbf: now, exp: now + 300, ...overrides.claims };
    for (const name of overrides.omit ?? []) delete claims[name];
    return new SignJWT(claims).setProtectedHeader({ alg: overrides.alg ?? "RS256", typ: "JWT" }).sign(overrides.key ?? demoZafKey("memory").privateKey);
  }

  it("exchanges a valid ZAF token for a session with staff and permissions", async () => {
    const token = await zafToken(deps, { zendeskUserId: AGENT.support.zendeskUserId, ticketId: "1001" });
    const res = await request(app).post("/api/session").send({ token }).expect(200);
    expect(res.body.staff).toMatchObject({ id: AGENT.support.id, zendeskUserId: "9002", panelRole: "support_full", email: AGENT.support.email });
    expect(res.body.sessionToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(new Date(res.body.expiresAt).getTime()).toBe((now + 60 * 60) * 1000);
    expect(res.body.permissions["billing.credit_apply"]).toEqual({ allowed: true, cap: { field: "amountCents", unit: "cents", limit: 5000 } });
    expect(res.body.permissions["seats.change"]).toEqual({ allowed: false });
    // The session works on an authenticated route.
    const me = await request(app).get("/api/session").set("Authorization", `Bearer ${res.body.sessionToken}`).expect(200);
    expect(me.body.staff.panelRole).toBe("support_full");
  });

  it("accepts the issuer as https URL or bare host, and the user id from context.user_id", async () => {
    for (const iss of [`https://${ISSUER_HOST}`, ISSUER_HOST]) {
      const res = await request(app).post("/api/session").send({ token: await craft({ claims: { iss } }) });
      expect(res.status, iss).toBe(200);
    }
    const viaContext = await craft({ omit: ["sub"], claims: { context: { product: "support", user_id: Number(AGENT.operations.zendeskUserId) } } });
    const res = await request(app).post("/api/session").send({ token: viaContext }).expect(200);
    expect(res.body.staff.panelRole).toBe("operations");
  });

  it(`tolerates clock skew up to ${ZAF_CLOCK_TOLERANCE_SECONDS} s, not more`, async () => {
    const justExpired = await craft({ claims: { exp: now - ZAF_CLOCK_TOLERANCE_SECONDS + 2 } });
    await request(app).post("/api/session").send({ token: justExpired }).expect(200);
    const tooLate = await craft({ claims: { exp: now - ZAF_CLOCK_TOLERANCE_SECONDS - 2 } });
    const res = await request(app).post("/api/session").send({ token: tooLate }).expect(401);
    expect(res.body.reason).toBe("expired");
  });

  it(`refuses a token issued or valid only in the future, beyond the same ${ZAF_CLOCK_TOLERANCE_SECONDS} s`, async () => {
    const post = async (claims: Record<string, unknown>, omit: string[] = []) =>
      (await request(app).post("/api/session").send({ token: await craft({ claims, omit }) })).body as { code?: string; reason?: string };
    // At the edge of the skew both are still accepted…
    expect(await post({ iat: now + ZAF_CLOCK_TOLERANCE_SECONDS, nbf: now })).toHaveProperty("sessionToken");
    expect(await post({ iat: now, nbf: now + ZAF_CLOCK_TOLERANCE_SECONDS })).toHaveProperty("sessionToken");
    // …one second past it they are not: an `iat` from the future (nbf fine, or absent) and an `nbf` from the future.
    expect(await post({ iat: now + ZAF_CLOCK_TOLERANCE_SECONDS + 1, nbf: now })).toMatchObject({ code: "zaf_token_not_yet_valid", reason: "not_yet_valid" });
    expect(await post({ iat: now + 3600, exp: now + 3900 }, ["nbf"])).toMatchObject({ code: "zaf_token_not_yet_valid" });
    expect(await post({ iat: now, nbf: now + ZAF_CLOCK_TOLERANCE_SECONDS + 1 })).toMatchObject({ code: "zaf_token_not_yet_valid" });
    await expect(verifyZafToken(await craft({ claims: { iat: now + 120, nbf: now - 10 } }), zafTrust(deps.config), deps.clock)).rejects.toMatchObject({ code: "not_yet_valid" });
  });

  const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const badTokens: [string, () => Promise<string>][] = [
    ["expired", () => craft({ claims: { iat: now - 900, nbf: now - 900, exp: now - 600 } })],
    ["not_yet_valid", () => craft({ claims: { nbf: now + 120, exp: now + 600 } })],
    ["not_yet_valid", () => craft({ claims: { iat: now + 120, nbf: now, exp: now + 600 } })],
    ["wrong_issuer", () => craft({ claims: { iss: "evil.zendesk.com" } })],
    ["wrong_audience", () => craft({ claims: { aud: "another-installation" } })],
    [
      "alg_not_allowed",
      async () => {
        // alg "none": an unsigned token with a valid-looking payload.
        const enc = (v: unknown) => base64url.encode(JSON.stringify(v));
        return `${enc({ alg: "none", typ: "JWT" })}.${enc({ iss: ISSUER_HOST, aud: DEMO_INSTALLATION_ID, sub: "9004", iat: now, exp: now + 300 })}.`;
      },
    ],
    // The classic key-confusion attack: HS256 with the public key's PEM as the HMAC secret.
    ["alg_not_allowed", () => craft({ alg: "HS256", key: new TextEncoder().encode(demoZafKey("memory").publicKeyPem) })],
    ["bad_signature", () => craft({ key: otherKey })],
    ["missing_user", () => craft({ omit: ["sub"] })],
    ["missing_user", () => craft({ claims: { sub: "not-a-user" } })],
    ["malformed", async () => "not-a-jwt"],
    ["malformed", async () => "eyJhbGciOiJSUzI1NiJ9.e30"],
    ["malformed", () => craft({ omit: ["exp"] })],
  ];

  it.each(badTokens)("rejects %s with 401, logs the code only, and writes nothing", async (code, make) => {
    const token = await make();
    const before = await rowCounts(deps);
    const res = await request(app).post("/api/session").send({ token }).expect(401);
    expect(res.headers["content-type"]).toContain("application/problem+json");
    expect(res.body).toMatchObject({ status: 401, code: `zaf_token_${code}`, reason: code });
    expect(JSON.stringify(res.body)).not.toContain(token.slice(0, 20));
    expect(await rowCounts(deps)).toEqual(before);
    const warned = log.lines().filter((l) => l.msg === "ZAF token rejected" && l.code === code);
    expect(warned.length).toBeGreaterThan(0);
    expect(JSON.stringify(log.lines())).not.toContain(token);
  });

  it("logs a request's status without its response headers", async () => {
    const token = await zafToken(deps, { zendeskUserId: AGENT.support.zendeskUserId, ticketId: "1001" });
    const { sessionToken } = (await request(app).post("/api/session").send({ token }).expect(200)).body as { sessionToken: string };
    // A 4xx is logged at info: its line names the status, not the headers sent back (CSP, request id, …).
    await request(app).get("/api/search?q=%00").set("Authorization", `Bearer ${sessionToken}`).set("X-Request-Id", "req-logged-400").expect(400);
    const line = log.lines().find((l) => (l.req as { id?: string } | undefined)?.id === "req-logged-400" && l.res);
    expect(line?.res).toEqual({ statusCode: 400 });
    expect(JSON.stringify(log.lines())).not.toMatch(/content-security-policy/i);
    // A console export link's token (a bearer secret while it lives) stays out of the logged path.
    const linkToken = "A".repeat(20) + "b".repeat(23);
    await request(app).get(`/api/console/export-downloads/${linkToken}`).set("X-Request-Id", "req-logged-404").expect(404);
    expect(log.lines().find((l) => (l.req as { id?: string } | undefined)?.id === "req-logged-404" && l.res)?.req).toMatchObject({ url: "/api/console/export-downloads/[redacted]" });
    expect(JSON.stringify(log.lines())).not.toContain(linkToken);
  });

  it("logs what was expected and what arrived for a wrong issuer or audience, so a set-up mistake can be fixed", async () => {
    const token = await craft({ claims: { aud: "installation-from-another-account" } });
    await request(app).post("/api/session").send({ token }).expect(401);
    const line = log.lines().filter((l) => l.msg === "ZAF token rejected" && l.code === "wrong_audience").at(-1);
    expect(line).toMatchObject({ expected: { aud: DEMO_INSTALLATION_ID }, received: { aud: "installation-from-another-account" } });
    expect(String(line?.hint)).toContain(`aud ${DEMO_INSTALLATION_ID}`);
    expect(line).toMatchObject({ expected: { iss: [`https://${ISSUER_HOST}`, ISSUER_HOST] }, received: { iss: ISSUER_HOST, exp: now + 300 } });
    expect(line?.hint).toBe(`expected iss https://${ISSUER_HOST} and aud ${DEMO_INSTALLATION_ID}, got iss "${ISSUER_HOST}" and aud "installation-from-another-account"`);
    // A token that is not a JWT: nothing arrived to show.
    await request(app).post("/api/session").send({ token: "not-a-jwt-either" }).expect(401);
    const garbled = log.lines().filter((l) => l.msg === "ZAF token rejected" && l.code === "malformed").at(-1);
    expect(garbled).toMatchObject({ received: null, hint: `expected iss https://${ISSUER_HOST} and aud ${DEMO_INSTALLATION_ID}, got iss null and aud null` });
    // Claims missing from a token show as null.
    await request(app).post("/api/session").send({ token: await craft({ omit: ["iss", "aud", "exp"] }) }).expect(401);
    expect(log.lines().filter((l) => l.msg === "ZAF token rejected").at(-1)).toMatchObject({ received: { iss: null, aud: null, exp: null } });
  });

  it("signature by another key is refused even with every claim right (verifier alone)", async () => {
    await expect(verifyZafToken(await craft({ key: otherKey }), zafTrust(deps.config), deps.clock)).rejects.toMatchObject({ code: "bad_signature" });
  });

  it("creates an unknown agent as support_read_only on first visit, audited as a grant by Steward", async () => {
    const before = await rowCounts(deps);
    const token = await zafToken(deps, { zendeskUserId: "777001", email: "new.agent@example.com", name: "New Agent", ticketId: "1003" });
    const res = await request(app).post("/api/session").send({ token }).expect(200);
    expect(res.body.staff).toMatchObject({ zendeskUserId: "777001", panelRole: "support_read_only", email: "new.agent@example.com", name: "New Agent" });
    expect(await rowCounts(deps)).toEqual({ staff: before.staff + 1, audit: before.audit + 1 });
    const entry = await deps.database.db.selectFrom("audit_log").selectAll().where("target_id", "=", res.body.staff.id).executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ action: "staff.grant", actor_system: "first-visit", outcome: "succeeded", ticket_id: "1003", before: null });
    expect(entry.after).toMatchObject({ panelRole: "support_read_only", zendeskUserId: "777001" });
    // A second visit finds the same member and writes nothing.
    await request(app).post("/api/session").send({ token: await zafToken(deps, { zendeskUserId: "777001" }) }).expect(200);
    expect(await rowCounts(deps)).toEqual({ staff: before.staff + 1, audit: before.audit + 1 });
  });

  it("refuses unknown agents with no_panel_access when UNKNOWN_AGENT_ACCESS=none", async () => {
    const strict = { ...deps, config: { ...deps.config, UNKNOWN_AGENT_ACCESS: "none" as const } };
    const strictApp = createApp(strict);
    const before = await rowCounts(deps);
    const res = await request(strictApp).post("/api/session").send({ token: await zafToken(deps, { zendeskUserId: "777002" }) }).expect(403);
    expect(res.body.code).toBe("no_panel_access");
    expect(await rowCounts(deps)).toEqual(before);
    // Known staff still get in.
    await request(strictApp).post("/api/session").send({ token: await zafToken(deps, { zendeskUserId: AGENT.readOnly.zendeskUserId }) }).expect(200);
  });

  it("answers 400 naming the field when no token is sent", async () => {
    const res = await request(app).post("/api/session").send({}).expect(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: "body.token" })]);
  });
});
