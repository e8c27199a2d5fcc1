import { generateKeyPairSync } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, SignJWT, UnsecuredJWT } from "jose";
import request from "supertest";
import { beforeEach, describe, expect, it } from "vitest";
import { grantKeysFor } from "../../src/impersonation/signingKeys.js";
import { auditOf, useHarness } from "../actions/harness.js";
import { databaseKinds } from "../support/databases.js";
import { addProduct, endAllSessions, redeem, start, stop, viewableUsers, type TestProduct } from "./support.js";

/**
 * impersonation.start through the one write path (caps, modes, refusals, all audited) and the
 * one-time grant it returns, attacked every way a token can be wrong.
 */
describe.each(databaseKinds)("impersonation start and grant on %s", (kind) => {
  let product: TestProduct;
  let other: TestProduct;
  const h = useHarness(kind, {
    arrange: async (harness) => {
      product = await addProduct(harness);
      other = await addProduct(harness, "prd_other", "http://127.0.0.1:41798");
    },
  });
  beforeEach(() => endAllSessions(h));

  it("starts a read-only session: grant with act/sid/ticket/mode, product URL, notice mail and ticket note queued, audited", async () => {
    const [user] = await viewableUsers(h, 1);
    // Other tests start sessions on the same user: what this start added is what came after these.
    const db = h.deps.database.db;
    const auditBefore = (await auditOf(h.deps, "impersonation.start", user!.id)).length;
    const startedMail = () => db.selectFrom("mail_outbox").selectAll().where("user_id", "=", user!.id).where("kind", "=", "impersonation_started").execute();
    const mailBefore = new Set((await startedMail()).map((m) => m.id));
    const res = await start(h, "support_full", user!.id, { productId: product.id, ticketId: "1004" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const result = res.body.result as { sessionId: string; grant: string; openUrl: string };
    expect(result.openUrl).toBe(`http://127.0.0.1:41799/steward/impersonate?grant=${encodeURIComponent(result.grant)}`);
    const claims = decodeJwt(result.grant);
    expect(claims).toMatchObject({ sub: user!.id, aud: product.id, sid: result.sessionId, ticket: "1004", mode: "read_only", act: { sub: "9002", email: "sam.support@steward-demo.test", name: "Sam Support" } });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBeLessThanOrEqual(60);
    expect(decodeProtectedHeader(result.grant)).toMatchObject({ alg: "ES256", typ: "steward-impersonation+jwt" });
    expect(decodeProtectedHeader(result.grant).kid).toBeTruthy();
    const jwks = await request(h.app).get("/.well-known/jwks.json");
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toContain(decodeProtectedHeader(result.grant).kid);
    expect(JSON.stringify(jwks.body)).not.toContain('"d"');

    const added = (await auditOf(h.deps, "impersonation.start", user!.id)).slice(auditBefore);
    expect(added).toHaveLength(1);
    const [entry] = added;
    expect(entry).toMatchObject({ outcome: "succeeded", ticketId: "1004", actor: { staffId: "stf_demo_full" } });
    expect(JSON.stringify(entry!.after)).not.toContain(result.grant);
    const mail = (await startedMail()).filter((m) => !mailBefore.has(m.id));
    expect(mail).toHaveLength(1);
    expect(mail[0]!.body_text).toContain("#1004");
    expect(mail[0]!.body_text).toContain("Sam, a member of our support team");
    const notes = await db.selectFrom("ticket_notes").selectAll().where("session_id", "=", result.sessionId).execute();
    expect(notes.map((n) => n.kind)).toEqual(["impersonation_started"]);
  });

  it("refuses a duration out of range or not whole with words naming the bounds and the field", async () => {
    const [user] = await viewableUsers(h, 1);
    for (const minutes of [0, 1441, 2.5]) {
      const res = await start(h, "admin", user!.id, { minutes, productId: product.id });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      const error = (res.body.errors as { field: string; reason: string }[]).find((e) => e.field.endsWith("minutes"));
      expect(error?.field).toBe("body.input.minutes");
      expect(error?.reason).toBe(minutes === 2.5 ? "expected a whole number of minutes" : "expected 1 to 1440 minutes");
    }
  });

  it("refuses full mode below operations and durations over the role's cap, audited as denied", async () => {
    const [user] = await viewableUsers(h, 1);
    const full = await start(h, "support_full", user!.id, { mode: "full", productId: product.id });
    expect(full.status).toBe(403);
    expect(full.body.code).toBe("mode_not_allowed");
    const long = await start(h, "support_full", user!.id, { minutes: 31, productId: product.id });
    expect(long.status).toBe(403);
    expect(long.body.code).toBe("over_cap");
    const opsLong = await start(h, "operations", user!.id, { mode: "full", minutes: 61, productId: product.id });
    expect(opsLong.body.code).toBe("over_cap");
    const denied = (await auditOf(h.deps, "impersonation.start", user!.id)).filter((e) => e.outcome === "denied");
    expect(denied.length).toBeGreaterThanOrEqual(3);
    const opsFull = await start(h, "operations", user!.id, { mode: "full", minutes: 60, productId: product.id });
    expect(opsFull.status, JSON.stringify(opsFull.body)).toBe(200);
    const adminLong = await start(h, "admin", user!.id, { minutes: 120, productId: product.id });
    expect(adminLong.status).toBe(200);
    expect(await start(h, "support_read_only", user!.id, { productId: product.id }).then((r) => r.status)).toBe(403);
  });

  it("full mode on an account owner or admin below operations: refused with that reason (not just the mode table's), audited as denied", async () => {
    const db = h.deps.database.db;
    const owners = await db
      .selectFrom("users as u")
      .innerJoin("accounts as a", "a.id", "u.account_id")
      .select(["u.id", "u.role"])
      .where("u.status", "=", "active")
      .where("u.blocked", "=", false)
      .where("u.role", "in", ["owner", "admin"])
      .where("a.status", "in", ["active", "trialing"])
      .orderBy("u.id")
      .limit(2)
      .execute();
    expect(owners.length).toBeGreaterThan(0);
    for (const owner of owners) {
      const res = await start(h, "support_full", owner.id, { mode: "full", productId: product.id });
      expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([403, "full_mode_on_admin"]);
      expect(res.body).toMatchObject({ targetRole: owner.role, requiredRole: "operations", panelRole: "support_full" });
      expect(res.body.detail).toContain(owner.role);
      const entries = await auditOf(h.deps, "impersonation.start", owner.id);
      expect(entries.map((e) => e.outcome)).toEqual(["denied"]);
      expect(entries[0]!.error).toContain("full_mode_on_admin");
      expect(await db.selectFrom("impersonation_sessions").select("id").where("user_id", "=", owner.id).execute()).toEqual([]);
    }
    // A member in full mode below operations: the mode table's reason.
    const [member] = await viewableUsers(h, 1, 7);
    const memberFull = await start(h, "support_full", member!.id, { mode: "full", productId: product.id });
    expect([memberFull.status, memberFull.body.code]).toEqual([403, "mode_not_allowed"]);
    // Read-only on the owner is fine for support_full; full on the owner is fine for operations.
    const readOnly = await start(h, "support_full", owners[0]!.id, { productId: product.id });
    expect(readOnly.status, JSON.stringify(readOnly.body)).toBe(200);
    await endAllSessions(h);
    const opsFull = await start(h, "operations", owners[0]!.id, { mode: "full", minutes: 30, productId: product.id });
    expect(opsFull.status, JSON.stringify(opsFull.body)).toBe(200);
  });

  it("refuses inactive, blocked, staff and protected targets, deleted accounts, short reasons and a second live session — each audited", async () => {
    const [a, b, c, d, e, f] = await viewableUsers(h, 6, 20);
    const db = h.deps.database.db;
    // A staff address with an accent, and a product user spelling it decomposed and in capitals: the same address.
    await db.updateTable("staff").set({ email: "zoë.reader@steward-demo.test" }).where("id", "=", "stf_demo_read").execute();
    await db.updateTable("users").set({ email: "ZOE\u0308.READER@steward-demo.test" }).where("id", "=", f!.id).execute();
    await db.updateTable("users").set({ blocked: true }).where("id", "=", a!.id).execute();
    await db.updateTable("users").set({ email: "olive.ops@steward-demo.test" }).where("id", "=", b!.id).execute();
    await db.updateTable("users").set({ impersonation_protected: true }).where("id", "=", c!.id).execute();
    const cases: [string, string][] = [
      [a!.id, "target_not_active"],
      [b!.id, "target_is_staff"],
      [c!.id, "target_protected"],
      [f!.id, "target_is_staff"],
    ];
    for (const [id, code] of cases) {
      const res = await start(h, "support_full", id, { productId: product.id });
      expect(res.status, id).toBe(409);
      expect(res.body.code).toBe(code);
      const entry = (await auditOf(h.deps, "impersonation.start", id)).at(-1);
      expect(entry).toMatchObject({ outcome: "failed" });
      expect(entry!.error).toContain(code);
    }
    const short = await start(h, "support_full", d!.id, { reason: "because", productId: product.id });
    expect(short.status).toBe(400);
    expect(short.body.errors[0].field).toBe("body.reason");

    expect((await start(h, "support_full", d!.id, { productId: product.id })).status).toBe(200);
    const second = await start(h, "support_full", e!.id, { productId: product.id });
    expect(second.status).toBe(409);
    expect(second.body.code).toBe("session_already_live");
    expect((await auditOf(h.deps, "impersonation.start", e!.id)).at(-1)).toMatchObject({ outcome: "failed" });

    const deletedAccount = await db.selectFrom("users as u").innerJoin("accounts as x", "x.id", "u.account_id").select("u.id").where("x.status", "=", "deleted").where("u.status", "=", "active").executeTakeFirst();
    if (deletedAccount) {
      const res = await start(h, "operations", deletedAccount.id, { productId: product.id });
      expect(res.body.code).toBe("account_deleted");
    }
  });

  it("two starts by one agent at once: exactly one session", async () => {
    const [a, b] = await viewableUsers(h, 2, 10);
    const results = await Promise.all([start(h, "operations", a!.id, { productId: product.id }), start(h, "operations", b!.id, { productId: product.id })]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const live = await h.deps.database.db.selectFrom("impersonation_sessions").select("id").where("staff_id", "=", "stf_demo_ops").where("ended_at", "is", null).execute();
    expect(live).toHaveLength(1);
  });

  describe("grant attacks (redeem)", () => {
    async function fresh() {
      const [user] = await viewableUsers(h, 1);
      const res = await start(h, "support_full", user!.id, { productId: product.id });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.result as { sessionId: string; grant: string };
    }
    const tamper = (grant: string, change: Record<string, unknown>) => {
      const [header, payload, signature] = grant.split(".");
      const claims = { ...JSON.parse(Buffer.from(payload!, "base64url").toString()), ...change };
      return [header, Buffer.from(JSON.stringify(claims)).toString("base64url"), signature].join(".");
    };
    async function refused(grant: string, code: string | RegExp, using = product) {
      const res = await redeem(h, using, grant);
      expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
      expect(res.body.code).toMatch(code);
      return res;
    }

    it("redeems once; a replay (even two at once) is refused and audited", async () => {
      const { grant, sessionId } = await fresh();
      const both = await Promise.all([redeem(h, product, grant), redeem(h, product, grant)]);
      expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
      const ok = both.find((r) => r.status === 200)!;
      expect(ok.body).toMatchObject({ sid: sessionId, status: "live", mode: "read_only", agent: { name: "Sam Support" } });
      await refused(grant, "grant_replayed");
      const entries = (await auditOf(h.deps, "impersonation.redeem")).filter((e) => (e.after as { sessionId?: string }).sessionId === sessionId);
      expect(entries.map((e) => e.outcome).sort()).toEqual(["denied", "denied", "succeeded"]);
    });

    it("a grant whose session ended before it was used is refused as ended, not recorded as a replay", async () => {
      const { grant, sessionId } = await fresh();
      const [user] = await viewableUsers(h, 1);
      expect((await stop(h, "support_full", user!.id, sessionId)).status).toBe(200);
      await refused(grant, "session_ended");
      const [entry] = (await auditOf(h.deps, "impersonation.redeem")).filter((e) => (e.after as { sessionId?: string }).sessionId === sessionId);
      expect(entry).toMatchObject({ outcome: "denied", error: expect.stringMatching(/^session_ended: .*ended \(agent\)/) });
    });

    it("refuses expired, wrong audience, edited mode/sub/act, alg none, HS256 with the public key, a foreign key", async () => {
      const { grant } = await fresh();
      await refused(grant, "grant_wrong_audience", other);
      await refused(tamper(grant, { mode: "full" }), "grant_bad_signature");
      await refused(tamper(grant, { sub: "usr_someone_else" }), "grant_bad_signature");
      await refused(tamper(grant, { act: { sub: "9004", email: "ada.admin@steward-demo.test", name: "Ada Admin" } }), "grant_bad_signature");
      const claims = decodeJwt(grant);
      const header = decodeProtectedHeader(grant);
      await refused(new UnsecuredJWT(claims).encode(), /grant_(alg_not_allowed|malformed)/);
      const jwks = await grantKeysFor(h.deps.config).jwks(h.deps.clock.now());
      const publicJwkText = JSON.stringify(jwks.keys.find((k) => k.kid === header.kid));
      const hs = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: header.kid, typ: header.typ }).sign(new TextEncoder().encode(publicJwkText));
      await refused(hs, "grant_alg_not_allowed");
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const foreign = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: header.kid, typ: header.typ }).sign(privateKey);
      await refused(foreign, "grant_bad_signature");
      const unknownKid = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "not-a-published-kid", typ: header.typ }).sign(privateKey);
      await refused(unknownKid, "grant_unknown_key");
      h.deps.clock.advance(70_000);
      await refused(grant, "grant_expired");
      // The genuine grant, unused until now, was never redeemed by any of these.
      const session = await h.deps.database.db.selectFrom("impersonation_sessions").select("redeemed_at").where("grant_jti", "=", String(claims.jti)).executeTakeFirstOrThrow();
      expect(session.redeemed_at).toBeNull();
    });

    it("after rotation the old key stays published until its grants expired, then its grants are refused", async () => {
      const { grant } = await fresh();
      const oldKid = decodeProtectedHeader(grant).kid;
      const keys = grantKeysFor(h.deps.config);
      const { kid: newKid, activeFrom } = await keys.rotate(h.deps.clock.now());
      const published = async () => (await request(h.app).get("/.well-known/jwks.json")).body.keys.map((k: { kid: string }) => k.kid) as string[];
      expect(await published()).toEqual(expect.arrayContaining([oldKid, newKid]));
      // The new key is only published until products' cached JWKS have it: the old one signs meanwhile.
      await endAllSessions(h);
      expect(decodeProtectedHeader((await fresh()).grant).kid).toBe(oldKid);
      h.deps.clock.set(new Date(activeFrom));
      await endAllSessions(h);
      const next = await fresh();
      expect(decodeProtectedHeader(next.grant).kid).toBe(newKid);
      h.deps.clock.advance(120_000);
      expect(await published()).not.toContain(oldKid);
      await refused(grant, /grant_(unknown_key|expired)/);
    });
  });
});
