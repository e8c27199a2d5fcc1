import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseOptions } from "../../src/db/database.js";
import { createTestDatabase } from "../support/databases.js";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts Steward the way `npm start` does (minus the app build), waits for /healthz, then stops it with SIGTERM. */
async function startAndStop(env: Record<string, string>): Promise<{ readyMs: number; exitCode: number | null; log: string }> {
  const port = await freePort();
  const started = Date.now();
  const child = spawn(process.execPath, ["--import", "tsx", "server/src/main.ts"], {
    env: { ...process.env, ...env, PORT: String(port), LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let readyMs = -1;
  // A start that hangs fails here; how fast it starts is not a unit test's business (27 s was seen at load 6).
  while (Date.now() - started < 60_000) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false);
    if (ok) {
      readyMs = Date.now() - started;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGTERM");
  const exitCode = await exited;
  if (readyMs < 0) throw new Error(`Steward did not answer /healthz within 60 s:\n${log}`);
  return { readyMs, exitCode, log };
}

async function rowCounts(options: DatabaseOptions): Promise<Record<string, number>> {
  const database = await openDatabase(options);
  try {
    const out: Record<string, number> = {};
    for (const t of ["accounts", "users", "demo_tickets", "staff", "billing_invoices"] as const) {
      const r = await database.db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      out[t] = Number(r.n);
    }
    return out;
  } finally {
    await database.close();
  }
}

describe("npm start", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("starts on the embedded database with demo data; a second start reuses it", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "steward-start-"));
    dirs.push(dataDir);
    const first = await startAndStop({ DATA_DIR: dataDir });
    expect(first.exitCode).toBe(0);
    expect(first.log).toContain("demo data seeded");
    const counts = await rowCounts({ kind: "pglite", dataDir });
    expect(counts.accounts).toBeGreaterThan(20);

    const second = await startAndStop({ DATA_DIR: dataDir });
    expect(second.exitCode).toBe(0);
    expect(second.log).toContain("demo data already present");
    expect(second.readyMs).toBeLessThan(first.readyMs);
    expect(await rowCounts({ kind: "pglite", dataDir })).toEqual(counts);
  }, 150_000);

  it("works the same on PostgreSQL via DATABASE_URL", async () => {
    const target = await createTestDatabase("postgres", { migrate: false });
    const url = target.location;
    await target.db.destroy();
    try {
      const first = await startAndStop({ STEWARD_MODE: "demo", DATABASE_URL: url });
      expect(first.exitCode).toBe(0);
      const counts = await rowCounts({ kind: "postgres", url });
      expect(counts.accounts).toBeGreaterThan(20);
      const second = await startAndStop({ STEWARD_MODE: "demo", DATABASE_URL: url });
      expect(second.log).toContain("demo data already present");
      expect(await rowCounts({ kind: "postgres", url })).toEqual(counts);
    } finally {
      await target.close().catch(() => undefined);
    }
  }, 150_000);
});
