import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt, decodeProtectedHeader, SignJWT, errors as joseErrors } from "jose";
import { describe, expect, it } from "vitest";
import { demoZafKey, demoZafKeyPath, readDemoZafKey } from "../../src/auth/demoZafKey.js";
import { mintDemoZafToken } from "../../src/auth/mintDemoZafToken.js";
import { resourceIdOf, verifyZafTokenFully, ZAF_CLOCK_TOLERANCE_SECONDS, zafAgentOf, ZafTokenError } from "../../src/auth/zafToken.js";
import { DEMO_INSTALLATION_ID, zafBinding, zafTrust, type ZafTrust } from "../../src/auth/zafTrust.js";
import { ManualClock } from "../../src/clock.js";
import { ConfigError } from "../../src/config.js";
import { testConfig } from "../support/testConfig.js";

// The verifier alone, with a fixed clock; the HTTP side is zafToken.test.ts. A file of its own so that it imports
// no app or database code (the mutation run re-imports a test file's whole module graph for every mutant).
const ISSUER_HOST = "steward-demo.zendesk.com";

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

  it("returns the agent, the replay key (sha256 of jti, else of the signed header.payload) and exp plus the skew", async () => {
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
      expect(tokenKey, JSON.stringify(jti)).toBe(`token:${createHash("sha256").update(signed.slice(0, signed.lastIndexOf("."))).digest("hex")}`);
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
    // Canonical text (it becomes the staff row and audit entries): no NUL, and no half of a pair left by the cut.
    expect(of({ name: "A\u0000nn" }).name).toBe("Ann");
    expect(of({ name: `${"n".repeat(319)}\u{1F600}` }).name).toBe(`${"n".repeat(319)}\ufffd`);
  });
});

