import type { ChildProcess } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { toAuditEntry } from "../../src/audit/auditRow.js";
import { messageIdFor } from "../../src/mail/delivery.js";
import { enqueueMail } from "../../src/mail/outbox.js";
import { createTestDatabase } from "../support/databases.js";
import { sleep } from "../support/load.js";
import { spawnSteward } from "../support/stewardProcess.js";
import { SmtpSink } from "../mail/smtpSink.js";

/**
 * kill -9 of a real Steward process while it delivers mail to a real SMTP server on loopback. Once
 * after the server received a message but before its 250 got back (the lost-ack case), once before a
 * recipient was accepted. A restarted process delivers everything within about one lease: the only
 * duplicate is the lost-ack mail, with the same Message-ID, and the interrupted attempts are audited
 * as `unknown` (`mail.deliver`).
 */
const MAILS = 8;
const LEASE_MS = 2_000;
const FROM = "Acme Support <support@acme.example>";

describe("kill -9 during mail delivery", () => {
  const sink = new SmtpSink();
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it("delivers every mail after restart; a duplicate only when the ack was lost, and that is audited", async () => {
    const target = await createTestDatabase("postgres");
    cleanups.push(() => target.close());
    await sink.start();
    cleanups.push(() => sink.close());
    const mailIds: string[] = [];
    for (let i = 0; i < MAILS; i++) {
      const { id } = await target.db.transaction().execute((trx) =>
        enqueueMail(trx, { to: `customer${i}@example.test`, subject: `Notice ${i}`, bodyText: `Hello ${i}`, kind: "test", accountId: null, userId: null, ticketId: "4242", operationId: null }, new Date(Date.now() + i)),
      );
      mailIds.push(id);
    }
    const env = { DATABASE_URL: target.location, DEMO_SEED: "false", SMTP_URL: sink.url, MAIL_FROM: FROM, MAIL_POLL_MS: "100", MAIL_LEASE_MS: String(LEASE_MS) };
    const start = async (onSpawn?: (child: ChildProcess) => void) => {
      const p = await spawnSteward(env, { onSpawn, mayExitBeforeReady: onSpawn !== undefined });
      cleanups.push(async () => p.child.kill("SIGKILL"));
      return p;
    };

    // 1. Killed after the third message was received, before its ack: the lost-ack case.
    const firstChild: { child?: ChildProcess } = {};
    let lostAck: string | undefined;
    sink.beforeAck = async (mail) => {
      if (sink.received.length === 3 && !lostAck) {
        lostAck = mail.messageId;
        firstChild.child?.kill("SIGKILL");
        await sleep(200);
      }
    };
    const first = await start((child) => (firstChild.child = child));
    expect((await first.exited).signal).toBe("SIGKILL");
    sink.beforeAck = undefined;

    // 2. Killed as the next mail's recipient is offered: nothing of it was received.
    const recipientsBefore = sink.received.length;
    const restarted: { child?: ChildProcess } = {};
    sink.onRecipient = () => {
      // The restarted process first re-sends the lost-ack mail; kill on the recipient after that one.
      if (sink.received.length > recipientsBefore) restarted.child?.kill("SIGKILL");
    };
    const second = await start((child) => (restarted.child = child));
    expect((await second.exited).signal).toBe("SIGKILL");
    sink.onRecipient = undefined;

    // 3. A third process finishes the work: within about one lease, not five minutes.
    const third = await start();
    const restartedAt = Date.now();
    let sent = 0;
    while (Date.now() - restartedAt < 30_000) {
      sent = (await target.db.selectFrom("mail_outbox").select("id").where("status", "=", "sent").execute()).length;
      if (sent === MAILS) break;
      await sleep(100);
    }
    const allSentMs = Date.now() - restartedAt;
    third.child.kill("SIGTERM");
    await third.exited;

    expect(sent).toBe(MAILS);
    expect(allSentMs).toBeLessThan(LEASE_MS + 8_000);
    const expectedIds = mailIds.map((id) => messageIdFor(id, FROM));
    const copies = new Map<string, number>();
    for (const m of sink.received) copies.set(m.messageId, (copies.get(m.messageId) ?? 0) + 1);
    // Every mail arrived; only the lost-ack one twice (same Message-ID, so clients can fold it).
    expect([...copies.keys()].sort()).toEqual([...expectedIds].sort());
    expect(lostAck).toBeDefined();
    expect([...copies].filter(([, n]) => n > 1)).toEqual([[lostAck, 2]]);

    const audit = (await target.db.selectFrom("audit_log").selectAll().where("action", "=", "mail.deliver").orderBy("seq").execute()).map(toAuditEntry);
    const unknownFor = (messageId: string) => audit.filter((e) => e.outcome === "unknown" && (e.after as { messageId?: string }).messageId === messageId);
    // The duplicate is on the record: the interrupted attempt is audited as unknown before the resend.
    expect(unknownFor(lostAck as string)).toHaveLength(1);
    expect(unknownFor(lostAck as string)[0]).toMatchObject({ ticketId: "4242", actor: { system: "mailer" }, after: { status: "interrupted", attempt: 1 } });
    // Each mail ends with exactly one succeeded delivery entry.
    for (const id of mailIds) expect(audit.filter((e) => e.outcome === "succeeded" && (e.after as { mailId: string }).mailId === id)).toHaveLength(1);
    // Two kills, so at most two interrupted attempts; every unknown names a mail and the resend followed it.
    const unknown = audit.filter((e) => e.outcome === "unknown");
    expect(unknown.length).toBeGreaterThanOrEqual(1);
    expect(unknown.length).toBeLessThanOrEqual(2);
  }, 240_000);
});
