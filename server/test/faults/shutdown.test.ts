import { createServer, type Server, type Socket } from "node:net";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import { systemClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import { enqueueMail } from "../../src/mail/outbox.js";
import { agent, writeEntry } from "../audit/fixtures.js";
import { createTestDatabase } from "../support/databases.js";
import { runLoad, sleep } from "../support/load.js";
import { spawnSteward } from "../support/stewardProcess.js";

/**
 * SIGTERM to a real Steward process under keep-alive load: from the moment it starts stopping no
 * request is served any more (refused with 503 or the connection closed), requests already running
 * finish with their real answer, a mail stuck on a silent SMTP server does not hold the exit, and
 * the process exits 0 within the grace period.
 */
const GRACE_MS = 5_000;

/** An SMTP server that accepts connections and never says a word: delivery hangs on it. */
function silentSmtp(): Promise<{ server: Server; url: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => undefined);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, sockets, url: `smtp://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

describe("shutdown on SIGTERM", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it("stops taking requests at once, finishes in-flight ones, and exits 0 within the grace period", async () => {
    const target = await createTestDatabase("postgres");
    cleanups.push(() => target.close());
    await target.db.transaction().execute((trx) =>
      enqueueMail(trx, { to: "someone@example.test", subject: "Hello", bodyText: "Hi", kind: "test", accountId: null, userId: null, ticketId: null, operationId: null }, new Date()),
    );
    const smtp = await silentSmtp();
    cleanups.push(async () => {
      for (const s of smtp.sockets) s.destroy();
      await new Promise((r) => smtp.server.close(r));
    });
    const steward = await spawnSteward({
      DATABASE_URL: target.location,
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      DATABASE_LOCK_TIMEOUT_MS: "20000",
      SMTP_URL: smtp.url,
      MAIL_POLL_MS: "100",
    });
    cleanups.push(async () => steward.child.kill("SIGKILL"));
    const { token } = await issueSessionToken({ config: loadConfig({}), clock: systemClock }, { staffId: "stf_demo_read", zendeskUserId: "9001" });

    let exited = false;
    void steward.exited.then(() => sleep(300).then(() => (exited = true)));
    const load = runLoad({ url: steward.url, path: "/api/session", token, concurrency: 6, until: () => exited });
    await sleep(1_500);
    // Requests in flight at the signal: waiting on this lock until it is released after the signal.
    const admin = new pg.Client({ connectionString: target.location });
    await admin.connect();
    cleanups.push(() => admin.end());
    await admin.query("begin");
    await admin.query("lock table staff in access exclusive mode");
    await sleep(400);
    const signalledAt = Date.now();
    steward.child.kill("SIGTERM");
    await sleep(1_000);
    await admin.query("commit");
    const exit = await steward.exited;
    const answers = await load;

    expect(exit.code, steward.log().slice(-2000)).toBe(0);
    expect(exit.at - signalledAt, `signalled ${new Date(signalledAt).toISOString()} exit ${new Date(exit.at).toISOString()}\n${steward.log().slice(-2500)}`).toBeLessThan(GRACE_MS);
    const drainLine = steward.logLines().find((l) => l.msg?.startsWith("shutting down"));
    expect(drainLine?.time).toBeDefined();
    const drainAt = Date.parse(String(drainLine?.time));

    const before = answers.filter((a) => a.sentAt < signalledAt - 500);
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((a) => a.status === 200)).toBe(true);
    // In flight when the stop began (waiting on the lock): they finish with their real answer.
    const inFlight = answers.filter((a) => a.sentAt < drainAt && a.doneAt > drainAt);
    expect(inFlight.length).toBeGreaterThan(0);
    expect(inFlight.map((a) => a.status)).toEqual(inFlight.map(() => 200));
    // Sent after the stop began: none served; refused with 503 shutting_down or the connection is gone.
    const late = answers.filter((a) => a.sentAt > drainAt);
    expect(late.length).toBeGreaterThan(0);
    expect(late.filter((a) => a.status === 200)).toEqual([]);
    for (const a of late) expect(a.status === 0 || (a.status === 503 && a.code === "shutting_down")).toBe(true);
    expect(steward.log()).not.toContain("grace period over");
  }, 180_000);

  it("exits within the grace period while an audit checkpoint endpoint never answers", async () => {
    const target = await createTestDatabase("postgres");
    cleanups.push(() => target.close());
    // One committed entry: the first seal round makes a checkpoint (every entry), and its export hangs.
    await appendAudit(target.db, writeEntry({ actor: agent(1) }), systemClock);
    const endpoint = await silentSmtp();
    cleanups.push(async () => {
      for (const s of endpoint.sockets) s.destroy();
      await new Promise((r) => endpoint.server.close(r));
    });
    const grace = 2_500;
    const steward = await spawnSteward({
      DATABASE_URL: target.location,
      DEMO_SEED: "false",
      SHUTDOWN_GRACE_MS: String(grace),
      AUDIT_CHECKPOINT_EVERY: "1",
      AUDIT_CHECKPOINT_URL: endpoint.url.replace("smtp:", "http:") + "/checkpoints",
    });
    cleanups.push(async () => steward.child.kill("SIGKILL"));
    for (let waited = 0; endpoint.sockets.size === 0 && waited < 20_000; waited += 50) await sleep(50);
    expect(endpoint.sockets.size, steward.log().slice(-2000)).toBeGreaterThan(0);
    // The POST is under way (it gives up only after 5 s): the stop must not wait for it.
    const signalledAt = Date.now();
    steward.child.kill("SIGTERM");
    const exit = await steward.exited;
    expect(exit.code, steward.log().slice(-2000)).toBe(0);
    expect(exit.at - signalledAt, steward.log().slice(-2000)).toBeLessThan(grace);
  }, 180_000);
});
