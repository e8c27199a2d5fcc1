import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt, SignJWT } from "jose";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { demoZafKey } from "../../src/auth/demoZafKey.js";
import { mintDemoZafToken } from "../../src/auth/mintDemoZafToken.js";
import { issueSessionToken, SESSION_MAX_AGE_HOURS } from "../../src/auth/sessionToken.js";
import { verifyZafToken } from "../../src/auth/zafToken.js";
import { zafTrust } from "../../src/auth/zafTrust.js";
import { ManualClock } from "../../src/clock.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, authTestDeps, capturingLogger, sessionFor, zafToken, type TestDeps } from "./helpers.js";
import { PRODUCTION_SETTINGS } from "../support/testConfig.js";

const MINUTE = 60_000;

describe.each(databaseKinds)("Steward sessions on %s", (kind) => {
  let deps: TestDeps;
  let app: ReturnType<typeof createApp>;
  let log: ReturnType<typeof capturingLogger>;

  beforeAll(async () => {
    deps = await authTestDeps(kind);
    log = capturingLogger();
    deps = { ...deps, logger: log.logger };
    app = createApp(deps);
  });
  afterAll(async () => {
    await deps.database.close();
  });

  const me = (token: string) => request(app).get("/api/session").set("Authorization", `Bearer ${token}`);

  it("requires a bearer session on /api routes", async () => {
    const logged = log.lines().length;
    const none = await request(app).get("/api/session").expect(401);
    expect(none.body).toMatchObject({ code: "session_missing" });
    const garbage = await me("abc.def.ghi").expect(401);
    expect(garbage.body.code).toBe("session_malformed");
    // Each refusal is logged with its code (and only that), for the operator.
    const rejected = log.lines().slice(logged).filter((l) => l.msg === "session rejected");
    expect(rejected.map((l) => l.code)).toEqual(["missing", "malformed"]);
    expect(JSON.stringify(rejected)).not.toContain("abc.def.ghi");
  });

  it("expires after SESSION_TTL_MINUTES and renews while valid", async () => {
    const token = await sessionFor(app, deps, AGENT.support.zendeskUserId);
    deps.clock.advance(50 * MINUTE);
    const renewed = await request(app).post("/api/session/renew").set("Authorization", `Bearer ${token}`).expect(200);
    expect(new Date(renewed.body.expiresAt).getTime()).toBe(Math.floor(deps.clock.now().getTime() / 1000) * 1000 + 60 * MINUTE);
    deps.clock.advance(15 * MINUTE);
    expect((await me(token).expect(401)).body.code).toBe("session_expired");
    await me(renewed.body.sessionToken).expect(200);
    // An expired session cannot be renewed.
    const late = await request(app).post("/api/session/renew").set("Authorization", `Bearer ${token}`).expect(401);
    expect(late.body.code).toBe("session_expired");
  });

  it(`stops renewing ${SESSION_MAX_AGE_HOURS} h after Zendesk vouched for the agent`, async () => {
    const started = Math.floor(deps.clock.now().getTime() / 1000) * 1000;
    let token = await sessionFor(app, deps, AGENT.support.zendeskUserId);
    let renewals = 0;
    let latestExpiry = 0;
    for (let i = 0; i < SESSION_MAX_AGE_HOURS * 2 + 4; i++) {
      deps.clock.advance(30 * MINUTE);
      const res = await request(app).post("/api/session/renew").set("Authorization", `Bearer ${token}`);
      if (res.status !== 200) {
        expect(res.body.code).toBe("session_expired");
        break;
      }
      renewals++;
      token = res.body.sessionToken;
      latestExpiry = new Date(res.body.expiresAt).getTime();
    }
    expect(renewals).toBe(SESSION_MAX_AGE_HOURS * 2 - 1);
    expect(latestExpiry).toBe(started + SESSION_MAX_AGE_HOURS * 60 * MINUTE);
    expect(deps.clock.now().getTime()).toBeGreaterThanOrEqual(latestExpiry);
    expect((await me(token).expect(401)).body.code).toBe("session_expired");
  });

  it("refuses sessions signed with another secret, tampered, for another installation, or of another token kind", async () => {
    const token = await sessionFor(app, deps, AGENT.support.zendeskUserId);
    const [h, p, s] = token.split(".") as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const promoted = Buffer.from(JSON.stringify({ ...payload, sub: AGENT.admin.id, zuid: AGENT.admin.zendeskUserId })).toString("base64url");
    expect((await me(`${h}.${promoted}.${s}`).expect(401)).body.code).toBe("session_bad_signature");

    const otherSecret = { ...deps, config: { ...deps.config, SESSION_SECRET: "x".repeat(40) } };
    const forged = await issueSessionToken(otherSecret, { staffId: AGENT.admin.id, zendeskUserId: AGENT.admin.zendeskUserId });
    expect((await me(forged.token).expect(401)).body.code).toBe("session_bad_signature");

    const otherInstall = { ...deps, config: { ...deps.config, ZAF_INSTALLATION_ID: "other-install" } };
    const elsewhere = await issueSessionToken(otherInstall, { staffId: AGENT.support.id, zendeskUserId: AGENT.support.zendeskUserId });
    expect((await me(elsewhere.token).expect(401)).body.code).toBe("session_wrong_audience");

    const otherAccount = { ...deps, config: { ...deps.config, zendeskIssuer: "https://other.zendesk.com" } };
    const foreign = await issueSessionToken(otherAccount, { staffId: AGENT.support.id, zendeskUserId: AGENT.support.zendeskUserId });
    expect((await me(foreign.token).expect(401)).body.code).toBe("session_wrong_issuer");

    // A ZAF token is not a session, and an HS256 token without the session type is refused.
    const zaf = await zafToken(deps, { zendeskUserId: AGENT.support.zendeskUserId });
    expect((await me(zaf).expect(401)).body.code).toBe("session_alg_not_allowed");
    const now = Math.floor(deps.clock.now().getTime() / 1000);
    const untyped = await new SignJWT({ zuid: "9004", auth_time: now })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(zafTrust(deps.config).issuer)
      .setAudience(zafTrust(deps.config).audience)
      .setSubject(AGENT.admin.id)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(deps.config.SESSION_SECRET));
    expect((await me(untyped).expect(401)).body.code).toBe("session_wrong_type");
  });

  it("refuses a session whose staff id and Zendesk user do not match", async () => {
    const mixed = await issueSessionToken(deps, { staffId: AGENT.admin.id, zendeskUserId: AGENT.support.zendeskUserId });
    expect((await me(mixed.token).expect(401)).body.code).toBe("session_missing_user");
  });

  it("applies a role change and a deactivation to the next request of the same session", async () => {
    await deps.database.db.insertInto("staff").values({ id: "stf_t_role", zendesk_user_id: "880001", email: null, name: "Role Test", panel_role: "support_full" }).execute();
    const token = await sessionFor(app, deps, "880001");
    expect((await me(token).expect(200)).body.staff.panelRole).toBe("support_full");
    await deps.database.db.updateTable("staff").set({ panel_role: "operations" }).where("id", "=", "stf_t_role").execute();
    const after = await me(token).expect(200);
    expect(after.body.staff.panelRole).toBe("operations");
    expect(after.body.permissions["seats.change"]).toEqual({ allowed: true });
    await deps.database.db.updateTable("staff").set({ active: false }).where("id", "=", "stf_t_role").execute();
    const before = log.lines().length;
    expect((await me(token).expect(403)).body).toMatchObject({ code: "staff_inactive", detail: "Your panel access has been removed; ask a Steward admin" });
    // Not a session problem: nothing logged as a rejected session.
    expect(log.lines().slice(before).filter((l) => l.msg === "session rejected")).toEqual([]);
    expect((await request(app).post("/api/session/renew").set("Authorization", `Bearer ${token}`).expect(403)).body.code).toBe("staff_inactive");
    // And a fresh visit from Zendesk does not give access back.
    const res = await request(app).post("/api/session").send({ token: await zafToken(deps, { zendeskUserId: "880001" }) }).expect(403);
    expect(res.body).toMatchObject({ code: "staff_inactive", detail: "Your panel access has been removed; ask a Steward admin" });
  });
});

