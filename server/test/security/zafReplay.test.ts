import { createHash } from "node:crypto";
import { SignJWT } from "jose";
import { sql } from "kysely";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { demoZafKey } from "../../src/auth/demoZafKey.js";
import { ZAF_CLOCK_TOLERANCE_SECONDS } from "../../src/auth/zafToken.js";
import { DEMO_INSTALLATION_ID } from "../../src/auth/zafTrust.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, authTestDeps, capturingLogger, rowCounts, zafToken, type TestDeps } from "../auth/helpers.js";

const HOST = "steward-demo.zendesk.com";

describe.each(databaseKinds)("ZAF tokens on %s", (kind) => {
  let deps: TestDeps;
  let app: ReturnType<typeof createApp>;
  let now: number;

  beforeAll(async () => {
    deps = await authTestDeps(kind);
    app = createApp(deps);
    now = Math.floor(deps.clock.now().getTime() / 1000);
  }, 180_000);
  afterAll(() => deps.database.close());

  function craft(claims: Record<string, unknown>, omit: string[] = []): Promise<string> {
    const all: Record<string, unknown> = { iss: HOST, aud: DEMO_INSTALLATION_ID, sub: AGENT.support.zendeskUserId, iat: now, nbf: now, exp: now + 300, ...claims };
    for (const name of omit) delete all[name];
    return new SignJWT(all).setProtectedHeader({ alg: "RS256", typ: "JWT" }).sign(demoZafKey("memory").privateKey);
  }

  async function replayAudits(): Promise<number> {
    const rows = await deps.database.db.selectFrom("audit_log").select("id").where("action", "=", "session.token_replayed").execute();
    return rows.length;
  }

  it("accepts each token once: a replay on either entry point is 401 and audited", async () => {
    const token = await zafToken(deps, { zendeskUserId: AGENT.support.zendeskUserId, ticketId: "1001" });
    expect((await request(app).post("/api/session").send({ token })).status).toBe(200);
    const audits = await replayAudits();
    const again = await request(app).post("/api/session").send({ token });
    expect(again.status).toBe(401);
    expect(again.body).toMatchObject({ code: "zaf_token_replayed" });
    const page = await request(app).post("/app").set("Accept", "application/json").type("form").send({ token });
    expect(page.status).toBe(401);
    expect(await replayAudits()).toBe(audits + 2);
    const entry = await deps.database.db.selectFrom("audit_log").selectAll().where("action", "=", "session.token_replayed").orderBy("seq", "desc").executeTakeFirstOrThrow();
    expect(entry).toMatchObject({
      action: "session.token_replayed",
      outcome: "denied",
      actor_system: "sign-in",
      target_type: "staff",
      target_id: null,
      ticket_id: "1001",
      reason: "a Zendesk app token was presented a second time",
      after: { zendeskUserId: AGENT.support.zendeskUserId },
      error: "zaf_token_replayed",
      request_id: page.headers["x-request-id"],
    });
  });

  it("stores a use until the token's expiry plus the skew, and drops the uses of expired tokens", async () => {
    const { db } = deps.database;
    await db.insertInto("zaf_token_uses").values({ token_key: "jti:stale-use", zendesk_user_id: "9002", expires_at: new Date((now - 1) * 1000), used_at: new Date((now - 400) * 1000) }).execute();
    await db.insertInto("zaf_token_uses").values({ token_key: "jti:live-use", zendesk_user_id: "9002", expires_at: new Date((now + 1) * 1000), used_at: new Date((now - 299) * 1000) }).execute();
    const token = await craft({ jti: "stored-use", sub: AGENT.admin.zendeskUserId, exp: now + 200 });
    expect((await request(app).post("/api/session").send({ token })).status).toBe(200);
    const stored = `jti:${createHash("sha256").update("stored-use").digest("hex")}`;
    const uses = await db.selectFrom("zaf_token_uses").selectAll().where("token_key", "in", ["jti:stale-use", "jti:live-use", stored]).execute();
    const byKey = Object.fromEntries(uses.map((u) => [u.token_key, { zendeskUserId: u.zendesk_user_id, expiresAt: u.expires_at.getTime(), usedAt: u.used_at.getTime() }]));
    expect(byKey).toEqual({
      "jti:live-use": { zendeskUserId: "9002", expiresAt: (now + 1) * 1000, usedAt: (now - 299) * 1000 },
      [stored]: { zendeskUserId: AGENT.admin.zendeskUserId, expiresAt: (now + 200 + ZAF_CLOCK_TOLERANCE_SECONDS) * 1000, usedAt: deps.clock.now().getTime() },
    });
  });

  it("refuses a replay even when its audit entry cannot be written, logging why", async () => {
    const log = capturingLogger();
    const logged = createApp({ ...deps, logger: log.logger });
    const token = await zafToken(deps, { zendeskUserId: AGENT.support.zendeskUserId });
    expect((await request(logged).post("/api/session").send({ token })).status).toBe(200);
    const { db } = deps.database;
    await sql.raw("create or replace function test_fail_replay_audit() returns trigger language plpgsql as $$ begin raise exception 'injected audit failure'; end $$").execute(db);
    await sql.raw("create trigger test_fail_replay_audit before insert on audit_log for each row execute function test_fail_replay_audit()").execute(db);
    try {
      const again = await request(logged).post("/api/session").send({ token });
      expect([again.status, again.body.code]).toEqual([401, "zaf_token_replayed"]);
    } finally {
      await sql.raw("drop trigger if exists test_fail_replay_audit on audit_log").execute(db);
    }
    const line = log.lines().find((l) => l.msg === "could not audit a replayed ZAF token");
    expect(line).toMatchObject({ level: 50, err: { message: expect.stringContaining("injected audit failure") } });
  });

  it("keys a token without jti by its hash", async () => {
    const token = await craft({ context: { ticket_id: 1002 } }, []);
    expect((await request(app).post("/api/session").send({ token })).status).toBe(200);
    expect((await request(app).post("/api/session").send({ token })).body.code).toBe("zaf_token_replayed");
  });

  it("refuses a token without jti sent again with its signature spelt differently (base64url's unused last bits)", async () => {
    const token = await craft({ context: { ticket_id: 1003 } }, []);
    expect((await request(app).post("/api/session").send({ token })).status).toBe(200);
    // A 256-byte RS256 signature ends in a base64url character with 4 unused bits: 16 spellings decode to the same bytes.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(token.at(-1)!);
    for (const other of [1, 2, 3].map((d) => alphabet[(last & ~3) | ((last + d) & 3)])) {
      const res = await request(app).post("/api/session").send({ token: `${token.slice(0, -1)}${other}` });
      expect(res.status, other).toBe(401);
      expect(res.body.code).toBe("zaf_token_replayed");
    }
  });

  it("lets only one of several parallel uses of one token through", async () => {
    const token = await zafToken(deps, { zendeskUserId: AGENT.operations.zendeskUserId });
    const results = await Promise.all(Array.from({ length: 5 }, () => request(app).post("/api/session").send({ token })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401]);
  });

  it("accepts sub and aud as bare ids or in Zendesk's URL form on the configured host", async () => {
    const byUrl = await craft({ sub: `https://${HOST}/api/v2/users/${AGENT.operations.zendeskUserId}.json`, jti: "url-form-1" });
    const res = await request(app).post("/api/session").send({ token: byUrl });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.staff.panelRole).toBe("operations");
    const bareNumber = await craft({ sub: Number(AGENT.admin.zendeskUserId), jti: "bare-number" });
    expect((await request(app).post("/api/session").send({ token: bareNumber })).body.staff?.panelRole).toBe("admin");
  });

  it("checks the URL forms strictly", async () => {
    // aud as the installation URL works only with a numeric installation id on the configured host.
    const numeric = await authTestDeps(kind, { ZAF_INSTALLATION_ID: "360001" });
    try {
      const numericApp = createApp(numeric);
      const aud = (host: string) => `https://${host}/api/v2/apps/installations/360001.json`;
      const good = await craft({ aud: aud(HOST), jti: "aud-url-good" });
      expect((await request(numericApp).post("/api/session").send({ token: good })).status).toBe(200);
      const bare = await craft({ aud: "360001", jti: "aud-bare" });
      expect((await request(numericApp).post("/api/session").send({ token: bare })).status).toBe(200);
      const otherHost = await craft({ aud: aud("evil.zendesk.com"), jti: "aud-url-evil" });
      expect((await request(numericApp).post("/api/session").send({ token: otherHost })).body.code).toBe("zaf_token_wrong_audience");
    } finally {
      await numeric.database.close();
    }
    const before = await rowCounts(deps);
    for (const sub of [
      `https://evil.zendesk.com/api/v2/users/${AGENT.admin.zendeskUserId}.json`,
      `http://${HOST}/api/v2/users/${AGENT.admin.zendeskUserId}.json`,
      `https://${HOST}/api/v2/groups/${AGENT.admin.zendeskUserId}.json`,
      `https://${HOST}/api/v2/users/${AGENT.admin.zendeskUserId}.json?x=1`,
    ]) {
      const res = await request(app).post("/api/session").send({ token: await craft({ sub, jti: `bad-${sub}` }) });
      expect([sub, res.status, res.body.code]).toEqual([sub, 401, "zaf_token_missing_user"]);
    }
    expect(await rowCounts(deps)).toEqual(before);
  }, 180_000);
});
