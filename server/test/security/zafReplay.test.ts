import { SignJWT } from "jose";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { demoZafKey } from "../../src/auth/demoZafKey.js";
import { DEMO_INSTALLATION_ID } from "../../src/auth/zafTrust.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, authTestDeps, rowCounts, zafToken, type TestDeps } from "../auth/helpers.js";

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
    expect(entry).toMatchObject({ outcome: "denied", actor_system: "sign-in", ticket_id: "1001", error: "zaf_token_replayed" });
  });

  it("keys a token without jti by its hash", async () => {
    const token = await craft({ context: { ticket_id: 1002 } }, []);
    expect((await request(app).post("/api/session").send({ token })).status).toBe(200);
    expect((await request(app).post("/api/session").send({ token })).body.code).toBe("zaf_token_replayed");
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