describe("production trust anchors", () => {
  const production = (env: Record<string, string>) =>
    loadConfig({
      ...PRODUCTION_SETTINGS,
      DATABASE_URL: "postgres://steward@127.0.0.1:5432/steward",
      ...env,
    });

  it("refuses the demo key as the app key, and demo tokens never verify in production", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steward-zaf-"));
    try {
      const demo = demoZafKey(dir);
      expect(() => zafTrust(production({ ZAF_APP_PUBLIC_KEY: demo.publicKeyPem, DATA_DIR: dir }))).toThrow(ConfigError);
      expect(() => zafTrust(production({ ZAF_APP_PUBLIC_KEY: demo.publicKeyPem, DATA_DIR: dir }))).toThrow(
        expect.objectContaining({ problems: [{ variable: "ZAF_APP_PUBLIC_KEY", reason: "this is Steward's demo key; production mode trusts only the Zendesk app's key" }] }),
      );

      // Production with the Zendesk app's own key, on the DATA_DIR that holds a demo key.
      const appKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const appPem = appKey.publicKey.export({ type: "spki", format: "pem" }).toString();
      const config = production({ ZAF_APP_PUBLIC_KEY: appPem.replace(/\n/g, "\\n"), DATA_DIR: dir });
      const trust = zafTrust(config);
      expect(trust.keys).toHaveLength(1);
      expect(trust.issuers).toEqual(["https://acme.zendesk.com", "acme.zendesk.com"]);
      expect(trust.audience).toBe("123456");

      // A demo token minted for this very account and installation (demo mode, same DATA_DIR) is refused…
      const clock = new ManualClock(new Date());
      const demoConfig = loadConfig({ STEWARD_MODE: "demo", LOG_LEVEL: "silent", ZENDESK_SUBDOMAIN: "acme", ZAF_INSTALLATION_ID: "123456", DATA_DIR: dir });
      const demoToken = await mintDemoZafToken({ config: demoConfig, clock }, { zendeskUserId: AGENT.admin.zendeskUserId });
      await expect(verifyZafToken(demoToken, trust, clock)).rejects.toMatchObject({ code: "bad_signature" });
      // …and production will not mint one at all.
      await expect(mintDemoZafToken({ config, clock }, { zendeskUserId: AGENT.admin.zendeskUserId })).rejects.toThrow(/only in demo mode/);
      // The same claims signed by the app's key verify: what is refused is the demo key, not the claims.
      const sameClaims = await new SignJWT(decodeJwt(demoToken)).setProtectedHeader({ alg: "RS256", typ: "JWT" }).sign(appKey.privateKey);
      await expect(verifyZafToken(sameClaims, trust, clock)).resolves.toMatchObject({ zendeskUserId: AGENT.admin.zendeskUserId });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a public key that is not PEM, or a key file it cannot read", () => {
    expect(() => zafTrust(production({ ZAF_APP_PUBLIC_KEY: "not a key", DATA_DIR: "memory" }))).toThrow(/ZAF_APP_PUBLIC_KEY: not a PEM public key/);
    // A file that is not there stops start-up with the variable's name, not a bare ENOENT.
    expect(() => zafTrust(production({ ZAF_APP_PUBLIC_KEY_FILE: "/nonexistent/zaf.pem", DATA_DIR: "memory" }))).toThrow(
      expect.objectContaining({ problems: [{ variable: "ZAF_APP_PUBLIC_KEY_FILE", reason: "cannot read /nonexistent/zaf.pem (ENOENT)" }] }),
    );
  });

  it("keeps the demo key across restarts in DATA_DIR", () => {
    const dir = mkdtempSync(join(tmpdir(), "steward-zaf-"));
    try {
      const first = demoZafKey(dir).publicKeyPem;
      expect(first).toContain("BEGIN PUBLIC KEY");
      expect(demoZafKey(dir).publicKeyPem).toBe(first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
