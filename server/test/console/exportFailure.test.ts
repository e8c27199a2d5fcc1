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

/** Fails every read of the seals after the first while armed: an export's second batch meets a database error. */
class SecondSealReadFails implements KyselyPlugin {
  armed = false;
  private reads = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = args.node;
    const fromSeals = node.kind === "SelectQueryNode" && node.from?.froms.some((f) => TableNode.is(f) && f.table.identifier.name === "audit_seal");
    if (this.armed && fromSeals && ++this.reads > 1) throw new Error("the database went away mid-export");
    return node;
  }
  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
  arm() {
    this.armed = true;
    this.reads = 0;
  }
}

/**
 * An export that fails after its first batch has already sent the status and part of the file: the
 * client must see an incomplete download (the stream cut, no final chunk), never a short file that
 * ends normally, and the server keeps serving.
 */
describe.each(databaseKinds)("an export failing mid-stream on %s", (kind) => {
  let deps: AppDeps & { clock: ManualClock };
  let server: Server;
  let base: string;
  let admin: string;
  const faults = new SecondSealReadFails();

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
    faults.arm();
    const res = await fetch(`${base}${path}`, { headers: { Authorization: admin } });
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
    faults.armed = false;
    expect((await fetch(`${base}/api/session`, { headers: { Authorization: admin } })).status).toBe(200);
  });
});