describe("ZAF trust anchors (unit)", () => {
  const demoConfig = (env: Record<string, string> = {}) => testConfig({ DATA_DIR: "memory", ...env });
  const der = (key: KeyObject) => key.export({ type: "spki", format: "der" }).toString("base64");
  const appKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
  const appPem = appKey.export({ type: "spki", format: "pem" }).toString();
  const configError = (call: () => unknown) => {
    try {
      call();
    } catch (err) {
      return err instanceof ConfigError ? err.problems : err;
    }
    return null;
  };

  it("binds to the account in both issuer forms and the installation; demo mode alone falls back to the demo installation", () => {
    expect(zafBinding(demoConfig({ ZENDESK_SUBDOMAIN: "acme", ZAF_INSTALLATION_ID: "123456" }))).toEqual({
      issuers: ["https://acme.zendesk.com", "acme.zendesk.com"],
      issuer: "https://acme.zendesk.com",
      audience: "123456",
    });
    expect(zafBinding(demoConfig())).toEqual({ issuers: [`https://${ISSUER_HOST}`, ISSUER_HOST], issuer: `https://${ISSUER_HOST}`, audience: DEMO_INSTALLATION_ID });
    // loadConfig refuses these in production already; the binding refuses them again for any other caller.
    const production = { ...demoConfig({ ZENDESK_SUBDOMAIN: "acme", ZAF_INSTALLATION_ID: "123456" }), demo: false, STEWARD_MODE: "production" as const };
    expect(configError(() => zafBinding({ ...production, ZAF_INSTALLATION_ID: undefined }))).toEqual([{ variable: "ZAF_INSTALLATION_ID", reason: "required to verify Zendesk app tokens" }]);
    expect(configError(() => zafBinding({ ...production, zendeskIssuer: undefined }))).toEqual([{ variable: "ZENDESK_SUBDOMAIN", reason: "required to verify Zendesk app tokens" }]);
  });

  it("trusts the configured app key first and then the demo key in demo mode; production needs the app key and trusts it alone", () => {
    const demo = zafTrust(demoConfig({ ZAF_APP_PUBLIC_KEY: appPem }));
    expect(demo.keys.map(der)).toEqual([der(appKey), der(demoZafKey("memory").publicKey)]);
    expect(zafTrust(demoConfig()).keys.map(der)).toEqual([der(demoZafKey("memory").publicKey)]);

    const production = { ...demoConfig({ ZENDESK_SUBDOMAIN: "acme", ZAF_INSTALLATION_ID: "123456" }), demo: false, STEWARD_MODE: "production" as const };
    expect(configError(() => zafTrust(production))).toEqual([{ variable: "ZAF_APP_PUBLIC_KEY", reason: "required in production mode" }]);
    const trusted = zafTrust({ ...production, ZAF_APP_PUBLIC_KEY: appPem });
    expect(trusted.keys.map(der)).toEqual([der(appKey)]);
    // Built once per config.
    expect(zafTrust({ ...production, ZAF_APP_PUBLIC_KEY: appPem })).not.toBe(trusted);
    const config = { ...production, ZAF_APP_PUBLIC_KEY: appPem };
    expect(zafTrust(config)).toBe(zafTrust(config));
  });

  it("reads the app key from ZAF_APP_PUBLIC_KEY_FILE, and names the variable that holds a key that is not PEM", () => {
    const dir = mkdtempSync(join(tmpdir(), "steward-zaf-trust-"));
    try {
      const good = join(dir, "app.pem");
      const bad = join(dir, "bad.pem");
      writeFileSync(good, appPem);
      writeFileSync(bad, "not a key");
      expect(zafTrust(demoConfig({ ZAF_APP_PUBLIC_KEY_FILE: good })).keys.map(der)[0]).toBe(der(appKey));
      expect(configError(() => zafTrust(demoConfig({ ZAF_APP_PUBLIC_KEY_FILE: bad })))).toEqual([{ variable: "ZAF_APP_PUBLIC_KEY_FILE", reason: expect.stringMatching(/^not a PEM public key \(.+\)$/) }]);
      expect(configError(() => zafTrust(demoConfig({ ZAF_APP_PUBLIC_KEY: "not a key" })))).toEqual([{ variable: "ZAF_APP_PUBLIC_KEY", reason: expect.stringMatching(/^not a PEM public key \(.+\)$/) }]);
      // A PEM pasted into an env file with literal "\n"s.
      expect(zafTrust(demoConfig({ ZAF_APP_PUBLIC_KEY: appPem.replace(/\n/g, "\\n") })).keys.map(der)[0]).toBe(der(appKey));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the demo ZAF key on disk (unit)", () => {
  const withDir = (test: (dir: string) => void) => {
    const dir = mkdtempSync(join(tmpdir(), "steward-demo-key-"));
    try {
      test(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("is created once under DATA_DIR (made if missing), readable by the owner only, with nothing left behind", () =>
    withDir((parent) => {
      const dir = join(parent, "nested", "data");
      expect(readDemoZafKey(dir)).toBeNull();
      const key = demoZafKey(dir);
      const path = demoZafKeyPath(dir)!;
      expect(path).toBe(join(dir, "demo-zaf-key.json"));
      expect(readdirSync(dir)).toEqual(["demo-zaf-key.json"]);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const stored = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
      expect(stored).toEqual({ privateKeyPem: expect.stringContaining("BEGIN PRIVATE KEY"), publicKeyPem: key.publicKeyPem, createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
      expect(readDemoZafKey(dir)).toBe(key);
      expect(demoZafKey(dir)).toBe(key);
    }));

  it("reads a key another process stored, and fails loudly on a path it cannot read", () =>
    withDir((dir) => {
      const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
      writeFileSync(join(dir, "demo-zaf-key.json"), JSON.stringify({ privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicKeyPem, createdAt: "2026-01-01T00:00:00.000Z" }));
      expect(readDemoZafKey(dir)?.publicKeyPem).toBe(publicKeyPem);
      expect(demoZafKey(dir).publicKeyPem).toBe(publicKeyPem);

      const unreadable = join(dir, "unreadable");
      mkdirSync(join(unreadable, "demo-zaf-key.json"), { recursive: true });
      expect(() => readDemoZafKey(unreadable)).toThrow(expect.objectContaining({ code: "EISDIR" }));
      expect(demoZafKeyPath("memory")).toBeNull();
    }));
});

describe("demo ZAF tokens (unit)", () => {
  const T0 = Date.parse("2026-11-24T12:00:00.000Z") / 1000;
  const deps = { config: testConfig({ DATA_DIR: "memory" }), clock: new ManualClock(new Date(T0 * 1000 + 999)) };
  const jti = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  it("carry what Zendesk's do: account host, demo installation, user, context, five minutes", async () => {
    const token = await mintDemoZafToken(deps, { zendeskUserId: "9002", name: "Sam Support", email: "sam@example.test", ticketId: "1001" });
    expect(decodeProtectedHeader(token)).toEqual({ alg: "RS256", typ: "JWT" });
    expect(decodeJwt(token)).toEqual({
      name: "Sam Support",
      email: "sam@example.test",
      context: { product: "support", location: "ticket_sidebar", ticket_id: 1001 },
      iss: ISSUER_HOST,
      aud: DEMO_INSTALLATION_ID,
      sub: "9002",
      jti,
      iat: T0,
      nbf: T0,
      exp: T0 + 300,
    });
    const trust = zafTrust(deps.config);
    await expect(verifyZafTokenFully(token, trust, deps.clock)).resolves.toMatchObject({ agent: { zendeskUserId: "9002", email: "sam@example.test", name: "Sam Support", ticketId: "1001" } });
    const bare = await mintDemoZafToken(deps, { zendeskUserId: "9003", location: "nav_bar", ttlSeconds: 60 });
    expect(decodeJwt(bare)).toEqual({ context: { product: "support", location: "nav_bar" }, iss: ISSUER_HOST, aud: DEMO_INSTALLATION_ID, sub: "9003", jti, iat: T0, nbf: T0, exp: T0 + 60 });
  });
});

describe("the demo ZAF key when another process is creating it (unit)", () => {
  it("never overwrites a key file that appeared meanwhile; one that vanished again is an error, with no temp file left", () => {
    const dir = mkdtempSync(join(tmpdir(), "steward-demo-key-race-"));
    try {
      // A dangling link: nothing to read (as before another process has written), but the name is taken for linkSync.
      symlinkSync(join(dir, "nowhere.json"), join(dir, "demo-zaf-key.json"));
      expect(() => demoZafKey(dir)).toThrow(expect.objectContaining({ message: `the demo ZAF key at ${join(dir, "demo-zaf-key.json")} disappeared`, cause: expect.objectContaining({ code: "EEXIST" }) }));
      expect(readdirSync(dir)).toEqual(["demo-zaf-key.json"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
