import type { Server } from "node:http";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import type { ManualClock } from "../../src/clock.js";
import type { AppDeps } from "../../src/deps.js";
import { HOOK_TIMEOUT } from "../audit/fixtures.js";
import { bearerFor } from "../audit/http.js";
import { fillAuditLog } from "../support/auditFill.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";

const ENTRIES = 100_000;

/**
 * The console export of 100k entries streams: the server holds one keyset batch at a time, so its
 * heap stays far below the size of the file while a slow client reads it.
 */
// A full collection before each sample, so the figure is what is live, not garbage waiting for the collector.
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;
const liveBytes = () => {
  collect();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

describe.each(databaseKinds)("console export of 100k entries on %s", (kind) => {
  let deps: AppDeps & { clock: ManualClock };
  let server: Server;
  let base: string;
  let admin: string;

  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: true });
    const start = new Date(deps.clock.now().getTime() - 20 * 86_400_000);
    await fillAuditLog(deps.database.db, ENTRIES, { start, stepMs: 10_000 });
    admin = await bearerFor(deps, "admin");
    server = createApp(deps).listen(0, "127.0.0.1");
    await new Promise<void>((ready) => server.once("listening", () => ready()));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  }, HOOK_TIMEOUT * 2);
  afterAll(async () => {
    await new Promise<void>((done) => server?.close(() => done()));
    await deps?.database.close();
  }, HOOK_TIMEOUT);

  it("streams every entry newest first while the server's heap stays well below the file size", { timeout: 600_000 }, async () => {
    const baseline = liveBytes();
    let peak = baseline;
    let bytes = 0;
    let lines = 0;
    let lastSeq = Number.POSITIVE_INFINITY;
    let ordered = true;
    let carry = "";
    let total = "";
    try {
      const res = await fetch(`${base}/api/console/export?format=ndjson`, { headers: { Authorization: admin } });
      expect(res.status).toBe(200);
      total = res.headers.get("x-export-total") ?? "";
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let chunks = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.length;
        const text = carry + decoder.decode(value, { stream: true });
        const parts = text.split("\n");
        carry = parts.pop() ?? "";
        for (const line of parts) {
          const seq = Number(/"seq":(\d+)/.exec(line)?.[1]);
          if (!(seq < lastSeq)) ordered = false;
          lastSeq = seq;
          lines++;
        }
        // A slow reader: the server must wait for it (backpressure) rather than buffer the rest.
        if (++chunks % 50 === 0) await new Promise((r) => setTimeout(r, 2));
        if (chunks % 100 === 0) peak = Math.max(peak, liveBytes());
      }
    } finally {
      peak = Math.max(peak, liveBytes());
    }
    expect(carry).toBe("");
    expect(total).toBe(String(ENTRIES));
    expect(lines).toBe(ENTRIES);
    expect(ordered).toBe(true);
    expect(bytes).toBeGreaterThan(50 * 1024 * 1024);
    const growth = peak - baseline;
    // Live memory (server and this reader share the process) grows by about a batch of 1,000 entries and
    // the socket's buffer; holding the export, or its 100k entries, would take more than the whole file.
    expect(growth, `live memory grew ${(growth / 1048576).toFixed(1)} MiB for a ${(bytes / 1048576).toFixed(1)} MiB export`).toBeLessThan(bytes / 4);
  });
});
