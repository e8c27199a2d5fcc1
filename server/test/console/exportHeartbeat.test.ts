import type { Server } from "node:http";
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExportLinkIssued, ExportLinkStatusView } from "../../../shared/schemas/console.js";
import { createApp } from "../../src/app.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import { toAuditEntry } from "../../src/audit/auditRow.js";
import type { ManualClock } from "../../src/clock.js";
import { EXPORT_STALLED_AFTER_MS, finishExportLink, recordExportProgress, recordExportStart, redeemExportLink, settleStalledExports } from "../../src/console/exportLinks.js";
import type { AppDeps } from "../../src/deps.js";
import { runSweeps } from "../../src/sweeps/runSweeps.js";
import { HOOK_TIMEOUT } from "../audit/fixtures.js";
import { bearerFor, demoActor } from "../audit/http.js";
import { fillAuditLog } from "../support/auditFill.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";

const ENTRIES = 20_000;

/**
 * A console export link's progress while it streams, and its heartbeat: a streaming export writes rows so far
 * every second even when no rows move (a slow client), so a stream whose process died shows as `interrupted`
 * to any process once its heartbeat is EXPORT_STALLED_AFTER_MS old, and the audit log says that export stopped.
 * The slow stream is a client that stops reading: the server waits on the socket, deterministically.
 */
