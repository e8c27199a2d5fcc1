import { createHash, generateKeyPairSync } from "node:crypto";
import { SignJWT, base64url, errors as joseErrors } from "jose";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { demoZafKey } from "../../src/auth/demoZafKey.js";
import { resourceIdOf, verifyZafToken, verifyZafTokenFully, ZAF_CLOCK_TOLERANCE_SECONDS, zafAgentOf, ZafTokenError } from "../../src/auth/zafToken.js";
import { DEMO_INSTALLATION_ID, zafTrust, type ZafTrust } from "../../src/auth/zafTrust.js";
import { ManualClock } from "../../src/clock.js";
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

  it("logs what was expected and what arrived for a wrong issuer or audience, so a set-up mistake can be fixed", async () => {
    const token = await craft({ claims: { aud: "installation-from-another-account" } });
    await request(app).post("/api/session").send({ token }).expect(401);
    const line = log.lines().filter((l) => l.msg === "ZAF token rejected" && l.code === "wrong_audience").at(-1);
    expect(line).toMatchObject({ expected: { aud: DEMO_INSTALLATION_ID }, received: { aud: "installation-from-another-account" } });
    expect(String(line?.hint)).toContain(`aud ${DEMO_INSTALLATION_ID}`);
    expect(String(line?.hint)).toContain('"installation-from-another-account"');
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

describe("ZAF token verifier (unit, fixed clock)", () => {
  const T0 = Date.parse("2026-11-24T12:00:00.000Z") / 1000;
  const clock = new ManualClock(new Date(T0 * 1000));
  const demo = demoZafKey("memory");
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const INSTALLATION = "123456";
  const trustWith = (keys = [demo.publicKey]): ZafTrust => ({ issuers: [`https://${ISSUER_HOST}`, ISSUER_HOST], issuer: `https://${ISSUER_HOST}`, audience: INSTALLATION, keys });
  const sign = (claims: Record<string, unknown>, key = demo.privateKey) =>
    new SignJWT({ iss: ISSUER_HOST, aud: INSTALLATION, sub: "9002", iat: T0, exp: T0 + 300, ...claims }).setProtectedHeader({ alg: "RS256" }).sign(key);
  const userUrl = (id: string, host = ISSUER_HOST) => `https://${host}/api/v2/users/${id}.json`;

  it("returns the agent, the replay key (sha256 of jti, else of the token) and exp plus the skew", async () => {
    const withJti = await verifyZafTokenFully(await sign({ jti: "abc" }), trustWith(), clock);
    // sha256("abc"), the FIPS 180-2 test vector.
    expect(withJti).toEqual({
      agent: { zendeskUserId: "9002", email: null, name: null, ticketId: null },
      tokenKey: "jti:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      expiresAt: new Date((T0 + 300 + ZAF_CLOCK_TOLERANCE_SECONDS) * 1000),
    });
    for (const jti of [undefined, "", ["abc"], 7]) {
      const signed = await sign({ jti });
      const { tokenKey } = await verifyZafTokenFully(signed, trustWith(), clock);
      expect(tokenKey, JSON.stringify(jti)).toBe(`token:${createHash("sha256").update(signed).digest("hex")}`);
    }
  });

  it("accepts the installation as a bare id or its API URL on the configured host, nothing else", async () => {
    for (const aud of [INSTALLATION, `https://${ISSUER_HOST}/api/v2/apps/installations/${INSTALLATION}.json`]) {
      await expect(verifyZafTokenFully(await sign({ aud }), trustWith(), clock), aud).resolves.toHaveProperty("agent.zendeskUserId", "9002");
    }
    for (const aud of [`https://evil.zendesk.com/api/v2/apps/installations/${INSTALLATION}.json`, `https://${ISSUER_HOST}/api/v2/apps/installations/1234567.json`, "1234567"]) {
      await expect(verifyZafTokenFully(await sign({ aud }), trustWith(), clock), aud).rejects.toMatchObject({ code: "wrong_audience" });
    }
  });

  it("tries the next trusted key only after a signature mismatch; any other failure is final and keeps its cause", async () => {
    const signedByDemo = await sign({});
    await expect(verifyZafTokenFully(signedByDemo, trustWith([other.publicKey, demo.publicKey]), clock)).resolves.toHaveProperty("agent.zendeskUserId", "9002");
    const expired = await sign({ iat: T0 - 900, exp: T0 - 600 });
    // Expired under the first key: the second key (a signature mismatch) must not replace that answer.
    const err = await verifyZafTokenFully(expired, trustWith([demo.publicKey, other.publicKey]), clock).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZafTokenError);
    expect(err).toMatchObject({ code: "expired", cause: expect.any(joseErrors.JWTExpired) });
    await expect(verifyZafTokenFully(signedByDemo, trustWith([other.publicKey]), clock)).rejects.toMatchObject({ code: "bad_signature", cause: expect.any(joseErrors.JWSSignatureVerificationFailed) });
    // A garbled token is refused (with its cause) before any key is tried, even when none is.
    for (const keys of [[demo.publicKey], []]) await expect(verifyZafTokenFully("not-a-jwt", trustWith(keys), clock)).rejects.toMatchObject({ code: "malformed", cause: expect.any(Error) });
  });

  it("the error names its code, and its problem says only that (401 zaf_token_<code>)", () => {
    const err = new ZafTokenError("wrong_audience");
    expect(err).toMatchObject({ name: "ZafTokenError", message: "Zendesk app token rejected: wrong audience", code: "wrong_audience" });
    expect({ ...err.toProblem(), message: undefined }).toEqual({
      status: 401,
      code: "zaf_token_wrong_audience",
      title: "Unauthorized",
      detail: "The Zendesk app token was not accepted; reload the app in Zendesk",
      extra: { reason: "wrong_audience" },
      name: "Problem",
      message: undefined,
      retryAfterSeconds: undefined,
    });
  });

  it("reads a resource id as a positive safe integer, a bare id, or the API URL on the configured host only", () => {
    const id = (value: unknown) => resourceIdOf(value, "users", ISSUER_HOST);
    expect([9002, "9002", userUrl("9002"), `HTTPS://${ISSUER_HOST.toUpperCase()}/api/v2/users/9002.json`].map(id)).toEqual(["9002", "9002", "9002", "9002"]);
    const refused = [
      0, -5, 1.5, 2 ** 53, ["9002"], { id: 9002 }, null, undefined, "0", "09002", "not a url",
      `http://${ISSUER_HOST}/api/v2/users/9002.json`,
      userUrl("9002", "evil.zendesk.com"),
      userUrl("9002", `${ISSUER_HOST}:8443`),
      `${userUrl("9002")}?as=9003`,
      `${userUrl("9002")}#9003`,
      `https://agent@${ISSUER_HOST}/api/v2/users/9002.json`,
      `https://agent:pw@${ISSUER_HOST}/api/v2/users/9002.json`,
      `https://${ISSUER_HOST}/api/v2/tasks/9002.json`,
      `https://${ISSUER_HOST}/api/v2/users/90021234567`,
      `https://${ISSUER_HOST}/api/v2/users/9002.jsonx`,
      `https://${ISSUER_HOST}/api/v2/users/me.json`,
      `https://${ISSUER_HOST}/api/v2/users/9002/identities.json`,
    ];
    expect(refused.filter((v) => id(v) !== null)).toEqual([]);
    expect(resourceIdOf(`https://${ISSUER_HOST}/api/v2/groups/77.json`, "groups", ISSUER_HOST)).toBe("77");
  });

  it("reads the user from sub (id or URL on this host), else context.user_id, context.userId, context.user.id, user_id, in that order", () => {
    const agent = (payload: Record<string, unknown>) => zafAgentOf(payload, ISSUER_HOST).zendeskUserId;
    expect(agent({ sub: userUrl("9002"), context: { user_id: 9003 } })).toBe("9002");
    expect(agent({ sub: "9002", context: { user_id: 9003 } })).toBe("9002");
    const all = { user_id: 9001, userId: 9002, user: { id: 9003 } };
    expect(agent({ context: all, user_id: 9004 })).toBe("9001");
    expect(agent({ context: { ...all, user_id: undefined }, user_id: 9004 })).toBe("9002");
    expect(agent({ context: { user: { id: 9003 } }, user_id: 9004 })).toBe("9003");
    expect(agent({ user_id: 9004 })).toBe("9004");
    // Strings: a bare id (trimmed) or the id at the end of a path-like value; unreadable ones give way to the next.
    expect(agent({ context: { user_id: " 9005 " } })).toBe("9005");
    expect(agent({ context: { user_id: "zendesk:user:9006" } })).toBe("9006");
    expect(() => agent({ context: { user_id: "agent", userId: 0, user: { id: -7 } }, user_id: 1.5, sub: "someone" })).toThrow(expect.objectContaining({ code: "missing_user" }));
    for (const bad of ["agent", 0, -7, 1.5, 2 ** 53, "0", null, true]) {
      expect(agent({ context: { user_id: bad, user: { id: 9007 } } }), String(bad)).toBe("9007");
    }
    // A context that is not an object is no context.
    expect(agent({ sub: "9002", context: null })).toBe("9002");
    expect(agent({ context: [9008], user_id: 9009 })).toBe("9009");
  });

  it("refuses a sub in URL form that is not this account's user, rather than reading the user elsewhere", () => {
    const agent = (payload: Record<string, unknown>) => () => zafAgentOf(payload, ISSUER_HOST);
    const fallback = { context: { user_id: 9003 } };
    for (const sub of [userUrl("9002", "evil.zendesk.com"), `http://${ISSUER_HOST}/api/v2/users/9002.json`, `HTTPS://evil.zendesk.com/api/v2/users/9002.json`, `https://${ISSUER_HOST}/api/v2/groups/9002.json`]) {
      expect(agent({ sub, ...fallback }), sub).toThrow(expect.objectContaining({ name: "ZafTokenError", code: "missing_user" }));
    }
    // Only a sub that starts with a URL scheme is in URL form; any other unreadable sub gives way to the context.
    expect(agent({ sub: `agent-https://evil.zendesk.com/api/v2/users/9002.json`, ...fallback })()).toMatchObject({ zendeskUserId: "9003" });
    expect(agent({ sub: ["9002"], ...fallback })()).toMatchObject({ zendeskUserId: "9003" });
    expect(agent({ sub: "someone" })).toThrow(expect.objectContaining({ code: "missing_user" }));
  });

  it("takes email and name from the claims, else from context.user: trimmed, blank skipped, cut at 320 characters", () => {
    const of = (payload: Record<string, unknown>) => zafAgentOf({ sub: "9002", ...payload }, ISSUER_HOST);
    expect(of({ email: "  a@example.test ", name: "\tAnn ", context: { user: { email: "b@example.test", name: "Bob" }, ticket_id: 1001 } })).toEqual({
      zendeskUserId: "9002",
      email: "a@example.test",
      name: "Ann",
      ticketId: "1001",
    });
    expect(of({ email: "   ", name: 42, context: { user: { email: "b@example.test", name: " Bob" }, ticketId: "1002" } })).toEqual({ zendeskUserId: "9002", email: "b@example.test", name: "Bob", ticketId: "1002" });
    expect(of({ name: ` ${"n".repeat(400)} ` }).name).toBe("n".repeat(320));
    expect(of({ email: "", context: { user: { email: " " } } }).email).toBeNull();
  });
});
