import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditFilters } from "../../shared/schemas/audit.js";
import type { StaffActor } from "../src/actor.js";
import type { AuditInput } from "../src/audit/auditLog.js";
import type { AuditKeys } from "../src/audit/sealKey.js";
import type { Database } from "../src/db/database.js";
import { prng } from "../src/seed/prng.js";
import { benchArgs, wholeNumberArg } from "./benchArgs.js";

const HELP = `usage: npm run bench:audit -- [options]

Fills the audit log and times what matters: appends from concurrent writers (the real appendAudit, with the
sealer running as the server runs it) beside the same writers committing a bare one-row INSERT (this machine's
ceiling for the pattern, same run), the sealing lag (commit → sealed), a bulk load written exactly as
appendAudit writes (same MAC, sealed by the same sealer), a full verify, and every search filter.

  --database URL   PostgreSQL server to use (a scratch database is created there and dropped); default PGlite in a temp dir
  --entries N      entries in the log for verify and search (default 1000000)
  --appends N      appends timed through appendAudit (default 20000)
  --writers N      concurrent writers for the append test (default 8)
  --queries N      queries per search filter (default 40)
  --skip-verify    skip the full verify
  --keep           keep the database afterwards
  --reuse NAME     measure an existing database NAME on the --database server (one a --keep run left, or one
                   whose run was stopped): no append timing; entries up to --entries are loaded, whatever is
                   unsealed is sealed, search indexes the load dropped are rebuilt; the database is kept
  --help           this text`;

/**
 * \`npm run bench:audit\` (see HELP). The bare-Express ceiling the HTTP benchmarks print does not apply here:
 * these figures are the audit module against the database, with no HTTP in between.
 */
const values = benchArgs(HELP, {
  entries: { type: "string", default: "1000000" },
  appends: { type: "string", default: "20000" },
  writers: { type: "string", default: "8" },
  queries: { type: "string", default: "40" },
  database: { type: "string" },
  keep: { type: "boolean", default: false },
  reuse: { type: "string" },
  "skip-verify": { type: "boolean", default: false },
  help: { type: "boolean", default: false },
});
const ENTRIES = wholeNumberArg("entries", values.entries);
const APPENDS = wholeNumberArg("appends", values.appends);
const WRITERS = wholeNumberArg("writers", values.writers);
const QUERIES = wholeNumberArg("queries", values.queries);

// What it measures loads once the arguments parsed, so --help needs none of it.
const { default: cliProgress } = await import("cli-progress");
const { sql } = await import("kysely");
const { default: pg } = await import("pg");
const { actionNames } = await import("../../shared/actions.js");
const { entryMac } = await import("../src/audit/auditHash.js");
const { appendAudit, entryContent } = await import("../src/audit/auditLog.js");
const { searchAudit } = await import("../src/audit/auditQuery.js");
const { toAuditRow } = await import("../src/audit/auditRow.js");
const { sealPending } = await import("../src/audit/sealer.js");
const { startAuditSealer } = await import("../src/audit/sealerLoop.js");
const { auditKeysFromSecret, installAuditKeys } = await import("../src/audit/sealKey.js");
const { verifyAuditChain } = await import("../src/audit/verifyChain.js");
const { createLogger } = await import("../src/logger.js");
const { systemClock } = await import("../src/clock.js");
const { openDatabase, redactUrl } = await import("../src/db/database.js");
const { migrateToLatest } = await import("../src/db/migrate.js");

// Set once the database is known: a run's entries are MACed with a key kept beside it (keyFor), so a
// --reuse run verifies them with the same key.
let keys: AuditKeys;
const keyFile = (database: string) => join(tmpdir(), `steward-bench-audit-${database.replace(/[^A-Za-z0-9_-]/g, "_")}.key`);
function keyFor(database: string): AuditKeys {
  const file = keyFile(database);
  if (values.reuse && !existsSync(file)) throw new Error(`--reuse ${database}: no audit key at ${file} (the run that loaded it kept it there); its MACs cannot be verified`);
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("hex"), { mode: 0o600 });
  return auditKeysFromSecret(readFileSync(file, "utf8").trim());
}

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

