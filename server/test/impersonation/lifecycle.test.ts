import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import request from "supertest";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sealAndVerify } from "../support/auditKeys.js";
import { EventBuffer, ImpersonationKit, StewardApiError, StewardClient } from "../../../kit/src/index.js";
import { createApp } from "../../src/app.js";
import { sweepImpersonation } from "../../src/impersonation/sweep.js";
import { deliverDueMail } from "../../src/mail/delivery.js";
import { createMailTransport } from "../../src/mail/transport.js";
import { deliverDueNotes } from "../../src/zendesk/ticketNotes.js";
import { createZendeskClient } from "../../src/zendesk/zendeskClient.js";
import { act, auditOf, sessionOf, useHarness, versionOf } from "../actions/harness.js";
import { SmtpSink } from "../mail/smtpSink.js";
import { databaseKinds } from "../support/databases.js";
import { putTicket } from "../support/tickets.js";
import { forgetCachedTickets } from "../../src/zendesk/ticketVerification.js";
import { addProduct, endAllSessions, event, postEvents, redeem, start, status, stop, viewableUsers, type TestProduct } from "./support.js";
import { closedPort } from "../support/ports.js";

/**
 * A session's life after the start: status and heartbeat, idle and absolute timeouts on a manual
 * clock, events as audit entries credited to the agent, stop/revoke, the sweep (once across two
 * runners), agent deactivation and customer blocking, customer mail over real SMTP and internal notes
 * on the local Zendesk page's API.
 */
const MIN = 60_000;

