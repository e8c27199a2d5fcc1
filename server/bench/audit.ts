import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { sql } from "kysely";
import pg from "pg";
import { actionNames } from "../../shared/actions.js";
import type { AuditFilters } from "../../shared/schemas/audit.js";
import type { StaffActor } from "../src/actor.js";
import { GENESIS_HASH } from "../src/audit/auditHash.js";
import { appendAudit, buildEntry, type AuditInput } from "../src/audit/auditLog.js";
import { searchAudit } from "../src/audit/auditQuery.js";
import { toAuditRow } from "../src/audit/auditRow.js";
import { verifyAuditChain } from "../src/audit/verifyChain.js";
import { systemClock } from "../src/clock.js";
import { openDatabase, redactUrl, type Database } from "../src/db/database.js";
import { migrateToLatest } from "../src/db/migrate.js";
import { prng } from "../src/seed/prng.js";

/**
 * `npm run bench:audit -- [--entries N] [--database postgres://…]`: fills the audit log (a sample
 * through the real appendAudit, the rest bulk-loaded with a chain computed here the same way), verifies
 * it, then times every search filter. PGlite in a temporary directory unless --database is given; on
 * PostgreSQL a scratch database is created on that server and dropped afterwards.
 */
const { values } = parseArgs({
  options: {
    entries: { type: "string", default: "1000000" },
    sample: { type: "string", default: "2000" },
    queries: { type: "string", default: "40" },
    database: { type: "string" },
    keep: { type: "boolean", default: false },
    "skip-verify": { type: "boolean", default: false },
  },
});
const whole = (name: string, raw: string | undefined): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive whole number`);
  return n;
};
const ENTRIES = whole("entries", values.entries);
const SAMPLE = Math.min(whole("sample", values.sample), ENTRIES);
const QUERIES = whole("queries", values.queries);

// Shape of a busy tenant: a few hundred agents, many accounts, mostly successful writes.
const STAFF = 300;
const ACCOUNTS = 50_000;
const USERS_PER_ACCOUNT = 10;
const TICKETS = 400_000;
const YEAR_MS = 365 * 86_400_000;
const START = Date.parse("2025-01-01T00:00:00.000Z");

const random = prng(42);
const pick = (n: number) => Math.floor(random() * n);
// Skewed: low indexes are much more frequent (a few busy agents, popular actions).
const skewed = (n: number) => Math.floor(n * random() ** 2);

const staffActor = (n: number): StaffActor => ({
  kind: "staff",
  staffId: `stf_bench_${n}`,
  zendeskUserId: String(100_000 + n),
  email: `agent${n}@bench.test`,
  name: `Agent ${n}`,
  panelRole: (["support_read_only", "support_full", "operations", "admin"] as const)[n % 4] ?? "support_full",
});

function syntheticInput(): AuditInput {
  const account = pick(ACCOUNTS);
  const onUser = random() < 0.6;
  const roll = random();
  return {
    actor: staffActor(skewed(STAFF)),
    action: actionNames[skewed(actionNames.length)] ?? "user.suspend",
    target: onUser ? { type: "user", id: `usr_b_${account}_${pick(USERS_PER_ACCOUNT)}`, accountId: `acc_b_${account}` } : { type: "account", id: `acc_b_${account}`, accountId: `acc_b_${account}` },
    ticketId: String(100_000 + pick(TICKETS)),
    reason: "customer asked in the ticket",
    before: { status: "active", version: 3 },
    after: { status: "suspended", version: 4 },
    outcome: roll < 0.9 ? "succeeded" : roll < 0.95 ? "failed" : roll < 0.98 ? "denied" : "pending",
    error: roll >= 0.9 && roll < 0.95 ? "provider_unavailable" : null,
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1);

async function timeAppends(database: Database, count: number, writers: number): Promise<{ rate: number; p50: number; p95: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = 0; i < Math.ceil(count / writers); i++) {
        const t = performance.now();
        await appendAudit(database.db, syntheticInput(), systemClock);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / seconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
}

/** Bulk path: index definitions are dropped during the load and rebuilt after (as pg_restore does). */
async function bulkLoad(database: Database, from: number, to: number): Promise<number> {
  const { db } = database;
  const indexes = await sql<{ indexname: string; indexdef: string }>`select indexname, indexdef from pg_indexes where tablename = 'audit_log' and indexname <> 'audit_log_pkey'`.execute(db);
  for (const ix of indexes.rows) await sql.raw(`drop index ${ix.indexname}`).execute(db);
  const head = await db.selectFrom("audit_log").select(["seq", "hash"]).orderBy("seq", "desc").limit(1).executeTakeFirst();
  let prevHash = head?.hash ?? GENESIS_HASH;
  const bar = new cliProgress.SingleBar({ format: "bulk load |{bar}| {value}/{total} entries eta {eta_formatted}", stream: process.stderr, noTTYOutput: true, notTTYSchedule: 10_000 }, cliProgress.Presets.shades_classic);
  bar.start(to - from + 1, 0);
  const started = performance.now();
  const BATCH = 900; // 22 columns × 900 rows stays under PostgreSQL's 65,535 parameters
  for (let seq = from; seq <= to; seq += BATCH) {
    const rows = [];
    for (let s = seq; s < Math.min(seq + BATCH, to + 1); s++) {
      const entry = buildEntry(syntheticInput(), { id: randomUUID(), seq: s, occurredAt: new Date(START + Math.floor((s / ENTRIES) * YEAR_MS)).toISOString(), prevHash });
      prevHash = entry.hash;
      rows.push(toAuditRow(entry));
    }
    await db.insertInto("audit_log").values(rows).execute();
    bar.update(Math.min(seq + BATCH, to + 1) - from);
  }
  bar.stop();
  const loadSeconds = (performance.now() - started) / 1000;
  const indexStarted = performance.now();
  for (const ix of indexes.rows) await sql.raw(ix.indexdef).execute(db);
  await sql`analyze audit_log`.execute(db);
  process.stderr.write(`rebuilt ${indexes.rows.length} indexes + analyze in ${((performance.now() - indexStarted) / 1000).toFixed(1)} s\n`);
  return (to - from + 1) / loadSeconds;
}

/** Each search filter with values drawn from the same distribution as the data; the real searchAudit with limit 50. */
const filterCases: [string, () => AuditFilters, number?][] = [
  ["no filter (newest page)", () => ({})],
  ["actor (staff id)", () => ({ actor: `stf_bench_${skewed(STAFF)}` })],
  ["actor (email)", () => ({ actor: `AGENT${skewed(STAFF)}@bench.test` })],
  ["action (common)", () => ({ action: actionNames[skewed(5)] })],
  ["action (rare)", () => ({ action: actionNames[actionNames.length - 1 - pick(3)] })],
  ["targetAccountId", () => ({ targetAccountId: `acc_b_${pick(ACCOUNTS)}` })],
  ["targetUserId", () => ({ targetUserId: `usr_b_${pick(ACCOUNTS)}_${pick(USERS_PER_ACCOUNT)}` })],
  ["ticketId", () => ({ ticketId: String(100_000 + pick(TICKETS)) })],
  ["outcome=failed", () => ({ outcome: "failed" })],
  ["outcome=pending", () => ({ outcome: "pending" })],
  ["from/to (1 day, random)", () => dayWindow()],
  ["action + from/to (1 day)", () => ({ action: actionNames[skewed(5)], ...dayWindow() })],
  ["account + outcome", () => ({ targetAccountId: `acc_b_${pick(ACCOUNTS)}`, outcome: "succeeded" })],
  ["actor, page 20 (keyset)", () => ({ actor: `stf_bench_${skewed(20)}` }), 20],
];
function dayWindow(): AuditFilters {
  const from = START + pick(364) * 86_400_000;
  return { from: new Date(from).toISOString(), to: new Date(from + 86_400_000).toISOString() };
}

async function timeSearches(database: Database): Promise<string[][]> {
  const table: string[][] = [];
  for (const [name, make, pages = 1] of filterCases) {
    const times: number[] = [];
    let hits = 0;
    for (let q = 0; q < QUERIES; q++) {
      const filters = make();
      let cursor: string | undefined;
      let took = 0;
      for (let p = 0; p < pages; p++) {
        const t = performance.now();
        const page = await searchAudit(database.db, filters, { cursor, limit: 50 });
        took = performance.now() - t; // the last page is the one measured
        hits += page.entries.length;
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      times.push(took);
    }
    times.sort((a, b) => a - b);
    table.push([name, ms(percentile(times, 50)), ms(percentile(times, 95)), ms(times.at(-1) ?? 0), (hits / QUERIES / pages).toFixed(1)]);
  }
  return table;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`;
  process.stdout.write(`${line(header)}\n|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|\n${rows.map(line).join("\n")}\n`);
}