interface AppendFigures {
  rate: number;
  p50: number;
  p95: number;
  lagP50: number;
  lagP99: number;
  lagMax: number;
}

/** Writers append through appendAudit while the sealer runs; a watcher notes when each entry shows up sealed. */
async function timeAppends(database: Database, count: number, writers: number): Promise<AppendFigures> {
  const sealer = startAuditSealer({ db: database.db, keys, logger: createLogger("silent"), clock: systemClock, intervalMs: 200, sinks: {} });
  const latencies: number[] = [];
  const committedAt = new Map<number, number>();
  const sealedAt = new Map<number, number>();
  let writing = true;
  let lastChain = (await database.db.selectFrom("audit_seal").select(({ fn }) => fn.max("chain_seq").as("n")).executeTakeFirst())?.n ?? 0;
  const watcher = (async () => {
    while (writing || sealedAt.size < committedAt.size) {
      const seen = await database.db.selectFrom("audit_seal").select(["chain_seq", "entry_seq"]).where("chain_seq", ">", Number(lastChain)).orderBy("chain_seq").execute();
      const now = performance.now();
      for (const s of seen) sealedAt.set(s.entry_seq, now);
      lastChain = seen.at(-1)?.chain_seq ?? lastChain;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = 0; i < Math.ceil(count / writers); i++) {
        const t = performance.now();
        const entry = await appendAudit(database.db, syntheticInput(), systemClock);
        const done = performance.now();
        committedAt.set(entry.seq, done);
        latencies.push(done - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  writing = false;
  await watcher;
  await sealer.stop();
  latencies.sort((a, b) => a - b);
  const lags = [...committedAt].map(([seq, t]) => Math.max(0, (sealedAt.get(seq) ?? Infinity) - t)).sort((a, b) => a - b);
  return { rate: latencies.length / seconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95), lagP50: percentile(lags, 50), lagP99: percentile(lags, 99), lagMax: lags.at(-1) ?? 0 };
}

/**
 * The database's own ceiling for this write pattern, in the same run: the same writers on the same pool, each
 * committing a one-row INSERT of the entry's size into a table with only a primary key (no MAC, no trigger, no
 * search indexes). What a machine's disk and database can commit moves from machine to machine; appendAudit's
 * rate is read against this, as the HTTP benchmarks' figures are read against bare Express.
 */
async function timeBareCommits(database: Database, count: number, writers: number): Promise<{ rate: number; p50: number; p95: number }> {
  const { db } = database;
  await sql`create table if not exists bench_bare_commit (id bigserial primary key, body jsonb not null)`.execute(db);
  const body = JSON.stringify(syntheticInput());
  const latencies: number[] = [];
  try {
    const started = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async () => {
        for (let i = 0; i < Math.ceil(count / writers); i++) {
          const t = performance.now();
          await sql`insert into bench_bare_commit (body) values (${body}::jsonb)`.execute(db);
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return { rate: latencies.length / seconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
  } finally {
    await sql`drop table if exists bench_bare_commit`.execute(db);
  }
}

/**
 * Bulk path: rows written exactly as appendAudit writes them (same content, same MAC; the database stamps seq),
 * the search indexes dropped during the load and rebuilt after (as pg_restore does), then sealed by the real
 * sealer. The dropped indexes are listed in a table of the database first, so a stopped run can be finished
 * (--reuse). Returns rows/s for the load and for sealing.
 */
async function bulkLoad(database: Database, count: number): Promise<{ loadRate: number; sealRate: number }> {
  const { db } = database;
  for (let m = 0; m < 12; m++) await sql`select audit_log_add_month(${new Date(Date.UTC(2025, m, 1)).toISOString().slice(0, 10)}::date)`.execute(db);
  // The sealer's own indexes (tx, seq) and the primary key stay; the search indexes are rebuilt after.
  const keep = ["audit_log_pkey", "audit_log_seq_idx", "audit_log_tx_idx"];
  const indexes = await sql<{ indexname: string; indexdef: string }>`select indexname, indexdef from pg_indexes where tablename = 'audit_log'`.execute(db);
  await sql`create table if not exists bench_deferred_audit_indexes (indexname text primary key, indexdef text not null)`.execute(db);
  for (const ix of indexes.rows.filter((ix) => !keep.includes(ix.indexname))) {
    await sql`insert into bench_deferred_audit_indexes values (${ix.indexname}, ${ix.indexdef}) on conflict do nothing`.execute(db);
    await sql.raw(`drop index ${ix.indexname}`).execute(db);
  }
  const bar = new cliProgress.SingleBar({ format: "bulk load |{bar}| {value}/{total} entries eta {eta_formatted}", stream: process.stderr, noTTYOutput: true, notTTYSchedule: 10_000 }, cliProgress.Presets.shades_classic);
  bar.start(count, 0);
  const started = performance.now();
  const BATCH = 1000; // 21 columns × 1000 rows stays under PostgreSQL's 65,535 parameters
  for (let done = 0; done < count; done += BATCH) {
    const rows = [];
    for (let i = done; i < Math.min(done + BATCH, count); i++) {
      const content = entryContent(syntheticInput(), { id: randomUUID(), occurredAt: new Date(START + Math.floor((i / count) * YEAR_MS)).toISOString() });
      rows.push(toAuditRow(content, entryMac(keys, content)));
    }
    await db.insertInto("audit_log").values(rows).execute();
    bar.update(Math.min(done + BATCH, count));
  }
  bar.stop();
  const loadSeconds = (performance.now() - started) / 1000;
  return { loadRate: count / loadSeconds, sealRate: await finishLoad(database) };
}

/** Seals what is unsealed (returns entries/s), then rebuilds the search indexes a load dropped and analyzes. */
async function finishLoad(database: Database): Promise<number> {
  const { db } = database;
  const sealStarted = performance.now();
  const sealed = await sealPending(db, keys, { batchSize: 20_000 });
  const sealRate = sealed.sealed / ((performance.now() - sealStarted) / 1000);
  const indexStarted = performance.now();
  await sql`create table if not exists bench_deferred_audit_indexes (indexname text primary key, indexdef text not null)`.execute(db);
  const dropped = await sql<{ indexname: string; indexdef: string }>`select indexname, indexdef from bench_deferred_audit_indexes order by indexname`.execute(db);
  // pg_indexes shows a partitioned table's index as `ON ONLY audit_log`, which would build it on the
  // parent alone (no partition gets it, and it stays invalid): rebuild it on every partition.
  for (const ix of dropped.rows) {
    await sql.raw(ix.indexdef.replace(" ON ONLY ", " ON ")).execute(db);
    await sql`delete from bench_deferred_audit_indexes where indexname = ${ix.indexname}`.execute(db);
  }
  await sql`analyze audit_log`.execute(db);
  await sql`analyze audit_seal`.execute(db);
  process.stderr.write(`sealed ${sealed.sealed} entries; rebuilt ${dropped.rows.length} indexes + analyze in ${((performance.now() - indexStarted) / 1000).toFixed(1)} s\n`);
  return sealRate;
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
  ["no filter, page 50 (keyset)", () => ({}), 50],
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
    keys = keyFor(dir);
    installAuditKeys(keys);
    const database = await openDatabase({ kind: "pglite", dataDir: dir });
    const dispose = async () => {
      await database.close();
      if (values.keep) process.stderr.write(`kept PGlite data in ${dir}\n`);
      else {
        rmSync(dir, { recursive: true, force: true });
        rmSync(keyFile(dir), { force: true });
      }
    };
    return { database, dispose };
  }
  const name = values.reuse ?? `steward_bench_audit_${process.pid}`;
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: values.database });
    await client.connect();
    await client.query(text).finally(() => client.end());
  };
  if (!values.reuse) await admin(`create database ${name}`);
  keys = keyFor(name);
  installAuditKeys(keys);
  const url = new URL(values.database);
  url.pathname = `/${name}`;
  const database = await openDatabase({ kind: "postgres", url: url.toString(), poolSize: 10 });
  return {
    database,
    dispose: async () => {
      await database.close();
      if (values.keep || values.reuse) process.stderr.write(`kept database ${redactUrl(url.toString())}\n`);
      else {
        await admin(`drop database ${name} with (force)`);
        rmSync(keyFile(name), { force: true });
      }
    },
  };
}

async function main(): Promise<void> {
  const { database, dispose } = await openBenchDatabase();
  try {
    await migrateToLatest(database.db);
    process.stdout.write(`audit benchmark: ${ENTRIES.toLocaleString("en")} entries on ${database.kind} (${database.location}); ${APPENDS} appends by ${WRITERS} writers\n\n`);
    // A reused database has entries already: its append figures would not be comparable, so none are taken.
    const single = values.reuse ? undefined : await timeAppends(database, Math.min(2000, APPENDS), 1);
    const concurrent = values.reuse ? undefined : await timeAppends(database, APPENDS, WRITERS);
    const bareSingle = values.reuse ? undefined : await timeBareCommits(database, Math.min(2000, APPENDS), 1);
    const bareConcurrent = values.reuse ? undefined : await timeBareCommits(database, APPENDS, WRITERS);
    const appended = Number((await database.db.selectFrom("audit_log").select(({ fn }) => fn.countAll().as("n")).executeTakeFirst())?.n ?? 0);
    const bulk = appended < ENTRIES ? await bulkLoad(database, ENTRIES - appended) : { loadRate: 0, sealRate: await finishLoad(database) };
    const bare = (name: string, f: { rate: number; p50: number; p95: number } | undefined) => (f ? [name, f.rate.toFixed(0), ms(f.p50), ms(f.p95), "-", "-", "-"] : [name, "-", "-", "-", "-", "-", "-"]);
    const row = (name: string, f: AppendFigures | undefined) => (f ? [name, f.rate.toFixed(0), ms(f.p50), ms(f.p95), ms(f.lagP50), ms(f.lagP99), ms(f.lagMax)] : [name, "-", "-", "-", "-", "-", "-"]);
    printTable(
      ["write path", "entries/s", "p50 ms", "p95 ms", "seal lag p50 ms", "p99 ms", "max ms"],
      [
        row("appendAudit, 1 writer", single),
        row(`appendAudit, ${WRITERS} writers`, concurrent),
        bare("bare INSERT + commit, 1 writer (ceiling)", bareSingle),
        bare(`bare INSERT + commit, ${WRITERS} writers (ceiling)`, bareConcurrent),
        ["bulk load (same rows and MACs as appendAudit)", bulk.loadRate.toFixed(0), "-", "-", "-", "-", "-"],
        ["sealer catching up on the bulk load", bulk.sealRate.toFixed(0), "-", "-", "-", "-", "-"],
      ],
    );
    if (!values["skip-verify"]) {
      const started = performance.now();
      const result = await verifyAuditChain(database.db, keys, { mode: "full", batchSize: 5000, record: false });
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(
        `\nfull verify: ${result.ok ? "intact" : `BROKEN (${result.breaks.length} breaks)`}, ${result.entries.toLocaleString("en")} entries in ${seconds.toFixed(1)} s (${((result.entries || 1) / seconds).toFixed(0)} entries/s; 10M would take ~${((10_000_000 / (result.entries || 1)) * seconds).toFixed(0)} s at this rate)\n`,
      );
      if (!result.ok) process.exitCode = 1;
    }
    const size = await sql<{ table: string; indexes: string }>`select pg_size_pretty(sum(pg_table_size(c.oid))) as table, pg_size_pretty(sum(pg_indexes_size(c.oid))) as indexes from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'audit_log'::regclass`.execute(database.db);
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
