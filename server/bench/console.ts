import { randomBytes } from "node:crypto";
import type { Database } from "../src/db/database.js";
import { benchArgs, wholeNumberArg } from "./benchArgs.js";
import type { LoadRequest } from "./lookupSetup.js";

const USAGE = `usage: npm run bench:console -- [--database postgres://…] [--entries N] [--duration S] [--connections N] [--keep]

The team-lead console on PostgreSQL: fills a scratch database (created on --database's server and dropped
afterwards unless --keep) with N audit entries, then measures, in one run:
  - the explorer's first page (GET /api/console/entries, 50 rows, newest first) under load: p50/p95/p99,
    unfiltered and with common filters (agent, action group, ticket, outcome, flag);
  - the export (GET /api/console/export, NDJSON, all N entries): entries/s and MB/s for one client;
  - a bare Express JSON route: this machine's ceiling in the same run.

  --database URL     PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
  --entries N        audit entries to fill (default 1000000)
  --duration S       seconds of load per scenario (default 10)
  --connections N    concurrent connections (default 8)
  --keep             keep the scratch database
  --help             this text`;

const values = benchArgs(USAGE, {
  database: { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
  entries: { type: "string", default: "1000000" },
  duration: { type: "string", default: "10" },
  connections: { type: "string", default: "8" },
  keep: { type: "boolean", default: false },
});
const ENTRIES = wholeNumberArg("entries", values.entries);
const DURATION = wholeNumberArg("duration", values.duration);
const CONNECTIONS = wholeNumberArg("connections", values.connections);

// What it measures loads once the arguments parsed, so --help needs none of it.
const { default: express } = await import("express");
const { default: pg } = await import("pg");
const { sql } = await import("kysely");
const { redactUrl, openDatabase } = await import("../src/db/database.js");
const { migrateToLatest } = await import("../src/db/migrate.js");
const { seedDemoData } = await import("../src/seed/demo.js");
const { sealPending } = await import("../src/audit/sealer.js");
const { flagPending } = await import("../src/console/flagger.js");
const { fillAuditLog, fillFlagPatterns } = await import("../test/support/auditFill.js");
const { load, startApp } = await import("./lookupSetup.js");

async function admin(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const serverUrl = values.database;
  const name = `steward_bench_console_${randomBytes(4).toString("hex")}`;
  await admin(serverUrl, `create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let database: Database | undefined;
  try {
    database = await openDatabase({ kind: "postgres", url: url.toString(), poolSize: 12 });
    await migrateToLatest(database.db);
    await seedDemoData(database.db);
    process.stdout.write(`database: ${redactUrl(url.toString())}\nfilling ${ENTRIES.toLocaleString("en")} audit entries…\n`);
    const started = performance.now();
    const BATCH = 200_000;
    const start = new Date(Date.now() - 29 * 86_400_000);
    const stepMs = Math.max(1, Math.floor((29 * 86_400_000) / ENTRIES));
    for (let done = 0; done < ENTRIES; done += BATCH) await fillAuditLog(database.db, Math.min(BATCH, ENTRIES - done), { start, stepMs, offset: done });
    // About 1 entry in 200 raises a flag: bursts, denials, credits near the cap (3 % of the entries).
    const clusters = Math.max(1, Math.floor(ENTRIES / 1000));
    await fillFlagPatterns(database.db, clusters, { start, spanMs: 28 * 86_400_000 });
    await sql`analyze audit_log`.execute(database.db);
    process.stdout.write(`filled in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

    const options = { databaseUrl: url.toString(), dataDir: "", accounts: 0, usersPerAccount: 0 };
    const app = await startApp(options, database);
    // Seal and flag the filled log before measuring (a running server does it as entries arrive), so the
    // scenarios are not measured beside a sealer catching up.
    // (The app's own sealer loop may hold the lock: wait until every entry is sealed and flagged.)
    const sealing = performance.now();
    const total = Number((await database.db.selectFrom("audit_log").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);
    const progress = async () => {
      const seals = await database!.db.selectFrom("audit_seal").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
      const state = await database!.db.selectFrom("audit_seal_state").select("flagged_through").where("id", "=", 1).executeTakeFirstOrThrow();
      return { sealed: Number(seals.n), flagged: Number(state.flagged_through) };
    };
    let sealedIn = 0;
    for (;;) {
      await sealPending(database.db, app.deps.auditKeys, { batchSize: 50_000 });
      const p = await progress();
      if (p.sealed >= total) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    sealedIn = (performance.now() - sealing) / 1000;
    const flagging = performance.now();
    for (;;) {
      await flagPending(database.db, { batchSize: 20_000 });
      if ((await progress()).flagged >= total) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const flaggedIn = (performance.now() - flagging) / 1000;
    const flagRows = await database.db.selectFrom("audit_flag").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
    process.stdout.write(`sealed in ${sealedIn.toFixed(1)} s; console flags for every entry in ${flaggedIn.toFixed(1)} s (${(total / flaggedIn).toFixed(0)} entries/s, ${Number(flagRows.n).toLocaleString("en")} flags)\n`);
    const token = await app.session("9004"); // the demo admin sees every entry
    const headers = { authorization: `Bearer ${token}` };
    const scenarios: [string, string][] = [
      ["first page, no filter", "/api/console/entries?limit=50"],
      ["first page, agent", "/api/console/entries?limit=50&actor=stf_fill_7"],
      ["first page, action group", "/api/console/entries?limit=50&group=billing"],
      ["first page, ticket", "/api/console/entries?limit=50&ticketId=100123"],
      ["first page, outcome=failed", "/api/console/entries?limit=50&outcome=failed"],
      ["first page, flag lookup_without_ticket", "/api/console/entries?limit=50&flag=lookup_without_ticket"],
      ["first page, flag cap_edge", "/api/console/entries?limit=50&flag=cap_edge"],
      // Stored flags (lookup_without_ticket and outside_hours are decided when read).
      ["first page, flag lookup_burst", "/api/console/entries?limit=50&flag=lookup_burst"],
      ["first page, flag repeated_denials", "/api/console/entries?limit=50&flag=repeated_denials"],
      ["overview (30-day charts, flag counts)", "/api/console/overview?days=30"],
    ];
    const rows: string[] = [];
    for (const [label, path] of scenarios) {
      const requests: LoadRequest[] = [{ path, headers }];
      await load(app.baseUrl, requests, { connections: CONNECTIONS, durationSec: 2 }); // warm-up
      const r = await load(app.baseUrl, requests, { connections: CONNECTIONS, durationSec: DURATION });
      rows.push(`${label.padEnd(42)} ${r.perSecond.toFixed(0).padStart(8)} ${r.p50.toFixed(0).padStart(7)} ${r.p95.toFixed(0).padStart(7)} ${r.p99.toFixed(0).padStart(7)} ${String(r.non2xx + r.errors).padStart(7)}`);
      if (r.non2xx + r.errors > 0) {
        // One request alone, to say what the failures were (and how long one takes unloaded).
        const started = performance.now();
        const probe = await fetch(`${app.baseUrl}${path}`, { headers }).catch((err: unknown) => err);
        const took = (performance.now() - started).toFixed(0);
        const why = probe instanceof Response ? `${probe.status} ${probe.ok ? "" : ((await probe.json().catch(() => ({}))) as { code?: string }).code ?? ""}` : String(probe);
        rows.push(`  ↳ alone: ${why} in ${took} ms`);
      }
    }

    // Export: one client reading the whole log as NDJSON.
    const exportStarted = performance.now();
    const res = await fetch(`${app.baseUrl}/api/console/export?format=ndjson`, { headers });
    let bytes = 0;
    let lines = 0;
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      for (const b of value) if (b === 10) lines++;
    }
    const exportSeconds = (performance.now() - exportStarted) / 1000;
    await app.stop();

    // The ceiling: a bare Express JSON route on this machine, same load.
    const bare = express();
    bare.get("/ping", (_req, r) => void r.json({ ok: true }));
    const server = bare.listen(0, "127.0.0.1");
    await new Promise<void>((ready) => server.once("listening", () => ready()));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const ceiling = await load(`http://127.0.0.1:${port}`, [{ path: "/ping", headers: {} }], { connections: CONNECTIONS, durationSec: DURATION });
    server.close();

    process.stdout.write(`\n${ENTRIES.toLocaleString("en")} entries, ${CONNECTIONS} connections, ${DURATION} s per scenario (latencies in ms)\n`);
    process.stdout.write(`${"scenario".padEnd(42)} ${"req/s".padStart(8)} ${"p50".padStart(7)} ${"p95".padStart(7)} ${"p99".padStart(7)} ${"errors".padStart(7)}\n`);
    for (const row of rows) process.stdout.write(`${row}\n`);
    process.stdout.write(`${"bare Express JSON route (ceiling)".padEnd(42)} ${ceiling.perSecond.toFixed(0).padStart(8)} ${ceiling.p50.toFixed(0).padStart(7)} ${ceiling.p95.toFixed(0).padStart(7)} ${ceiling.p99.toFixed(0).padStart(7)} ${String(ceiling.non2xx + ceiling.errors).padStart(7)}\n`);
    process.stdout.write(
      `\nexport (NDJSON, one client): ${lines.toLocaleString("en")} entries, ${(bytes / 1048576).toFixed(1)} MiB in ${exportSeconds.toFixed(1)} s → ${(lines / exportSeconds).toFixed(0)} entries/s, ${(bytes / 1048576 / exportSeconds).toFixed(1)} MiB/s (status ${res.status})\n`,
    );
  } finally {
    await database?.close();
    if (!values.keep) await admin(serverUrl, `drop database if exists ${name} with (force)`);
    else process.stdout.write(`kept database ${name}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
