import type { Server } from "node:http";
import { TableNode, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import type { ManualClock } from "../../src/clock.js";
import type { AppDeps } from "../../src/deps.js";
import { HOOK_TIMEOUT } from "../audit/fixtures.js";
import { bearerFor } from "../audit/http.js";
import { fillAuditLog } from "../support/auditFill.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";

/**
 * While armed, the second read of the seals (an export's second batch) either fails with a database error
 * or is held until released (the client can leave meanwhile).
 */
class SecondSealRead implements KyselyPlugin {
  armed: "fail" | "hold" | false = false;
  private reads = 0;
  private held = new Set<unknown>();
  private release: () => void = () => undefined;
  private gate = Promise.resolve();
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = args.node;
    const fromSeals = node.kind === "SelectQueryNode" && node.from?.froms.some((f) => TableNode.is(f) && f.table.identifier.name === "audit_seal");
    if (this.armed && fromSeals && ++this.reads > 1) {
      if (this.armed === "fail") throw new Error("the database went away mid-export");
      this.held.add(args.queryId);
    }
    return node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.held.delete(args.queryId)) await this.gate;
    return args.result;
  }
  arm(mode: "fail" | "hold") {
    this.armed = mode;
    this.reads = 0;
    this.gate = new Promise((open) => (this.release = open));
  }
  open() {
    this.armed = false;
    this.release();
  }
}

/**
 * An export that fails after its first batch has already sent the status and part of the file: the
 * client must see an incomplete download (the stream cut, no final chunk), never a short file that
 * ends normally, and the server keeps serving. The audit log, append-only, gets a follow-up entry saying
 * the export did not complete, as it does when the client goes away before the end.
 */
describe.each(databaseKinds)("an export failing mid-stream on %s", (kind) => {
  let deps: AppDeps & { clock: ManualClock };
  let server: Server;
  let base: string;
  let admin: string;
  const faults = new SecondSealRead();
  let n = 0;

  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: true });
    await fillAuditLog(deps.database.db, 2500, { start: new Date(deps.clock.now().getTime() - 86_400_000), stepMs: 1000 });
    admin = await bearerFor(deps, "admin");
    const app = createApp({ ...deps, database: { ...deps.database, db: deps.database.db.withPlugin(faults) } });
    server = app.listen(0, "127.0.0.1");
    await new Promise<void>((ready) => server.once("listening", () => ready()));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await new Promise<void>((done) => server?.close(() => done()));
    await deps?.database.close();
  }, HOOK_TIMEOUT);

  it.each(["/api/audit/export?format=ndjson", "/api/console/export?format=ndjson", "/api/audit/export?format=csv", "/api/console/export?format=csv"])("%s: the client's read fails; the server goes on", async (path) => {
    faults.arm("fail");
    const requestId = `export-fails-${++n}`;
    const res = await fetch(`${base}${path}`, { headers: { Authorization: admin, "X-Request-Id": requestId } });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let bytes = 0;
    const outcome = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return "ended normally";
        bytes += value.length;
      }
    })().catch((err: Error) => `failed: ${err.message}`);
    expect(outcome).toMatch(/^failed: /);
    // The first batch (1,000 entries) was sent before the failure.
    expect(bytes).toBeGreaterThan(1000 * 100);
    faults.open();
    expect((await fetch(`${base}/api/session`, { headers: { Authorization: admin } })).status).toBe(200);
    // The history says the export started and did not complete, with how many entries went out (the first batch).
    await expectIncomplete(requestId, "failed");
  });

  it.each(["/api/audit/export?format=ndjson", "/api/console/export?format=csv"])("%s: the client goes away mid-stream; the history says so", async (path) => {
    faults.arm("hold");
    const requestId = `export-left-${++n}`;
    const abort = new AbortController();
    const res = await fetch(`${base}${path}`, { headers: { Authorization: admin, "X-Request-Id": requestId }, signal: abort.signal });
    expect(res.status).toBe(200);
    // Part of the first batch has arrived (not only the CSV header line) when the client leaves.
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    for (let bytes = 0; bytes < 100_000; ) bytes += (await reader.read()).value?.length ?? Infinity;
    abort.abort();
    // Let the server see the connection close while its second batch is held, then let the batch through.
    await new Promise((r) => setTimeout(r, 300));
    faults.open();
    await expectIncomplete(requestId, "client_closed");
  });

  /** The export's two entries: started (succeeded) and, after it, the follow-up saying it did not complete. */
  async function expectIncomplete(requestId: string, cause: string) {
    const entries = async () => deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", requestId).where("action", "=", "audit.export").orderBy("seq").execute();
    // The follow-up is written once the server has noticed the end of the stream.
    for (let i = 0; i < 100 && (await entries()).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const [started, followUp, ...more] = await entries();
    expect(more).toEqual([]);
    expect(started).toMatchObject({ outcome: "succeeded", error: null });
    expect(followUp).toMatchObject({ outcome: "failed", error: expect.stringMatching(/^export_incomplete: .* after 1000 entries were sent/) });
    expect(followUp?.after).toMatchObject({ exportEntryId: started?.id, rowsSent: 1000, cause, throughSeq: (started?.after as { throughSeq: number }).throughSeq });
  }
});
