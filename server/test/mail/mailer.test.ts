import { createHash } from "node:crypto";
import express from "express";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OutboxResponse } from "../../../shared/schemas/mail.js";
import { toAuditEntry } from "../../src/audit/auditRow.js";
import { MAIL_MAX_ATTEMPTS, deliverDueMail, retryDelayMs } from "../../src/mail/delivery.js";
import { demoOutboxRoutes } from "../../src/mail/demoOutbox.js";
import { enqueueMail } from "../../src/mail/outbox.js";
import { startServer } from "../../src/server.js";
import { WITHHELD } from "../../src/mail/mailSecrets.js";
import { act, createHarness, sessionOf, HARNESS_TIMEOUT_MS, type Harness } from "../actions/harness.js";
import { databaseKinds } from "../support/databases.js";
import { raisedBy } from "../support/tickets.js";
import { SmtpSink } from "./smtpSink.js";

/**
 * The customer mailer: mail queued in the action's transaction, delivered over real SMTP (smtp-server
 * on loopback), retried with backoff when the server refuses, every outcome audited as `mail.deliver`
 * with the mailer as actor and the ticket of the action that queued it. Demo mode holds mail instead.
 */
const outbox = (h: Harness, userId: string) => h.deps.database.db.selectFrom("mail_outbox").selectAll().where("user_id", "=", userId).orderBy("created_at").execute();

async function deliveries(h: Harness, userId: string) {
  const rows = await h.deps.database.db.selectFrom("audit_log").selectAll().where("action", "=", "mail.deliver").where("target_id", "=", userId).orderBy("seq").execute();
  return rows.map(toAuditEntry);
}

async function resetPassword(h: Harness, userId: string, ticketId: string) {
  // The seeded ticket, as raised by the user whose password is reset (every write is checked against its ticket).
  await raisedBy(h.deps, { type: "user", id: userId }, ticketId);
  const res = await act(h, "support_full", "user.password_reset", { target: { type: "user", id: userId }, ticketId });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { result: { mailId: string } };
}