async function openBenchDatabase(): Promise<{ database: Database; dispose: () => Promise<void> }> {
  if (!values.database) {
    const dir = mkdtempSync(join(tmpdir(), "steward-bench-audit-"));
    const database = await openDatabase({ kind: "pglite", dataDir: dir });
    const dispose = async () => {
      await database.close();
      if (values.keep) process.stderr.write(`kept PGlite data in ${dir}\n`);
      else rmSync(dir, { recursive: true, force: true });
    };
    return { database, dispose };
  }
  const name = `steward_bench_audit_${process.pid}`;
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: values.database });
    await client.connect();
    await client.query(text).finally(() => client.end());
  };
  await admin(`create database ${name}`);
  const url = new URL(values.database);
  url.pathname = `/${name}`;
  const database = await openDatabase({ kind: "postgres", url: url.toString(), poolSize: 10 });
  return {
    database,
    dispose: async () => {
      await database.close();
      if (values.keep) process.stderr.write(`kept database ${redactUrl(url.toString())}\n`);
      else await admin(`drop database ${name} with (force)`);
    },
  };
}

async function main(): Promise<void> {
  const { database, dispose } = await openBenchDatabase();
  try {
    await migrateToLatest(database.db);
    process.stdout.write(`audit benchmark: ${ENTRIES.toLocaleString("en")} entries on ${database.kind} (${database.location})\n\n`);
    const single = await timeAppends(database, Math.ceil(SAMPLE / 2), 1);
    const concurrent = await timeAppends(database, Math.floor(SAMPLE / 2), 8);
    const appended = Number((await database.db.selectFrom("audit_log").select(({ fn }) => fn.max("seq").as("seq")).executeTakeFirst())?.seq ?? 0);
    const bulkRate = appended < ENTRIES ? await bulkLoad(database, appended + 1, ENTRIES) : 0;
    printTable(
      ["write path", "entries/s", "p50 ms", "p95 ms"],
      [
        ["appendAudit, 1 writer", single.rate.toFixed(0), ms(single.p50), ms(single.p95)],
        ["appendAudit, 8 writers", concurrent.rate.toFixed(0), ms(concurrent.p50), ms(concurrent.p95)],
        ["bulk load (script, chain computed here)", bulkRate.toFixed(0), "-", "-"],
      ],
    );
    if (!values["skip-verify"]) {
      const started = performance.now();
      const result = await verifyAuditChain(database.db, { batchSize: 5000 });
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(`\nverify: ${result.ok ? `intact, ${result.entries.toLocaleString("en")} entries` : `BROKEN at ${result.brokenAt} (${result.reason})`} in ${seconds.toFixed(1)} s (${((result.entries || 1) / seconds).toFixed(0)} entries/s)\n`);
      if (!result.ok) process.exitCode = 1;
    }
    const size = await sql<{ table: string; indexes: string }>`select pg_size_pretty(pg_table_size('audit_log')) as table, pg_size_pretty(pg_indexes_size('audit_log')) as indexes`.execute(database.db);
    process.stdout.write(`size: table ${size.rows[0]?.table}, indexes ${size.rows[0]?.indexes}\n\nsearch (searchAudit, limit 50, ${QUERIES} queries each):\n`);
    printTable(["filter", "p50 ms", "p95 ms", "max ms", "rows/page"], await timeSearches(database));
  } finally {
    await dispose();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
