import type { Express } from "express";
import { sql } from "kysely";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RequesterContext } from "../../../shared/schemas/context.js";
import { createApp } from "../../src/app.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, addUser, lookupTestDeps, sessionFor, SETUP_TIMEOUT_MS, type TestDeps } from "./fixtures.js";

/** What the seeded tables say about an account, counted independently of the code under test. */
async function accountFacts(deps: TestDeps, accountId: string) {
  const { rows } = await sql<{ occupying: number; all_users: number; admins: number }>`
    select count(*) filter (where status in ('active', 'invited'))::int as occupying,
           count(*) filter (where status <> 'deleted')::int as all_users,
           count(*) filter (where status = 'active' and role in ('owner', 'admin'))::int as admins
    from users where account_id = ${accountId}`.execute(deps.database.db);
  return rows[0] as { occupying: number; all_users: number; admins: number };
}

describe.each(databaseKinds)("GET /api/context on %s (built-in providers)", (kind) => {
  let deps: TestDeps;
  let app: Express;
  let token: string;

  const context = (query: Record<string, string>, headers: Record<string, string> = {}) =>
    request(app).get("/api/context").query(query).set("Authorization", `Bearer ${token}`).set(headers);
  const emailOf = async (userId: string) => (await deps.database.db.selectFrom("users").select("email").where("id", "=", userId).executeTakeFirstOrThrow()).email;
  const auditByRequest = (requestId: string) => deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", requestId).execute();

  beforeAll(async () => {
    deps = await lookupTestDeps(kind);
    app = createApp(deps);
    token = await sessionFor(app, deps, AGENT.readOnly.zendeskUserId);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await deps.database.close();
  });

  it("returns every part for an exact requester: a locked user shows locked", async () => {
    const email = await emailOf("usr_demo_001_3");
    const res = await context({ email: email.toUpperCase(), zendeskUserId: "50001", externalId: "usr_demo_001_3" }, { "X-Ticket-Id": "1001", "X-Request-Id": "req-ctx-locked" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const body = res.body as RequesterContext;
    expect(body.match).toBe("exact");
    expect(body.requester).toEqual({ email: email.toUpperCase(), zendeskUserId: "50001", externalId: "usr_demo_001_3" });
    expect(body.user).toMatchObject({ id: "usr_demo_001_3", accountId: "acc_demo_001", email, role: "billing", status: "active" });

    expect(body.identity.status).toBe("ok");
    if (body.identity.status !== "ok") return;
    expect(body.identity.source).toBe("builtin");
    expect(body.identity.data).toMatchObject({ locked: true, failedLoginCount: 7, blocked: false });
    expect(new Date(body.identity.data.lockedUntil ?? 0).getTime()).toBeGreaterThan(deps.clock.now().getTime());

    const facts = await accountFacts(deps, "acc_demo_001");
    expect(body.account).toMatchObject({
      status: "ok",
      source: "steward",
      data: { id: "acc_demo_001", status: "active", plan: "business", seatsLicensed: 25, seatsUsed: facts.occupying, userCount: facts.all_users, activeAdminCount: facts.admins, overSeatLimit: false, temporarySeats: 0 },
    });
    expect(body.billing).toMatchObject({ status: "ok", source: "builtin", data: { customerId: "cus_demo_001", status: "active", plan: "business", dunning: null } });

    expect(body.activity.status).toBe("ok");
    if (body.activity.status !== "ok") return;
    const events = await deps.database.db.selectFrom("activity_events").select(["type", "occurred_at"]).where("account_id", "=", "acc_demo_001").orderBy("occurred_at", "desc").orderBy("id", "desc").limit(10).execute();
    expect(body.activity.data.map((e) => [e.type, e.at])).toEqual(events.map((e) => [e.type, e.occurred_at.toISOString()]));
    expect(body.audit).toEqual({ status: "ok", source: "steward", data: [] });
    expect(body.sources).toEqual({ user: "steward", identity: "builtin", account: "steward", billing: "builtin", activity: "steward", audit: "steward" });
    // Exactly the shared schema the app parses.
    expect(RequesterContext.safeParse(body).success).toBe(true);

    const entries = await auditByRequest("req-ctx-locked");
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ action: "context.view", outcome: "succeeded", target_type: "user", target_id: "usr_demo_001_3", target_account_id: "acc_demo_001", ticket_id: "1001", actor_zendesk_user_id: AGENT.readOnly.zendeskUserId, error: null });
  });

  it("shows a past-due account's dunning: failed attempts, next retry, amount due", async () => {
    const res = await context({ email: await emailOf("usr_demo_003_1") }, { "X-Ticket-Id": "1003" });
    expect(res.status).toBe(200);
    const body = res.body as RequesterContext;
    expect(body.account).toMatchObject({ status: "ok", data: { id: "acc_demo_003", status: "past_due" } });
    expect(body.billing.status).toBe("ok");
    if (body.billing.status !== "ok" || !body.billing.data) throw new Error("billing missing");
    const open = await deps.database.db.selectFrom("billing_invoices").selectAll().where("customer_id", "=", "cus_demo_003").where("status", "=", "open").executeTakeFirstOrThrow();
    expect(body.billing.data.status).toBe("past_due");
    expect(body.billing.data.dunning).toMatchObject({ failedAttempts: open.attempt_count, amountDueCents: open.amount_remaining_cents });
    expect(open.attempt_count).toBeGreaterThan(0);
    expect(body.billing.data.dunning?.nextRetryAt).not.toBeNull();
    expect(body.identity.status).toBe("ok");
  });

  it("counts seats: over the limit, and temporary seats lifting the limit until they expire", async () => {
    const email = await emailOf("usr_demo_006_1");
    const before = (await context({ email })).body as RequesterContext;
    const facts = await accountFacts(deps, "acc_demo_006");
    expect(before.account).toMatchObject({ status: "ok", data: { seatsLicensed: 5, seatsUsed: facts.occupying, overSeatLimit: true } });

    const now = deps.clock.now().getTime();
    const expansion = { account_id: "acc_demo_006", ticket_id: "1006", granted_by_staff_id: "stf_demo_full" };
    await deps.database.db
      .insertInto("seat_expansions")
      .values([
        { id: "sx_live", seats: facts.occupying - 5, expires_at: new Date(now + 86_400_000), ...expansion },
        { id: "sx_expired", seats: 50, expires_at: new Date(now - 1_000), ...expansion },
        { id: "sx_reverted", seats: 50, expires_at: new Date(now + 86_400_000), reverted_at: new Date(now - 1_000), ...expansion },
      ])
      .execute();
    const after = (await context({ email })).body as RequesterContext;
    expect(after.account).toMatchObject({ status: "ok", data: { temporarySeats: facts.occupying - 5, overSeatLimit: false } });
  });

  it("lists the account's latest audited changes, newest first, without the lookups", async () => {
    const email = await emailOf("usr_demo_007_3");
    const actor = { kind: "staff" as const, staffId: "stf_demo_full", zendeskUserId: "9002", email: "sam.support@steward-demo.test", name: "Sam Support", panelRole: "support_full" as const };
    const target = { type: "user" as const, id: "usr_demo_007_3", accountId: "acc_demo_007" };
    await context({ email });
    for (const action of ["user.password_reset", "user.promote_admin"] as const) {
      await appendAudit(deps.database.db, { actor, action, target, ticketId: "1007", reason: `test ${action}`, outcome: "succeeded" }, deps.clock);
    }
    await context({ email });
    const body = (await context({ email })).body as RequesterContext;
    expect(body.audit.status).toBe("ok");
    if (body.audit.status !== "ok") return;
    expect(body.audit.data.map((a) => a.action)).toEqual(["user.promote_admin", "user.password_reset"]);
    expect(body.audit.data[0]).toMatchObject({ actorEmail: "sam.support@steward-demo.test", ticketId: "1007", outcome: "succeeded", reason: "test user.promote_admin" });
  });

  it("lets the agent pick when several users share the email", async () => {
    const email = "casey.consultant@freelance.example";
    const res = await context({ email }, { "X-Ticket-Id": "1010", "X-Request-Id": "req-ctx-ambiguous" });
    expect(res.status).toBe(200);
    const body = res.body as RequesterContext;
    expect(body.match).toBe("ambiguous");
    expect(body.user).toBeNull();
    expect(body.candidates.map((c) => [c.id, c.accountId])).toEqual([
      ["usr_demo_shared_1", "acc_demo_001"],
      ["usr_demo_shared_2", "acc_demo_008"],
    ]);
    expect(body.identity).toMatchObject({ status: "error", error: { code: "requester_ambiguous" } });
    expect((await auditByRequest("req-ctx-ambiguous"))[0]).toMatchObject({ action: "context.view", outcome: "succeeded", target_id: null, ticket_id: "1010" });

    const picked = (await context({ email, userId: "usr_demo_shared_2" })).body as RequesterContext;
    expect(picked).toMatchObject({ match: "exact", user: { id: "usr_demo_shared_2", accountId: "acc_demo_008" }, account: { status: "ok", data: { id: "acc_demo_008" } } });
    const viaExternal = (await context({ email, externalId: "usr_demo_shared_1" })).body as RequesterContext;
    expect(viaExternal).toMatchObject({ match: "exact", user: { id: "usr_demo_shared_1" } });
    // The others with that email come along, so the sidebar can warn that the ticket may be about one of them.
    expect(viaExternal.candidates.map((c) => [c.id, c.accountId])).toEqual([["usr_demo_shared_2", "acc_demo_008"]]);
    expect(picked.candidates.map((c) => c.id)).toEqual(["usr_demo_shared_1"]);
    // An external id naming someone with another email does not decide.
    const mismatch = (await context({ email, externalId: "usr_demo_002_1" })).body as RequesterContext;
    expect(mismatch.match).toBe("ambiguous");
  });

  it("never matches or offers a deleted user: not by email, external id or pick, nor among the closest matches", async () => {
    const db = deps.database.db;
    await addUser(db, { id: "usr_t_live", account_id: "acc_demo_001", email: "pat.morrow@deleted.example", name: "Pat Morrow" });
    await addUser(db, { id: "usr_t_dead", account_id: "acc_demo_008", email: "Pat.Morrow@deleted.example", name: "Pat Morrow", status: "deleted" });
    await addUser(db, { id: "usr_t_gone", account_id: "acc_demo_008", email: "quinn.gone@deleted.example", name: "Quinn Gone", status: "deleted" });

    const shared = await context({ email: "pat.morrow@deleted.example" });
    expect(shared.status, JSON.stringify(shared.body)).toBe(200);
    expect(shared.body).toMatchObject({ match: "exact", user: { id: "usr_t_live" }, candidates: [] });
    // An external id naming the deleted one does not decide; the email does.
    expect((await context({ email: "pat.morrow@deleted.example", externalId: "usr_t_dead" })).body).toMatchObject({ match: "exact", user: { id: "usr_t_live" }, candidates: [] });
    expect((await context({ email: "pat.morrow@deleted.example", userId: "usr_t_dead" })).status).toBe(404);

    const gone = await context({ email: "quinn.gone@deleted.example" });
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe("requester_not_found");
    expect((gone.body.candidates as { id: string }[]).map((c) => c.id)).not.toContain("usr_t_gone");
  });

  it("answers 404 with the closest matches for an unknown requester, and audits it as failed", async () => {
    await addUser(deps.database.db, { id: "usr_t_ana", account_id: "acc_demo_001", email: "ana.limberg@acme.example", name: "Ana Limberg" });
    const res = await context({ email: "ana.limburg@acme.example" }, { "X-Request-Id": "req-ctx-unknown" });
    expect(res.status).toBe(404);
    expect(res.headers["content-type"]).toContain("application/problem+json");
    expect(res.body).toMatchObject({ status: 404, code: "requester_not_found" });
    const ids = (res.body.candidates as { id: string }[]).map((c) => c.id);
    expect(ids[0]).toBe("usr_t_ana");
    expect(ids).toContain("acc_demo_001");
    expect((await auditByRequest("req-ctx-unknown"))[0]).toMatchObject({ action: "context.view", outcome: "failed", error: "requester_not_found", target_id: null });

    const stranger = await context({ email: "new.prospect@unknown.example" });
    expect(stranger.status).toBe(404);
    expect(stranger.body.candidates).toEqual(expect.any(Array));
  });

  it("rejects a missing or invalid email with 400 naming the field", async () => {
    for (const query of [{}, { email: "not-an-email" }, { email: "a@b.example", zendeskUserId: "abc" }]) {
      const res = await context(query as Record<string, string>);
      expect(res.status, JSON.stringify(query)).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining([expect.stringMatching(/^query\.(email|zendeskUserId)$/)]));
    }
  });

  it("finds internationalised (RFC 6531) requesters: NFC and NFD, either case, stored either way; an accent still tells two addresses apart", async () => {
    const db = deps.database.db;
    // Stored as the product wrote them: mixed case, composed (NFC) or decomposed (NFD).
    await addUser(db, { id: "usr_t_jose", account_id: "acc_demo_001", email: "José@Example.com", name: "José Núñez" });
    await addUser(db, { id: "usr_t_zoe", account_id: "acc_demo_001", email: "zoe\u0308@example.org".normalize("NFD"), name: "Zoë Adler" });
    await addUser(db, { id: "usr_t_han", account_id: "acc_demo_001", email: "用户@例子.广告", name: "Yonghu" });
    await addUser(db, { id: "usr_t_dima", account_id: "acc_demo_001", email: "ДМИТРИЙ@пример.рф", name: "Dmitri" });
    const found = async (email: string, requestId?: string) => {
      const res = await context({ email }, requestId ? { "X-Request-Id": requestId } : {});
      expect(res.status, `${email}: ${JSON.stringify(res.body)}`).toBe(200);
      return res.body as RequesterContext;
    };
    for (const email of ["josé@example.com", "JOSÉ@EXAMPLE.COM", "jose\u0301@example.com", "José@Example.com"]) {
      expect((await found(email)).user?.id, email).toBe("usr_t_jose");
    }
    for (const email of ["zoë@example.org", "ZOË@Example.org", "zoe\u0308@example.org"]) {
      expect((await found(email)).user?.id, email).toBe("usr_t_zoe");
    }
    expect((await found("用户@例子.广告")).user?.id).toBe("usr_t_han");
    expect((await found("дмитрий@пример.рф")).user?.id).toBe("usr_t_dima");
    // Another mailbox, not another spelling: no user has it.
    expect((await context({ email: "jose@example.com" })).status).toBe(404);

    // The audit entry keeps the email as the ticket gave it (clean text: stored and hashed the same).
    const asked = "JOSE\u0301@example.com";
    expect((await found(asked, "req-ctx-idn")).match).toBe("exact");
    expect((await auditByRequest("req-ctx-idn"))[0]).toMatchObject({ action: "context.view", outcome: "succeeded", target_id: "usr_t_jose", after: { requester: { email: asked } } });
  });

  it("refuses an email carrying NUL or a lone surrogate, or that is no address, with 400 naming the field", async () => {
    // Raw: NUL, and a surrogate alone (which encodeURIComponent refuses to write) as its bytes.
    const raw = ["jos%C3%A9%00@example.com", "jos%ED%A0%80@example.com"];
    const sent = ["josé example.com", "josé@localhost", "jo sé@example.com", "josé@@example.com", "<josé@example.com>"].map(encodeURIComponent);
    for (const email of [...raw, ...sent]) {
      const res = await request(app).get(`/api/context?email=${email}`).set("Authorization", `Bearer ${token}`);
      expect(res.status, email).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field), email).toEqual(["query.email"]);
    }
  });

  it("needs a session, and is described in the OpenAPI document", async () => {
    expect((await request(app).get("/api/context").query({ email: "a@b.example" })).status).toBe(401);
    const doc = (await request(app).get("/api/openapi.json")).body as { paths: Record<string, { get?: { parameters: { name: string }[]; responses: Record<string, unknown> } }> };
    expect(doc.paths["/api/context"]?.get?.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(["email", "zendeskUserId", "externalId", "userId", "X-Ticket-Id"]));
    expect(Object.keys(doc.paths["/api/context"]?.get?.responses ?? {})).toEqual(expect.arrayContaining(["200", "400", "401", "403", "404"]));
    expect(doc.paths["/api/search"]?.get?.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(["q", "limit", "cursor"]));
  });
});