describe.each(databaseKinds)("impersonation lifecycle on %s", (kind) => {
  let product: TestProduct;
  const smtp = new SmtpSink();
  beforeAll(() => smtp.start());
  afterAll(() => smtp.close());
  const h = useHarness(kind, {
    env: { IMPERSONATION_IDLE_MINUTES: "15" },
    arrange: async (harness) => {
      product = await addProduct(harness);
    },
  });
  beforeEach(() => endAllSessions(h));

  async function opened(role: "support_full" | "operations" | "admin", minutes = 30, offset = 0) {
    const [user] = await viewableUsers(h, 1, offset);
    const res = await start(h, role, user!.id, { minutes, productId: product.id, ticketId: "1003" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const { sessionId, grant } = res.body.result as { sessionId: string; grant: string };
    expect((await redeem(h, product, grant)).status).toBe(200);
    return { sid: sessionId, user: user! };
  }

  it("idle timeout: a heartbeat moves the idle deadline; without one the session ends at it", async () => {
    const { sid } = await opened("support_full");
    h.deps.clock.advance(10 * MIN);
    const beat = await status(h, product, sid, true);
    expect(beat.body).toMatchObject({ status: "live", remainingSeconds: 15 * 60 });
    h.deps.clock.advance(14 * MIN);
    expect((await status(h, product, sid)).body.status).toBe("live");
    h.deps.clock.advance(1 * MIN);
    const ended = await status(h, product, sid);
    expect(ended.body).toMatchObject({ status: "ended", endReason: "idle_timeout", remainingSeconds: 0 });
    const [entry] = (await auditOf(h.deps, "impersonation.expire")).filter((e) => JSON.stringify(e.after).includes(sid));
    expect(entry).toMatchObject({ outcome: "succeeded", actor: { system: "impersonation-sweep" }, ticketId: "1003" });
  });

  it("events reported after the idle deadline passed do not revive the session", async () => {
    const { sid } = await opened("support_full", 30, 10);
    h.deps.clock.advance(16 * MIN);
    // The sweep has not run yet: the product reports a request; the session is still due.
    expect((await postEvents(h, product, sid, [event()])).body).toMatchObject({ accepted: 1 });
    expect((await status(h, product, sid)).body).toMatchObject({ status: "ended", endReason: "idle_timeout" });
  });

  it("absolute timeout wins over heartbeats; the nearer deadline is the one the banner shows", async () => {
    const { sid } = await opened("support_full", 20);
    h.deps.clock.advance(10 * MIN);
    const beat = await status(h, product, sid, true);
    // Idle would be at 25 min, the absolute deadline at 20: the nearer one shows.
    expect(beat.body.endsAt).toBe(beat.body.absoluteDeadline);
    expect(beat.body.remainingSeconds).toBe(10 * 60);
    h.deps.clock.advance(9 * MIN);
    expect((await status(h, product, sid, true)).body.status).toBe("live");
    h.deps.clock.advance(1 * MIN);
    expect((await status(h, product, sid)).body).toMatchObject({ status: "ended", endReason: "absolute_timeout" });
  });

  it("events become audit entries credited to the agent with ticket and session ids; retries are not counted twice; after-end events are kept and flagged; the chain verifies", async () => {
    const { sid, user } = await opened("support_full");
    const batch = Array.from({ length: 50 }, (_, i) => event({ id: `b1-${i}`, route: "GET /projects/:id", object: `project:${i}` }));
    const first = await postEvents(h, product, sid, batch);
    expect(first.body).toEqual({ accepted: 50, duplicates: 0, afterEnd: 0, status: "live" });
    const again = await postEvents(h, product, sid, [...batch.slice(0, 2), event({ id: "b1-refused", method: "POST", route: "POST /projects", outcome: "refused", status: 403, detail: "read-only session" })]);
    expect(again.body).toMatchObject({ accepted: 1, duplicates: 2 });
    const entries = await auditOf(h.deps, "impersonation.event", user.id);
    expect(entries.filter((e) => (e.after as { sessionId: string }).sessionId === sid)).toHaveLength(51);
    for (const entry of entries) expect(entry).toMatchObject({ actor: { staffId: "stf_demo_full", email: "sam.support@steward-demo.test" }, ticketId: "1003" });
    expect(entries.at(-1)).toMatchObject({ outcome: "denied", error: "read-only session" });
    const current = await status(h, product, sid);
    expect(current.body).toMatchObject({ actionCount: 50, refusedCount: 1 });

    expect((await stop(h, "support_full", user.id, sid)).status).toBe(200);
    const late = await postEvents(h, product, sid, [event({ id: "late-1" })]);
    expect(late.body).toEqual({ accepted: 1, duplicates: 0, afterEnd: 1, status: "ended" });
    const stored = await h.deps.database.db.selectFrom("impersonation_events").select(["event_id", "after_end"]).where("session_id", "=", sid).where("event_id", "=", "late-1").executeTakeFirstOrThrow();
    expect(stored.after_end).toBe(true);
    expect((await auditOf(h.deps, "impersonation.event", user.id)).at(-1)!.after).toMatchObject({ afterEnd: true });
    expect(await sealAndVerify(h.deps.database.db)).toMatchObject({ ok: true });
    const bad = await postEvents(h, product, sid, [{ id: "x", method: "GET /projects", route: "", outcome: "maybe", occurredAt: "yesterday" }]);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(["body.events.0.method", "body.events.0.outcome"]));
  });

  it("event times outside the session's lifetime (30 s of clock skew) are refused: 400 naming the field, nothing written", async () => {
    const { sid } = await opened("support_full", 30, 19);
    const db = h.deps.database.db;
    const row = await db.selectFrom("impersonation_sessions").selectAll().where("id", "=", sid).executeTakeFirstOrThrow();
    const started = new Date(row.started_at).getTime();
    const absolute = new Date(row.absolute_deadline).getTime();
    const stateOf = async () => ({
      audit: (await auditOf(h.deps, "impersonation.event")).length,
      events: (await db.selectFrom("impersonation_events").select("event_id").where("session_id", "=", sid).execute()).length,
      session: await db.selectFrom("impersonation_sessions").select(["action_count", "refused_count", "idle_deadline"]).where("id", "=", sid).executeTakeFirstOrThrow(),
    });
    const before = await stateOf();
    const iso = (t: number) => new Date(t).toISOString();
    h.deps.clock.advance(MIN);
    const now = h.deps.clock.now().getTime();
    for (const occurredAt of ["9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", iso(now + 31_000), iso(started - 31_000)]) {
      const res = await postEvents(h, product, sid, [event(), event({ occurredAt })]);
      expect(res.status, occurredAt).toBe(400);
      expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "body.events.1.occurredAt" })]);
    }
    expect(await stateOf()).toEqual(before);
    // Within the skew either side: kept.
    expect((await postEvents(h, product, sid, [event({ occurredAt: iso(now + 29_000) }), event({ occurredAt: iso(started - 29_000) })])).body).toMatchObject({ accepted: 2 });

    // Ended (both deadlines passed): late reports are kept, but nothing after the absolute deadline the kit ends at.
    h.deps.clock.set(new Date(absolute + 5 * MIN));
    expect((await status(h, product, sid)).body).toMatchObject({ status: "ended" });
    const late = await postEvents(h, product, sid, [event({ occurredAt: iso(absolute + 31_000) })]);
    expect(late.status).toBe(400);
    expect(late.body.errors).toEqual([expect.objectContaining({ field: "body.events.0.occurredAt" })]);
    expect((await postEvents(h, product, sid, [event({ occurredAt: iso(absolute - MIN) })])).body).toMatchObject({ accepted: 1, afterEnd: 1 });
  });

  it("stop: the agent ends their own; another support agent is refused (audited); operations revoke anyone's", async () => {
    const { sid, user } = await opened("support_full");
    await h.deps.database.db.updateTable("impersonation_sessions").set({ staff_id: "stf_demo_read" }).where("id", "=", sid).execute();
    const refused = await stop(h, "support_full", user.id, sid);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("not_your_session");
    expect((await auditOf(h.deps, "impersonation.stop", user.id)).at(-1)).toMatchObject({ outcome: "denied" });
    const revoked = await stop(h, "operations", user.id, sid);
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect((await status(h, product, sid)).body).toMatchObject({ status: "ended", endReason: "admin_revoked" });
    expect((await stop(h, "operations", user.id, sid)).body.code).toBe("session_already_ended");
  });

  it("ending is never refused for a stale version: another agent's session on the same customer changed it since the sidebar loaded", async () => {
    const { sid, user } = await opened("support_full");
    const loaded = await versionOf(h.deps, { type: "user", id: user.id });
    // A second agent starts and ends a session on the same customer: each bumps the user's version.
    const other = await start(h, "operations", user.id, { productId: product.id, ticketId: "1003" });
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    expect((await stop(h, "operations", user.id, (other.body.result as { sessionId: string }).sessionId)).status).toBe(200);
    expect(await versionOf(h.deps, { type: "user", id: user.id })).toBeGreaterThan(loaded);
    const ended = await act(h, "support_full", "impersonation.stop", { target: { type: "user", id: user.id }, expectedVersion: loaded, reason: "Ended from the sidebar", input: { sessionId: sid } });
    expect(ended.status, JSON.stringify(ended.body)).toBe(200);
    expect((await status(h, product, sid)).body).toMatchObject({ status: "ended", endReason: "agent" });
    expect((await auditOf(h.deps, "impersonation.stop", user.id)).at(-1)).toMatchObject({ outcome: "succeeded" });
  });

  it("ending never depends on the ticket check: a closed ticket, a requester who no longer matches, Zendesk down; each end is audited with the ticket and the check's result", async () => {
    const checkOf = async (userId: string) => (await auditOf(h.deps, "impersonation.stop", userId)).map((e) => ({ outcome: e.outcome, ticketId: e.ticketId, check: (e.before as { ticketCheck?: unknown }).ticketCheck, match: e.ticketSnapshot?.match ?? null }));

    // The sidebar's stop, naming a ticket closed since (merging closes tickets).
    const a = await opened("support_full", 30, 15);
    const closed = await putTicket(h.deps, { status: "closed", requester: { email: a.user.email } });
    const stopped = await act(h, "support_full", "impersonation.stop", { target: { type: "user", id: a.user.id }, ticketId: closed, input: { sessionId: a.sid } });
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
    expect((await status(h, product, a.sid)).body).toMatchObject({ status: "ended", endReason: "agent" });
    expect(await checkOf(a.user.id)).toEqual([{ outcome: "succeeded", ticketId: closed, check: { passed: false, code: "ticket_closed", detail: expect.stringContaining("closed") }, match: "email" }]);

    // Operations revoke on a ticket whose requester is someone else now, with no override reason.
    const b = await opened("support_full", 30, 16);
    const other = await putTicket(h.deps, { requester: { email: "someone.else@elsewhere.test" } });
    const revoked = await act(h, "operations", "impersonation.stop", { target: { type: "user", id: b.user.id }, ticketId: other, input: { sessionId: b.sid } });
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect((await status(h, product, b.sid)).body).toMatchObject({ status: "ended", endReason: "admin_revoked" });
    expect(await checkOf(b.user.id)).toEqual([{ outcome: "succeeded", ticketId: other, check: { passed: false, code: "ticket_mismatch", detail: expect.stringContaining("someone.else@elsewhere.test") }, match: "unverified" }]);

    // The banner's End while Zendesk does not answer: credited to the agent, on the session's ticket.
    const c = await opened("support_full", 30, 17);
    const saved = { ZENDESK_API_URL: h.deps.config.ZENDESK_API_URL, zendeskApiUrl: h.deps.config.zendeskApiUrl };
    const nobody = `http://127.0.0.1:${await closedPort()}/api/v2`;
    Object.assign(h.deps.config, { ZENDESK_API_URL: nobody, zendeskApiUrl: nobody });
    forgetCachedTickets(h.deps.database);
    try {
      const ended = await request(h.app).post(`/api/impersonation/sessions/${c.sid}/end`).set("Authorization", `Bearer ${product.credential}`);
      expect(ended.status, JSON.stringify(ended.body)).toBe(200);
      expect(ended.body).toMatchObject({ status: "ended", endReason: "agent" });
    } finally {
      Object.assign(h.deps.config, saved);
    }
    expect(await checkOf(c.user.id)).toEqual([{ outcome: "succeeded", ticketId: "1003", check: { passed: false, code: "zendesk_unavailable", detail: expect.stringContaining("could not read ticket 1003") }, match: null }]);
    expect((await auditOf(h.deps, "impersonation.stop", c.user.id)).at(-1)!.actor).toMatchObject({ staffId: "stf_demo_full" });

    // Zendesk that accepts the connection and never answers: the end waits ENDS_ACCESS_TICKET_WAIT_MS, not the provider timeout.
    const e = await opened("support_full", 30, 12);
    const hanging = createServer(() => undefined);
    await new Promise<void>((ready) => hanging.listen(0, "127.0.0.1", ready));
    const silent = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/api/v2`;
    const kept = { ZENDESK_API_URL: h.deps.config.ZENDESK_API_URL, zendeskApiUrl: h.deps.config.zendeskApiUrl, PROVIDER_TIMEOUT_MS: h.deps.config.PROVIDER_TIMEOUT_MS, ENDS_ACCESS_TICKET_WAIT_MS: h.deps.config.ENDS_ACCESS_TICKET_WAIT_MS };
    Object.assign(h.deps.config, { ZENDESK_API_URL: silent, zendeskApiUrl: silent, PROVIDER_TIMEOUT_MS: 10_000, ENDS_ACCESS_TICKET_WAIT_MS: 300 });
    forgetCachedTickets(h.deps.database);
    try {
      const began = Date.now();
      const ended = await stop(h, "support_full", e.user.id, e.sid);
      expect(ended.status, JSON.stringify(ended.body)).toBe(200);
      // Well under the 10 s provider timeout the read alone would have waited.
      expect(Date.now() - began).toBeLessThan(4_000);
    } finally {
      Object.assign(h.deps.config, kept);
      hanging.closeAllConnections();
      hanging.close();
    }
    expect((await status(h, product, e.sid)).body).toMatchObject({ status: "ended", endReason: "agent" });
    expect(await checkOf(e.user.id)).toEqual([{ outcome: "succeeded", ticketId: expect.any(String), check: { passed: false, code: "zendesk_unavailable", detail: expect.stringContaining("did not answer within 300 ms") }, match: null }]);

    // A check that passes is recorded as such.
    const d = await opened("support_full", 30, 18);
    expect((await stop(h, "support_full", d.user.id, d.sid)).status).toBe(200);
    expect(await checkOf(d.user.id)).toEqual([{ outcome: "succeeded", ticketId: expect.any(String), check: { passed: true }, match: "email" }]);
    expect(await sealAndVerify(h.deps.database.db)).toMatchObject({ ok: true });
  });

  it("the sweep ends a due session once even with two runners; agent deactivation and customer blocking end sessions", async () => {
    const a = await opened("support_full", 30, 1);
    h.deps.clock.advance(16 * MIN);
    const reports = await Promise.all([sweepImpersonation(h.deps), sweepImpersonation(h.deps)]);
    expect(reports.reduce((n, r) => n + r.ended, 0)).toBe(1);
    const ends = (await auditOf(h.deps, "impersonation.expire")).filter((e) => JSON.stringify(e.after).includes(a.sid) && e.outcome === "succeeded");
    expect(ends).toHaveLength(1);
    const endMails = await h.deps.database.db.selectFrom("mail_outbox").select("id").where("user_id", "=", a.user.id).where("kind", "=", "impersonation_ended").execute();
    expect(endMails).toHaveLength(1);

    const b = await opened("operations", 30, 2);
    await h.deps.database.db.updateTable("staff").set({ active: false }).where("id", "=", "stf_demo_ops").execute();
    try {
      expect((await sweepImpersonation(h.deps)).ended).toBe(1);
    } finally {
      await h.deps.database.db.updateTable("staff").set({ active: true }).where("id", "=", "stf_demo_ops").execute();
    }
    expect((await status(h, product, b.sid)).body.endReason).toBe("staff_deactivated");

    const c = await opened("admin", 30, 3);
    await h.deps.database.db.updateTable("users").set({ blocked: true }).where("id", "=", c.user.id).execute();
    try {
      // The product's status check ends it at once, without waiting for the sweep.
      expect((await status(h, product, c.sid)).body).toMatchObject({ status: "ended", endReason: "target_changed" });
    } finally {
      await h.deps.database.db.updateTable("users").set({ blocked: false }).where("id", "=", c.user.id).execute();
    }
  });

  it("an agent demoted below the session's mode loses it: by the sweep, and at once on the product's status check", async () => {
    // Operations opens full access, then is demoted to support_full (which may only view read-only).
    const [user] = await viewableUsers(h, 1, 7);
    const res = await start(h, "operations", user!.id, { mode: "full", productId: product.id, ticketId: "1003" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const { sessionId: sid, grant } = res.body.result as { sessionId: string; grant: string };
    expect((await redeem(h, product, grant)).status).toBe(200);
    await h.deps.database.db.updateTable("staff").set({ panel_role: "support_full" }).where("id", "=", "stf_demo_ops").execute();
    try {
      expect((await status(h, product, sid)).body).toMatchObject({ status: "ended", endReason: "staff_deactivated" });
    } finally {
      await h.deps.database.db.updateTable("staff").set({ panel_role: "operations" }).where("id", "=", "stf_demo_ops").execute();
    }
    // A read-only session of an agent demoted to support_read_only: the sweep finds it with no product asking.
    const b = await opened("support_full", 30, 8);
    await h.deps.database.db.updateTable("staff").set({ panel_role: "support_read_only" }).where("id", "=", "stf_demo_full").execute();
    try {
      expect((await sweepImpersonation(h.deps)).ended).toBe(1);
    } finally {
      await h.deps.database.db.updateTable("staff").set({ panel_role: "support_full" }).where("id", "=", "stf_demo_full").execute();
    }
    expect((await status(h, product, b.sid)).body).toMatchObject({ status: "ended", endReason: "staff_deactivated" });
    // A session whose agent keeps a role that allows its mode goes on.
    const c = await opened("admin", 30, 9);
    expect((await sweepImpersonation(h.deps)).ended).toBe(0);
    expect((await status(h, product, c.sid)).body.status).toBe("live");
  });

  it("a provider operation of unknown outcome on the customer's account does not keep a session open: revoke and the sweep still end it", async () => {
    const a = await opened("support_full", 30, 13);
    const b = await opened("operations", 30, 14);
    const now = h.deps.clock.now();
    const open = [a, b].map((s, i) => ({ operation_id: `op_qa_open_${kind}_${i}`, action: "billing.credit_apply", target_type: "account" as const, target_id: s.user.account_id, account_id: s.user.account_id, key_owner: "stf_demo_full", idempotency_key: null, provider_key: `qa-open-${kind}-${i}`, request: JSON.stringify({}), provider_before: null, status: "needs_review" as const, lease_expires_at: now, next_attempt_at: now, last_error: "timed out", created_at: now, closed_at: null }));
    await h.deps.database.db.insertInto("provider_operations").values(open).execute();
    try {
      const revoked = await stop(h, "operations", a.user.id, a.sid);
      expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
      h.deps.clock.advance(31 * MIN);
      await sweepImpersonation(h.deps);
      expect((await status(h, product, b.sid)).body).toMatchObject({ status: "ended", endReason: "idle_timeout" });
    } finally {
      await h.deps.database.db.deleteFrom("provider_operations").where("operation_id", "in", open.map((o) => o.operation_id)).execute();
    }
  });

  it("customer mail: start and end notices over real SMTP exactly once each; admins turn notices off (audited)", async () => {
    const transport = createMailTransport({ SMTP_URL: smtp.url });
    const { sid, user } = await opened("support_full", 30, 4);
    expect((await stop(h, "support_full", user.id, sid)).status).toBe(200);
    await deliverDueMail(h.deps, { transport });
    await deliverDueMail(h.deps, { transport });
    const mine = smtp.received.filter((m) => m.to.includes(user.email));
    expect(mine.map((m) => m.subject).sort()).toEqual(["Our support team has finished viewing your account (ticket #1003)", "Our support team is viewing your account (ticket #1003)"]);
    expect(mine.find((m) => m.subject.includes("finished"))!.text).toMatch(/No changes were made in your account; 0 pages or items were viewed\./);

    const denied = await request(h.app).put("/api/impersonation/settings").set("Authorization", `Bearer ${await sessionOf(h, "operations")}`).send({ customerNotices: false, reason: "trying" });
    expect(denied.status).toBe(403);
    const off = await request(h.app).put("/api/impersonation/settings").set("Authorization", `Bearer ${await sessionOf(h, "admin")}`).send({ customerNotices: false, reason: "Legal asked us to pause notices" });
    expect(off.body).toEqual({ customerNotices: false, changed: true });
    expect((await auditOf(h.deps, "impersonation.notices_change")).at(-1)).toMatchObject({ outcome: "succeeded", before: { customerNotices: true }, after: { customerNotices: false } });
    const quiet = await opened("support_full", 30, 5);
    expect(await h.deps.database.db.selectFrom("mail_outbox").select("id").where("user_id", "=", quiet.user.id).where("kind", "like", "impersonation_%").execute()).toHaveLength(0);
    await request(h.app).put("/api/impersonation/settings").set("Authorization", `Bearer ${await sessionOf(h, "admin")}`).send({ customerNotices: true, reason: "Notices back on" });
    transport?.close();
  });

  it("the end mail says what was changed apart from what was viewed: a view-only session does not sound like changes", async () => {
    const endMail = async (userId: string) => (await h.deps.database.db.selectFrom("mail_outbox").select("body_text").where("user_id", "=", userId).where("kind", "=", "impersonation_ended").executeTakeFirstOrThrow()).body_text;
    const viewed = await opened("support_full", 30, 20);
    const views = [event(), event({ route: "GET /projects/:id" }), event({ method: "HEAD" }), event({ outcome: "failed", status: 404 }), event({ method: "POST", route: "POST /projects", outcome: "refused", status: 403, detail: "read-only session" })];
    expect((await postEvents(h, product, viewed.sid, views)).body).toMatchObject({ accepted: 5 });
    expect((await stop(h, "support_full", viewed.user.id, viewed.sid)).status).toBe(200);
    const quiet = await endMail(viewed.user.id);
    expect(quiet).toContain("No changes were made in your account; 4 pages or items were viewed.");
    expect(quiet).toContain("1 other attempt was refused or did not succeed.");
    expect(quiet).not.toMatch(/actions? recorded/);

    const changed = await opened("operations", 30, 21);
    const writes = [event(), event({ method: "POST", route: "POST /projects", status: 201 }), event({ method: "PATCH", route: "PATCH /projects/:id" }), event({ method: "DELETE", route: "DELETE /projects/:id", outcome: "failed", status: 500 })];
    expect((await postEvents(h, product, changed.sid, writes)).body).toMatchObject({ accepted: 4 });
    expect((await stop(h, "operations", changed.user.id, changed.sid)).status).toBe(200);
    const busy = await endMail(changed.user.id);
    expect(busy).toContain("2 changes were made in your account, and 1 page or item was viewed.");
    expect(busy).toContain("1 other attempt was refused or did not succeed.");
  });

  it("the kit's batches stay under Steward's body limit: 50 events naming long non-Latin objects all become audit entries", async () => {
    const server = createApp(h.deps).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const { sid, user } = await opened("support_full", 30, 11);
      const buffer = new EventBuffer(new StewardClient({ stewardUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, credential: product.credential }), { flushIntervalMs: 60_000 });
      // Within the field limits, but Japanese: 3 bytes a character in UTF-8, so 50 such events pass 64 KiB.
      for (let i = 0; i < 50; i++) buffer.add(sid, { id: `big-${i}`, method: "GET", route: `GET /projects/:id/${"文書".repeat(140)}`, object: `project:${"名前".repeat(145)}${i}`, outcome: "succeeded", status: 200, detail: null, occurredAt: h.deps.clock.now().toISOString() });
      await buffer.flush(sid);
      buffer.close();
      expect((await auditOf(h.deps, "impersonation.event", user.id)).filter((e) => (e.after as { sessionId: string }).sessionId === sid)).toHaveLength(50);
    } finally {
      server.close();
    }
  });

  it("the kit takes an event Steward refuses for its time out of the batch: the others are recorded, one loss report names it, nothing twice", async () => {
    const server = createApp(h.deps).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const errors: unknown[] = [];
    const kit = new ImpersonationKit({ stewardUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, credential: product.credential, events: { flushIntervalMs: 60_000 }, onError: (err) => errors.push(err) });
    try {
      const db = h.deps.database.db;
      const recorded = async (sid: string, userId: string) => {
        const audit = (await auditOf(h.deps, "impersonation.event", userId)).map((e) => e.after as { sessionId: string; eventId: string; route: string; detail: string | null; occurredAt: string }).filter((a) => a.sessionId === sid);
        const rows = await db.selectFrom("impersonation_events").select("event_id").where("session_id", "=", sid).execute();
        expect(rows.map((r) => r.event_id).sort()).toEqual(audit.map((a) => a.eventId).sort());
        expect(new Set(audit.map((a) => a.eventId)).size).toBe(audit.length);
        return { audit, reports: audit.filter((a) => a.route.startsWith("kit: ")) };
      };
      const record = (sid: string, route: string, occurredAt: string) => kit.record(sid, { method: "GET", route, object: null, outcome: "succeeded", status: 200, detail: null, occurredAt });
      const iso = (t: number) => new Date(t).toISOString();

      // One event of five dated 10 minutes ahead (the product's clock jumped).
      const one = await opened("support_full", 30, 22);
      const now = h.deps.clock.now().getTime();
      for (let i = 0; i < 5; i++) record(one.sid, `GET /one/${i}`, iso(i === 2 ? now + 10 * MIN : now));
      await kit.flush();
      const first = await recorded(one.sid, one.user.id);
      expect(first.audit.filter((a) => !a.route.startsWith("kit: ")).map((a) => a.route).sort()).toEqual(["GET /one/0", "GET /one/1", "GET /one/3", "GET /one/4"]);
      expect(first.reports).toHaveLength(1);
      expect(first.reports[0]!.detail).toContain("GET /one/2");
      expect(first.reports[0]!.detail).toContain(iso(now + 10 * MIN));
      expect(errors).toEqual([expect.objectContaining({ status: 400 })]);
      expect(errors[0]).toBeInstanceOf(StewardApiError);

      // Two bad events in one batch (before the start, and ahead): both named by one report.
      await endAllSessions(h);
      const two = await opened("support_full", 30, 23);
      const started = new Date((await db.selectFrom("impersonation_sessions").select("started_at").where("id", "=", two.sid).executeTakeFirstOrThrow()).started_at).getTime();
      for (let i = 0; i < 6; i++) record(two.sid, `GET /two/${i}`, iso(i === 1 ? started - 5 * MIN : i === 4 ? now + 5 * MIN : now));
      await kit.flush();
      const second = await recorded(two.sid, two.user.id);
      expect(second.audit.filter((a) => !a.route.startsWith("kit: ")).map((a) => a.route).sort()).toEqual(["GET /two/0", "GET /two/2", "GET /two/3", "GET /two/5"]);
      expect(second.reports).toHaveLength(1);
      expect(second.reports[0]!.detail).toContain("GET /two/1");
      expect(second.reports[0]!.detail).toContain("GET /two/4");

      // A batch of only the bad event, from a kit that never had one stored: the report still needs a time
      // Steward accepts (the session's start, as Steward told the kit).
      const other = new ImpersonationKit({ stewardUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, credential: product.credential, events: { flushIntervalMs: 60_000 } });
      await other.lookup(two.sid);
      other.record(two.sid, { method: "GET", route: "GET /two/alone", object: null, outcome: "succeeded", status: 200, detail: null, occurredAt: iso(now + 20 * MIN) });
      await other.close();
      const third = await recorded(two.sid, two.user.id);
      expect(third.reports).toHaveLength(2);
      expect(third.reports.filter((r) => r.detail?.includes("GET /two/alone"))).toHaveLength(1);
      expect(third.audit.some((a) => a.route === "GET /two/alone")).toBe(false);
      expect(third.reports.find((r) => r.detail?.includes("GET /two/alone"))?.occurredAt).toBe(iso(started));
    } finally {
      await kit.close();
      server.close();
    }
  });

  it("the start note names the idle limit as configured, and no idle limit when the session is shorter than it", async () => {
    const noteOf = async (sid: string) => (await h.deps.database.db.selectFrom("ticket_notes").select("body").where("session_id", "=", sid).where("kind", "=", "impersonation_started").executeTakeFirstOrThrow()).body;
    const long = await opened("support_full", 30, 7);
    expect(await noteOf(long.sid)).toMatch(/ends at \d{1,2} \w{3,4} \d{4}, \d{2}:\d{2} UTC at the latest, or after 15 minutes without activity in the product\.$/);
    // Readable, in the zone it names: the session's time limit, 30 minutes after the start, at minute precision.
    const deadline = new Date(h.deps.clock.now().getTime() + 30 * MIN);
    const hhmm = `${String(deadline.getUTCHours()).padStart(2, "0")}:${String(deadline.getUTCMinutes()).padStart(2, "0")}`;
    expect(await noteOf(long.sid)).toContain(`ends at ${deadline.getUTCDate()} ${deadline.toLocaleString("en-GB", { month: "short", timeZone: "UTC" })} ${deadline.getUTCFullYear()}, ${hhmm} UTC`);
    await stop(h, "support_full", long.user.id, long.sid);
    // 5 minutes: the idle deadline at the start is the time limit; "after 5 idle minutes" would misstate the idle rule.
    const short = await opened("support_full", 5, 7);
    const note = await noteOf(short.sid);
    expect(note).toMatch(/ends at \d{1,2} \w{3,4} \d{4}, \d{2}:\d{2} UTC at the latest\.$/);
    expect(note).not.toContain("idle");
  });

  it("a session of seconds reads about 1 minute in both the ticket's end note and the customer's mail", async () => {
    const db = h.deps.database.db;
    const { sid, user } = await opened("support_full", 30, 7);
    const endedMail = () => db.selectFrom("mail_outbox").select(["id", "body_text"]).where("user_id", "=", user.id).where("kind", "=", "impersonation_ended").execute();
    const mailBefore = new Set((await endedMail()).map((m) => m.id));
    h.deps.clock.advance(20_000);
    expect((await stop(h, "support_full", user.id, sid)).status).toBe(200);
    const note = await db.selectFrom("ticket_notes").select("body").where("session_id", "=", sid).where("kind", "=", "impersonation_ended").executeTakeFirstOrThrow();
    expect(note.body).toContain("Duration: about 1 min;");
    const mail = (await endedMail()).filter((m) => !mailBefore.has(m.id));
    expect(mail).toHaveLength(1);
    expect(mail[0]!.body_text).toContain("It lasted about 1 minute.");
  });

  it("internal notes on start and end (also on timeout) reach the ticket through the Zendesk API", async () => {
    const server = createApp(h.deps).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const client = createZendeskClient({ ...h.deps.config, zendeskApiUrl: `${base}/zendesk/api/v2` });
      await deliverDueNotes(h.deps, { client });
      const { sid } = await opened("support_full", 30, 6);
      h.deps.clock.advance(31 * MIN);
      await sweepImpersonation(h.deps);
      const report = await deliverDueNotes(h.deps, { client });
      expect(report.sent).toBeGreaterThanOrEqual(2);
      const notes = (await request(base).get("/zendesk/api/tickets/1003/notes")).body.notes as { body: string }[];
      const ours = notes.filter((n) => n.body.includes(sid));
      expect(ours).toHaveLength(2);
      expect(ours[0]!.body).toContain("started viewing the product");
      expect(ours[1]!.body).toMatch(/ended (at its time limit|after the idle timeout)/);
      expect((await auditOf(h.deps, "zendesk.note_add")).filter((e) => JSON.stringify(e.after).includes(sid)).map((e) => e.outcome)).toEqual(["succeeded", "succeeded"]);
    } finally {
      server.close();
    }
  });
});
