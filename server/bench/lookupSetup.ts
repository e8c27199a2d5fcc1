import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import cliProgress from "cli-progress";
import type { DataSetOptions } from "./benchArgs.js";
import { sql } from "kysely";
import { mintDemoZafToken } from "../src/auth/mintDemoZafToken.js";
import { loadConfig } from "../src/config.js";
import { TEST_RATE_LIMITS } from "../test/support/rateLimits.js";
import { openDatabase, type Database } from "../src/db/database.js";
import { migrateToLatest } from "../src/db/migrate.js";
import type { AppDeps } from "../src/deps.js";
import { seedDemoData } from "../src/seed/demo.js";
import { existingSyntheticAccounts, seedSynthetic } from "../src/seed/synthetic.js";
import { buildDeps, startServer, type RunningServer } from "../src/server.js";

/**
 * What the lookup benchmarks share: the large synthetic data set (seeded when missing), the real app
 * started in-process on 127.0.0.1:0, real session tokens, and a load generator on its own thread.
 */

export function benchEnv(options: DataSetOptions, extra: Record<string, string> = {}): Record<string, string> {
  return {
    STEWARD_MODE: "demo",
    LOG_LEVEL: "silent",
    DEMO_SEED: "false",
    // The limiters still run (their cost is part of the figure) but a load never reaches them.
    ...TEST_RATE_LIMITS,
    // The demo ZAF key stays in memory on PostgreSQL; PGlite keeps it beside its data.
    DATA_DIR: options.databaseUrl ? "memory" : options.dataDir,
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl, DATABASE_POOL_SIZE: "12" } : {}),
    ...extra,
  };
}

/** Opens the database and makes sure the demo staff and `accounts` synthetic accounts are there. */
export async function openDataSet(options: DataSetOptions): Promise<Database> {
  const database = await openDatabase(options.databaseUrl ? { kind: "postgres", url: options.databaseUrl, poolSize: 12 } : { kind: "pglite", dataDir: options.dataDir });
  await migrateToLatest(database.db);
  await seedDemoData(database.db);
  const present = await existingSyntheticAccounts(database.db);
  if (present < options.accounts) {
    process.stdout.write(`seeding ${options.accounts - present} synthetic accounts × ${options.usersPerAccount} users on ${database.kind} (once; later runs reuse them)\n`);
    const bar = new cliProgress.SingleBar({ format: "seed |{bar}| {value}/{total} eta {eta_formatted}", noTTYOutput: true, notTTYSchedule: 10_000 }, cliProgress.Presets.shades_classic);
    bar.start(options.accounts, present);
    await seedSynthetic(database.db, { accounts: options.accounts, usersPerAccount: options.usersPerAccount, onProgress: (done) => bar.update(done) });
    bar.stop();
  }
  // Fresh planner statistics: the search branches rely on them to pick index or scan. The audit tables too: every
  // run adds thousands of entries, and where autovacuum is off (these benchmark machines) nothing else analyzes them.
  for (const table of ["accounts", "users", "audit_log", "audit_seal", "audit_flag", "rate_limits"]) await sql`analyze ${sql.table(table)}`.execute(database.db);
  return database;
}

export interface RunningApp {
  deps: AppDeps;
  running: RunningServer;
  baseUrl: string;
  /** A real session for a demo agent: a demo ZAF token exchanged at POST /api/session. */
  session(zendeskUserId: string): Promise<string>;
  /** Stops the server; the shared database stays open. */
  stop(): Promise<void>;
}

/** `port` 0: any free one. */
export async function startApp(options: DataSetOptions, database: Database, extraEnv: Record<string, string> = {}, port = 0): Promise<RunningApp> {
  const config = loadConfig(benchEnv(options, extraEnv));
  // Several apps share one database here; only the caller closes it.
  const shared: Database = { ...database, close: async () => {} };
  const deps = await buildDeps(config, { database: shared });
  const running = await startServer(deps, { port, host: "127.0.0.1" });
  const baseUrl = `http://127.0.0.1:${running.port}`;
  return {
    deps,
    running,
    baseUrl,
    async session(zendeskUserId) {
      const token = await mintDemoZafToken(deps, { zendeskUserId });
      const res = await fetch(`${baseUrl}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) });
      if (!res.ok) throw new Error(`POST /api/session answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { sessionToken: string }).sessionToken;
    },
    stop: () => running.close(),
  };
}

export interface LoadRequest {
  path: string;
  headers: Record<string, string>;
}

export interface LoadResult {
  requests: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPU ms during the measured load: the whole process, the calling thread (the app's event loop), the load generator's thread. */
  cpu: { process: number; app: number; load: number };
}

/**
 * CPU ms this thread has used (user + system), from /proc/thread-self; NaN where there is none.
 * Everything a benchmark runs shares one process, so per-thread figures say whose CPU a request costs.
 */
export function threadCpuMs(): number {
  try {
    const fields = readFileSync("/proc/thread-self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
    // utime and stime, fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

const processCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

// Runs autocannon on a thread of its own so the load generator does not share the app's event loop.
const LOAD_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { readFileSync } = require("node:fs");
const autocannon = require("autocannon");
const cpu = () => { try { const f = readFileSync("/proc/thread-self/stat", "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; } catch { return NaN; } };
const latencies = [];
const cpuAtStart = cpu();
const instance = autocannon({ url: workerData.url, connections: workerData.connections, duration: workerData.duration, requests: workerData.requests }, (err, result) => {
  if (err) parentPort.postMessage({ error: String(err) });
  else parentPort.postMessage({ latencies, requests: latencies.length, seconds: result.duration, non2xx: result.non2xx, errors: result.errors + result.timeouts, cpu: cpu() - cpuAtStart });
});
instance.on("response", (_client, _status, _bytes, ms) => latencies.push(ms));
`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export async function load(url: string, requests: LoadRequest[], options: { connections: number; durationSec: number }): Promise<LoadResult> {
  const worker = new Worker(LOAD_WORKER, {
    eval: true,
    workerData: { url, connections: options.connections, duration: options.durationSec, requests: requests.map((r) => ({ method: "GET", path: r.path, headers: r.headers })) },
  });
  const [app0, process0] = [threadCpuMs(), processCpuMs()];
  const message = await new Promise<{ error?: string; latencies: number[]; requests: number; seconds: number; non2xx: number; errors: number; cpu: number }>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  const cpu = { process: processCpuMs() - process0, app: threadCpuMs() - app0, load: message.cpu };
  await worker.terminate();
  if (message.error) throw new Error(message.error);
  const sorted = [...message.latencies].sort((a, b) => a - b);
  return {
    requests: message.requests,
    perSecond: message.requests / message.seconds,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    non2xx: message.non2xx,
    errors: message.errors,
    cpu,
  };
}

export { percentile };