describe.each(databaseKinds)("mailer on %s", (kind) => {
  const smtp = new SmtpSink();
  let h: Harness;
  beforeAll(async () => {
    await smtp.start();
    h = await createHarness(kind, { env: { SMTP_URL: smtp.url, MAIL_FROM: "Acme Support <support@acme.example>" } });
  }, HARNESS_TIMEOUT_MS);
  afterAll(async () => {
    await h?.close();
    await smtp.close();
  });

  it("sends the reset link over SMTP and audits the delivery with the action's ticket", async () => {
    const userId = "usr_demo_011_1";
    const { result } = await resetPassword(h, userId, "1101");
    expect((await outbox(h, userId)).map((m) => m.status)).toEqual(["queued"]);

    expect(await deliverDueMail(h.deps)).toEqual({ sent: 1, held: 0, retrying: 0, failed: 0 });
    const mail = smtp.received.at(-1);
    const user = await h.deps.database.db.selectFrom("users").select(["email", "name"]).where("id", "=", userId).executeTakeFirstOrThrow();
    expect(mail?.to).toEqual([user.email]);
    expect(mail?.from).toBe("support@acme.example");
    expect(mail?.subject).toBe("Reset your password");
    expect(mail?.text).toContain(`Hello ${user.name},`);
    expect(mail?.text).toContain("support ticket #1101");
    const token = /https:\/\/app\.example\.com\/reset-password\?token=([A-Za-z0-9_-]{43})\n/.exec(mail?.text ?? "")?.[1];
    expect(token, mail?.text).toBeDefined();
    const stored = await h.deps.database.db.selectFrom("password_reset_tokens").select("token_sha256").where("user_id", "=", userId).executeTakeFirstOrThrow();
    expect(stored.token_sha256).toBe(createHash("sha256").update(token as string).digest("hex"));

    const [row] = await outbox(h, userId);
    expect(row).toMatchObject({ id: result.mailId, status: "sent", attempts: 1, last_error: null });
    const [entry, ...more] = await deliveries(h, userId);
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ outcome: "succeeded", ticketId: "1101", actor: { system: "mailer", staffId: null }, target: { type: "user", id: userId, accountId: "acc_demo_011" } });
    expect(entry?.after).toMatchObject({ mailId: result.mailId, kind: "password_reset", to: user.email, attempt: 1, status: "sent" });
    // A second pass finds nothing due: each mail goes out once.
    expect(await deliverDueMail(h.deps)).toEqual({ sent: 0, held: 0, retrying: 0, failed: 0 });
  });

  it("keeps the action when the SMTP server refuses: retried with backoff, each failure audited, sent once it accepts", async () => {
    const userId = "usr_demo_011_2";
    smtp.rejecting = true;
    const sentBefore = smtp.received.length;
    await resetPassword(h, userId, "1102");
    expect((await h.deps.database.db.selectFrom("password_reset_tokens").select("id").where("user_id", "=", userId).execute()).length).toBe(1);

    expect(await deliverDueMail(h.deps)).toMatchObject({ sent: 0, retrying: 1 });
    let [row] = await outbox(h, userId);
    expect(row).toMatchObject({ status: "queued", attempts: 1 });
    expect(row?.last_error).toMatch(/550/);
    expect(row?.next_attempt_at.getTime()).toBe(h.deps.clock.now().getTime() + retryDelayMs(1));
    let audited = await deliveries(h, userId);
    expect(audited.map((e) => e.outcome)).toEqual(["failed"]);
    expect(audited[0]).toMatchObject({ ticketId: "1102", actor: { system: "mailer" } });
    expect(audited[0]?.error).toMatch(/550/);

    // Not due before its backoff has passed.
    h.deps.clock.advance(retryDelayMs(1) - 1_000);
    expect(await deliverDueMail(h.deps)).toMatchObject({ retrying: 0, sent: 0 });
    h.deps.clock.advance(1_000);
    expect(await deliverDueMail(h.deps)).toMatchObject({ retrying: 1 });
    [row] = await outbox(h, userId);
    expect(row).toMatchObject({ status: "queued", attempts: 2 });
    expect(row?.next_attempt_at.getTime()).toBe(h.deps.clock.now().getTime() + retryDelayMs(2));

    smtp.rejecting = false;
    h.deps.clock.advance(retryDelayMs(2));
    expect(await deliverDueMail(h.deps)).toMatchObject({ sent: 1 });
    [row] = await outbox(h, userId);
    expect(row).toMatchObject({ status: "sent", attempts: 3, last_error: null });
    expect(smtp.received.length - sentBefore).toBe(1);
    audited = await deliveries(h, userId);
    expect(audited.map((e) => [e.outcome, (e.after as { attempt: number }).attempt])).toEqual([
      ["failed", 1],
      ["failed", 2],
      ["succeeded", 3],
    ]);
  });

  it(`gives up after ${MAIL_MAX_ATTEMPTS} attempts and marks the mail failed`, async () => {
    const userId = "usr_demo_011_3";
    smtp.rejecting = true;
    await resetPassword(h, userId, "1103");
    for (let attempt = 1; attempt <= MAIL_MAX_ATTEMPTS; attempt++) {
      await deliverDueMail(h.deps);
      h.deps.clock.advance(retryDelayMs(attempt));
    }
    smtp.rejecting = false;
    expect(await deliverDueMail(h.deps)).toEqual({ sent: 0, held: 0, retrying: 0, failed: 0 });
    const [row] = await outbox(h, userId);
    expect(row).toMatchObject({ status: "failed", attempts: MAIL_MAX_ATTEMPTS });
    const audited = await deliveries(h, userId);
    expect(audited).toHaveLength(MAIL_MAX_ATTEMPTS);
    expect(audited.at(-1)?.after).toMatchObject({ status: "failed", attempt: MAIL_MAX_ATTEMPTS });
  });

  it("two delivery loops at once send each mail once", async () => {
    const userIds = ["usr_demo_018_1", "usr_demo_018_2", "usr_demo_018_3"];
    for (const id of userIds) {
      await h.deps.database.db.transaction().execute((trx) =>
        enqueueMail(trx, { to: `${id}@example.test`, subject: "Hello", bodyText: "Hi", kind: "test", accountId: "acc_demo_018", userId: id, ticketId: "1104", operationId: null }, h.deps.clock.now()),
      );
    }
    const before = smtp.received.length;
    const [a, b] = await Promise.all([deliverDueMail(h.deps), deliverDueMail(h.deps)]);
    expect(a.sent + b.sent).toBe(3);
    expect(smtp.received.slice(before).map((m) => m.to[0]).sort()).toEqual(userIds.map((id) => `${id}@example.test`).sort());
  });
});