describe.each(databaseKinds)("console export link heartbeat on %s", (kind) => {
  let deps: AppDeps & { clock: ManualClock };
  let app: Express;
  let server: Server;
  let base: string;
  let ops: string;

  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: true });
    await fillAuditLog(deps.database.db, ENTRIES, { start: new Date(deps.clock.now().getTime() - 86_400_000), stepMs: 1_000 });
    app = createApp(deps);
    ops = await bearerFor(deps, "operations");
    server = app.listen(0, "127.0.0.1");
    await new Promise<void>((ready) => server.once("listening", () => ready()));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    await deps?.database.close();
  }, HOOK_TIMEOUT);

  const issue = async (body: Record<string, string>) => ExportLinkIssued.parse((await request(app).post("/api/console/export-links").set("Authorization", ops).send(body).expect(201)).body);
  const status = async (id: string) => ExportLinkStatusView.parse((await request(app).get(`/api/console/export-links/${id}`).set("Authorization", ops).expect(200)).body);
  const linkRow = (id: string) => deps.database.db.selectFrom("console_export_links").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const exportEntries = async () => (await deps.database.db.selectFrom("audit_log").selectAll().where("action", "=", "audit.export").orderBy("seq").execute()).map(toAuditEntry);
  const followUpsOf = async (startedId: string) => (await exportEntries()).filter((e) => (e.after as { exportEntryId?: string }).exportEntryId === startedId);
  /** Waits (polling, bounded) until `check` holds: the heartbeat is a real one-second timer. */
  const until = async <T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, ms = 15_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await read();
      if (check(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const readBytes = async (reader: ReadableStreamDefaultReader<Uint8Array>, bytes: number) => {
    for (let got = 0; got < bytes; ) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error("the export ended early");
      got += chunk.value.length;
    }
  };

  it("reports rows so far while a slow client reads, and keeps its heartbeat while no rows move", async () => {
    const link = await issue({ format: "ndjson" });
    const res = await fetch(`${base}${link.url}`);
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    try {
      await readBytes(reader, 100_000);
      // The client stops reading: the server waits on the socket with some rows sent.
      const first = await until("streaming with rows sent", () => status(link.id), (s) => s.state === "streaming" && s.rowsSent > 0);
      expect(first.total).toBeGreaterThanOrEqual(ENTRIES);
      expect(first.rowsSent).toBeLessThan(first.total ?? 0);

      // No rows move for longer than the bound; the heartbeat still writes, so the stream is not taken for dead.
      deps.clock.advance(EXPORT_STALLED_AFTER_MS + 5_000);
      const now = deps.clock.now().getTime();
      await until("a heartbeat at the advanced time", () => linkRow(link.id), (row) => row.progress_at?.getTime() === now);
      expect(await status(link.id)).toMatchObject({ state: "streaming", error: null });

      // The client reads on: more rows, still streaming.
      await readBytes(reader, 3_000_000);
      const more = await until("more rows sent", () => status(link.id), (s) => s.rowsSent > first.rowsSent);
      expect(more.state).toBe("streaming");
      expect(more.rowsSent).toBeLessThan(more.total ?? 0);

      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read());
      const done = await until("complete", () => status(link.id), (s) => s.state !== "streaming");
      expect(done).toMatchObject({ state: "complete", rowsSent: done.total, error: null });
      // One entry for this export: it completed, nothing says otherwise.
      const row = await linkRow(link.id);
      const started = (await exportEntries()).find((e) => e.seq === row.export_entry_seq);
      expect(started).toMatchObject({ outcome: "succeeded", after: { format: "ndjson", total: done.total } });
      expect(await followUpsOf(started?.id ?? "")).toEqual([]);
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }, 60_000);

  /** What a process that died mid-stream leaves: a used link, its started entry, and a last heartbeat with rows sent. */
  const leftByDeadProcess = async (rowsSent: number) => {
    const issued = await issue({ format: "csv", ticketId: "100007" });
    const token = issued.url.split("/").at(-1) as string;
    const link = await redeemExportLink(deps.database.db, token, deps.clock.now());
    const started = await deps.database.db.transaction().execute(async (trx) => {
      const entry = await appendAudit(trx, { actor: demoActor("operations"), action: "audit.export", target: { type: "audit", id: null, accountId: null }, ticketId: "7009", after: { console: true, filters: { ticketId: "100007" }, format: "csv", throughSeq: 1, total: 5000 }, outcome: "succeeded" }, deps.clock);
      await recordExportStart(trx, link.id, { total: 5000, exportEntrySeq: entry.seq, at: deps.clock.now() });
      return entry;
    });
    expect(await recordExportProgress(deps.database.db, link.id, { rowsSent, at: deps.clock.now() })).toBe(true);
    return { id: link.id, started };
  };

  it("answers interrupted once the heartbeat is older than the bound, and audits once that the export stopped", async () => {
    const dead = await leftByDeadProcess(1234);
    deps.clock.advance(EXPORT_STALLED_AFTER_MS - 1_000);
    expect(await status(dead.id)).toMatchObject({ state: "streaming", rowsSent: 1234 });
    expect(await followUpsOf(dead.started.id)).toEqual([]);

    deps.clock.advance(2_000);
    const seen = await status(dead.id);
    expect(seen).toMatchObject({ state: "interrupted", total: 5000, rowsSent: 1234, error: expect.stringMatching(/^export_interrupted: .* after at least 1234 entries were sent; the file is most likely incomplete$/) });
    const [followUp, ...more] = await followUpsOf(dead.started.id);
    expect(more).toEqual([]);
    // Unknown, not failed: how much reached the client is not known, only that the export did not end as recorded.
    expect(followUp).toMatchObject({
      outcome: "unknown",
      actor: { staffId: "stf_demo_ops", panelRole: "operations" },
      ticketId: "7009",
      after: { console: true, filters: { ticketId: "100007" }, format: "csv", throughSeq: 1, total: 5000, exportEntryId: dead.started.id, rowsSent: 1234, cause: "interrupted" },
      error: seen.error,
    });

    // Asked again, swept, or a late write from a process that was only stalled: still one entry, still interrupted.
    expect(await status(dead.id)).toEqual(seen);
    await runSweeps(deps);
    expect(await recordExportProgress(deps.database.db, dead.id, { rowsSent: 2000, at: deps.clock.now() })).toBe(false);
    // Nor does a process that was still counting start the export (its entry would roll back with this answer).
    expect(await recordExportStart(deps.database.db, dead.id, { total: 5000, exportEntrySeq: dead.started.seq, at: deps.clock.now() })).toBe(false);
    expect(await status(dead.id)).toEqual(seen);
    expect(await followUpsOf(dead.started.id)).toHaveLength(1);
  });

  it("settles a stopped export in the sweep when nobody asks its link's status", async () => {
    const dead = await leftByDeadProcess(77);
    deps.clock.advance(EXPORT_STALLED_AFTER_MS + 1_000);
    await runSweeps(deps);
    expect(await followUpsOf(dead.started.id)).toEqual([expect.objectContaining({ outcome: "unknown", after: expect.objectContaining({ rowsSent: 77, cause: "interrupted" }) })]);
    expect((await linkRow(dead.id)).interrupted).toBe(true);
    expect(await status(dead.id)).toMatchObject({ state: "interrupted", rowsSent: 77 });
  });

  it("cuts a live stream another process settled as interrupted, and does not audit its end twice", async () => {
    // A server of its own, so its connection count is this download's alone (others' keep-alive sockets stay open).
    const own: Server = app.listen(0, "127.0.0.1");
    await new Promise<void>((ready) => own.once("listening", () => ready()));
    const link = await issue({ format: "ndjson" });
    const res = await fetch(`http://127.0.0.1:${(own.address() as { port: number }).port}${link.url}`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    try {
      await readBytes(reader, 100_000);
      const row = await until("started", () => linkRow(link.id), (r) => r.export_entry_seq !== null);
      // Another process whose clock reads past the bound (this one stalled, as far as it can tell) settles it.
      const later = { now: () => new Date(deps.clock.now().getTime() + EXPORT_STALLED_AFTER_MS + 60_000) };
      expect(await settleStalledExports(deps.database.db, later, { id: link.id })).toBe(1);
      // This process's next heartbeat finds the link settled and cuts the stream (it waits on this client, which
      // reads nothing meanwhile); the download then does not end normally.
      await until("the connection closed", () => new Promise<number>((done) => own.getConnections((_, n) => done(n))), (n) => n === 0);
      await expect(
        (async () => {
          for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read());
        })(),
      ).rejects.toThrow();
      const started = (await exportEntries()).find((e) => e.seq === row.export_entry_seq) as { id: string };
      // Its own end finds the link settled and records nothing more. That end runs right after the socket closes;
      // a heartbeat period past that is ample for a second entry to show, were one written.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await finishExportLink(deps.database.db, link.id, { rowsSent: 1, at: deps.clock.now(), complete: false, error: "late" })).toBe(false);
      expect((await followUpsOf(started.id)).map((e) => [e.outcome, (e.after as { cause: string }).cause])).toEqual([["unknown", "interrupted"]]);
      expect(await status(link.id)).toMatchObject({ state: "interrupted" });
    } finally {
      await reader.cancel().catch(() => undefined);
      await new Promise<void>((done) => own.close(() => done()));
    }
  }, 60_000);

  /** A header export (no link): its row, found through the started entry of the request. */
  const headerExportOf = async (requestId: string) => {
    const started = (await exportEntries()).find((e) => e.requestId === requestId && (e.after as { exportEntryId?: string }).exportEntryId === undefined);
    const row = await deps.database.db.selectFrom("console_export_links").selectAll().where("export_entry_seq", "=", started?.seq ?? -1).executeTakeFirst();
    return { started, row };
  };
  const headerPaths = [
    ["/api/console/export?format=ndjson&ticketId=100007", { console: true, filters: { ticketId: "100007" }, format: "ndjson" }],
    ["/api/audit/export?format=ndjson&ticketId=100007", { filters: { ticketId: "100007" }, format: "ndjson" }],
  ] as const;
  let headerRequests = 0;

  it.each(headerPaths)("%s: a clean header export records its started entry alone, as before, and its row complete", async (path, after) => {
    const requestId = `header-clean-${kind}-${++headerRequests}`;
    const res = await fetch(`${base}${path}`, { headers: { Authorization: ops, "X-Ticket-Id": "7009", "X-Request-Id": requestId } });
    expect(res.status).toBe(200);
    const lines = (await res.text()).split("\n").filter(Boolean).length;
    expect(lines).toBeGreaterThan(0);
    const { started, row } = await until("its end recorded", () => headerExportOf(requestId), (r) => r.row?.finished_at != null);
    // What the started entry said before header exports had a row: unchanged, and nothing follows it.
    expect(started).toMatchObject({ outcome: "succeeded", error: null, ticketId: "7009", actor: { staffId: "stf_demo_ops" } });
    expect(Object.keys(started?.after as object).sort()).toEqual([...Object.keys(after), "throughSeq", ...("console" in after ? ["total"] : [])].sort());
    expect(started?.after).toMatchObject(after);
    expect(await followUpsOf(started?.id ?? "")).toEqual([]);
    expect(row).toMatchObject({ token_hash: null, staff_id: "stf_demo_ops", ticket_id: "7009", complete: true, interrupted: false, error: null, rows_sent: lines });
    // No token: nothing redeems it, and settling leaves a finished export alone.
    deps.clock.advance(EXPORT_STALLED_AFTER_MS + 1_000);
    await runSweeps(deps);
    expect((await headerExportOf(requestId)).row).toMatchObject({ complete: true, interrupted: false });
    expect(await followUpsOf(started?.id ?? "")).toEqual([]);
  }, 60_000);

  it.each(["/api/console/export?format=ndjson", "/api/audit/export?format=ndjson"])("%s: a header export whose heartbeat another process finds stale is settled as interrupted, cut, and audited once", async (path) => {
    const requestId = `header-stalled-${kind}-${++headerRequests}`;
    // A server of its own, so its connection count is this download's alone.
    const own: Server = app.listen(0, "127.0.0.1");
    await new Promise<void>((ready) => own.once("listening", () => ready()));
    const res = await fetch(`http://127.0.0.1:${(own.address() as { port: number }).port}${path}`, { headers: { Authorization: ops, "X-Request-Id": requestId } });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    try {
      await readBytes(reader, 100_000);
      const { started, row } = await until("streaming with rows sent", () => headerExportOf(requestId), (r) => (r.row?.rows_sent ?? 0) > 0);
      expect(row).toMatchObject({ finished_at: null, interrupted: false });
      // What a process that died would leave to the others: a heartbeat past the bound, seen from a later clock.
      const later = { now: () => new Date(deps.clock.now().getTime() + EXPORT_STALLED_AFTER_MS + 60_000) };
      expect(await settleStalledExports(deps.database.db, later, { id: row?.id })).toBe(1);
      await until("the connection closed", () => new Promise<number>((done) => own.getConnections((_, n) => done(n))), (n) => n === 0);
      await new Promise((r) => setTimeout(r, 1_500));
      const [followUp, ...more] = await followUpsOf(started?.id ?? "");
      expect(more).toEqual([]);
      expect(followUp).toMatchObject({ outcome: "unknown", actor: { staffId: "stf_demo_ops" }, after: { ...(started?.after as object), exportEntryId: started?.id, cause: "interrupted" }, error: expect.stringMatching(/^export_interrupted: /) });
      expect((await headerExportOf(requestId)).row).toMatchObject({ interrupted: true, complete: false });
    } finally {
      await reader.cancel().catch(() => undefined);
      await new Promise<void>((done) => own.close(() => done()));
    }
  }, 60_000);
});
