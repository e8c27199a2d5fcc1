import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { ExportLinkIssued, ExportLinkStatusView } from "../../../shared/schemas/console.js";
import { toAuditEntry } from "../../src/audit/auditRow.js";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import { systemClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config.js";
import { EXPORT_STALLED_AFTER_MS } from "../../src/console/exportLinks.js";
import { fillAuditLog } from "../support/auditFill.js";
import { createTestDatabase } from "../support/databases.js";
import { sleep } from "../support/load.js";
import { spawnSteward, type StewardProcess } from "../support/stewardProcess.js";

/**
 * kill -9 of a real Steward process while the browser downloads a console export through a link: a second
 * process on the same PostgreSQL database answers the link's status as `interrupted` (with the rows sent by
 * the last heartbeat) once the heartbeat is older than the bound, not `streaming` forever, and the audit log
 * gets one entry saying that export did not end as its first entry suggests.
 */
describe("kill -9 during a console export download", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it("a second process reports the export interrupted and audits it once", async () => {
    const target = await createTestDatabase("postgres");
    cleanups.push(() => target.close());
    const start = async () => {
      const p = await spawnSteward({ DATABASE_URL: target.location });
      cleanups.push(async () => p.child.kill("SIGKILL"));
      return p;
    };
    const first = await start();
    // Enough entries that the download is still going while this client holds back reading.
    await fillAuditLog(target.db, 20_000, { start: new Date(Date.now() - 86_400_000), stepMs: 1_000 });
    const { token } = await issueSessionToken({ config: loadConfig({}), clock: systemClock }, { staffId: "stf_demo_ops", zendeskUserId: "9003" });
    const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
    const status = async (p: StewardProcess, id: string) => {
      const res = await fetch(`${p.url}/api/console/export-links/${id}`, { headers });
      expect(res.status).toBe(200);
      return ExportLinkStatusView.parse(await res.json());
    };
    const until = async (what: string, read: () => Promise<ExportLinkStatusView>, check: (s: ExportLinkStatusView) => boolean) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const s = await read();
        if (check(s)) return s;
        if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(s)}`);
        await sleep(100);
      }
    };

    const issued = await fetch(`${first.url}/api/console/export-links`, { method: "POST", headers, body: JSON.stringify({ format: "ndjson" }) });
    expect(issued.status).toBe(201);
    const link = ExportLinkIssued.parse(await issued.json());
    const download = await fetch(`${first.url}${link.url}`);
    expect(download.status).toBe(200);
    const reader = (download.body as ReadableStream<Uint8Array>).getReader();
    for (let bytes = 0; bytes < 100_000; ) bytes += (await reader.read()).value?.length ?? Infinity;
    const streaming = await until("streaming with rows sent", () => status(first, link.id), (s) => s.state === "streaming" && s.rowsSent > 0);

    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    await reader.read().then(
      () => reader.cancel(),
      () => undefined,
    );
    const heartbeat = await target.db.selectFrom("console_export_links").select(["rows_sent", "progress_at"]).where("id", "=", link.id).executeTakeFirstOrThrow();

    const second = await start();
    // Instead of waiting out the bound (the boundary itself is tested in-process): the dead process's last heartbeat, moved back past it.
    await sql`update console_export_links set progress_at = progress_at - ${`${EXPORT_STALLED_AFTER_MS + 1_000} milliseconds`}::interval where id = ${link.id}`.execute(target.db);
    const interrupted = await status(second, link.id);
    expect(interrupted).toMatchObject({ state: "interrupted", total: streaming.total, rowsSent: heartbeat.rows_sent, error: expect.stringMatching(/^export_interrupted: /) });
    expect(interrupted.rowsSent).toBeGreaterThanOrEqual(streaming.rowsSent);
    expect(interrupted.rowsSent).toBeLessThan(interrupted.total ?? 0);
    expect(await status(second, link.id)).toEqual(interrupted);

    const entries = (await target.db.selectFrom("audit_log").selectAll().where("action", "=", "audit.export").orderBy("seq").execute()).map(toAuditEntry);
    const started = entries.find((e) => e.outcome === "succeeded" && (e.after as { format?: string }).format === "ndjson");
    expect(started).toBeDefined();
    // The started entry stays; one more says this export stopped, with how far it got.
    expect(entries.filter((e) => (e.after as { exportEntryId?: string }).exportEntryId === started?.id)).toEqual([
      expect.objectContaining({ outcome: "unknown", actor: expect.objectContaining({ staffId: "stf_demo_ops" }), after: expect.objectContaining({ exportEntryId: started?.id, rowsSent: heartbeat.rows_sent, cause: "interrupted" }), error: interrupted.error }),
    ]);
    second.child.kill("SIGTERM");
    await second.exited;
  }, 180_000);

  it("a header export (console and audit API) killed mid-stream is settled as interrupted by another process, once", async () => {
    const target = await createTestDatabase("postgres");
    cleanups.push(() => target.close());
    const first = await spawnSteward({ DATABASE_URL: target.location });
    cleanups.push(async () => first.child.kill("SIGKILL"));
    await fillAuditLog(target.db, 20_000, { start: new Date(Date.now() - 86_400_000), stepMs: 1_000 });
    const { token } = await issueSessionToken({ config: loadConfig({}), clock: systemClock }, { staffId: "stf_demo_ops", zendeskUserId: "9003" });
    const headers = { Authorization: `Bearer ${token}` };
    const streamRows = () => target.db.selectFrom("console_export_links").selectAll().where("token_hash", "is", null).orderBy("created_at").execute();

    // Both header routes at once in the same process; the client reads some of each and then holds back.
    const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
    for (const path of ["/api/console/export?format=ndjson", "/api/audit/export?format=csv"]) {
      const res = await fetch(`${first.url}${path}`, { headers });
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      for (let bytes = 0; bytes < 100_000; ) bytes += (await reader.read()).value?.length ?? Infinity;
      readers.push(reader);
    }
    const deadline = Date.now() + 20_000;
    while (!((await streamRows()).length === 2 && (await streamRows()).every((r) => r.rows_sent > 0 && r.export_entry_seq !== null))) {
      if (Date.now() > deadline) throw new Error(`header exports not streaming: ${JSON.stringify(await streamRows())}`);
      await sleep(100);
    }

    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    for (const reader of readers) await reader.read().then(() => reader.cancel(), () => undefined);
    const lastBeats = await streamRows();
    expect(lastBeats.map((r) => [r.staff_id, r.finished_at, r.interrupted])).toEqual([
      ["stf_demo_ops", null, false],
      ["stf_demo_ops", null, false],
    ]);

    // The second process's sweep finds them (nobody asks a header export's status); the heartbeat moved back past the bound.
    const second = await spawnSteward({ DATABASE_URL: target.location, SWEEP_INTERVAL_MS: "200" });
    cleanups.push(async () => second.child.kill("SIGKILL"));
    await sql`update console_export_links set progress_at = progress_at - ${`${EXPORT_STALLED_AFTER_MS + 1_000} milliseconds`}::interval where token_hash is null`.execute(target.db);
    for (const settleBy = Date.now() + 20_000; !(await streamRows()).every((r) => r.interrupted); await sleep(100)) {
      if (Date.now() > settleBy) throw new Error(`not settled: ${JSON.stringify(await streamRows())}`);
    }
    // A few more sweeps: still one follow-up each.
    await sleep(1_000);
    const entries = (await target.db.selectFrom("audit_log").selectAll().where("action", "=", "audit.export").orderBy("seq").execute()).map(toAuditEntry);
    for (const row of lastBeats) {
      const started = entries.find((e) => e.seq === row.export_entry_seq);
      expect(started).toMatchObject({ outcome: "succeeded", actor: { staffId: "stf_demo_ops" } });
      expect(entries.filter((e) => (e.after as { exportEntryId?: string }).exportEntryId === started?.id)).toEqual([
        expect.objectContaining({
          outcome: "unknown",
          after: expect.objectContaining({ exportEntryId: started?.id, rowsSent: row.rows_sent, cause: "interrupted" }),
          error: expect.stringMatching(new RegExp(`^export_interrupted: .* after at least ${row.rows_sent} entries were sent`)),
        }),
      ]);
    }
    // One of each route: the console's entry says so, the audit API's does not.
    expect(lastBeats.map((r) => (entries.find((e) => e.seq === r.export_entry_seq)?.after as { console?: boolean }).console ?? false).sort()).toEqual([false, true]);
    second.child.kill("SIGTERM");
    await second.exited;
  }, 180_000);
});