describe("mailer in demo mode without SMTP", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness("pglite");
  }, HARNESS_TIMEOUT_MS);
  afterAll(() => h?.close());

  it("holds the mail and lists it at GET /api/demo/outbox for the local Zendesk page", async () => {
    const userId = "usr_demo_012_1";
    const { result } = await resetPassword(h, userId, "1201");
    expect(await deliverDueMail(h.deps)).toEqual({ sent: 0, held: 1, retrying: 0, failed: 0 });
    // The outbox needs a session, and never shows the link (a bearer secret).
    expect((await request(h.app).get("/api/demo/outbox")).status).toBe(401);
    const res = await request(h.app).get("/api/demo/outbox").set("Authorization", `Bearer ${await sessionOf(h, "support_read_only")}`);
    expect(res.status).toBe(200);
    const body = OutboxResponse.parse(res.body);
    const mail = body.mail.find((m) => m.id === result.mailId);
    expect(mail).toMatchObject({ kind: "password_reset", status: "held", subject: "Reset your password", ticketId: "1201", userId });
    expect(mail?.bodyText).not.toMatch(/token=/);
    expect(mail?.bodyText).toContain(WITHHELD);
    const [entry] = await deliveries(h, userId);
    expect(entry).toMatchObject({ outcome: "succeeded", ticketId: "1201", after: { status: "held" } });
  });

  it("outside demo mode, a missing SMTP_URL holds the mail and audits the delivery as failed", async () => {
    const userId = "usr_demo_012_2";
    await resetPassword(h, userId, "1202");
    const production = { ...h.deps, config: { ...h.deps.config, demo: false } };
    expect(await deliverDueMail(production, { transport: null })).toEqual({ sent: 0, held: 1, retrying: 0, failed: 0 });
    const [entry] = await deliveries(h, userId);
    expect(entry).toMatchObject({ outcome: "failed", error: "no SMTP_URL configured", ticketId: "1202" });
  });

  it("has no outbox endpoint outside demo mode", async () => {
    const production = express().use(demoOutboxRoutes({ ...h.deps, config: { ...h.deps.config, demo: false } }));
    expect((await request(production).get("/api/demo/outbox")).status).toBe(404);
    const session = `Bearer ${await sessionOf(h, "support_read_only")}`;
    expect((await request(express().use(demoOutboxRoutes(h.deps))).get("/api/demo/outbox").set("Authorization", session)).status).toBe(200);
  });
});

describe("mail delivery loop started by startServer", () => {
  const smtp = new SmtpSink();
  let h: Harness;
  beforeAll(async () => {
    await smtp.start();
    h = await createHarness("pglite", { env: { SMTP_URL: smtp.url, MAIL_POLL_MS: "50" } });
  }, HARNESS_TIMEOUT_MS);
  afterAll(() => smtp.close());

  it("delivers queued mail in the background and stops on shutdown", async () => {
    const running = await startServer(h.deps, { port: 0, host: "127.0.0.1" });
    try {
      await resetPassword(h, "usr_demo_019_1", "1301");
      const deadline = Date.now() + 10_000;
      while (smtp.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(smtp.received.map((m) => m.subject)).toEqual(["Reset your password"]);
    } finally {
      // Stops the loop, then closes the database.
      await running.close();
    }
  });
});
