import type { ChildProcess } from "node:child_process";
import type { Client } from "pg";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import type { Database } from "../server/src/db/database.js";
import type { AppDeps } from "../server/src/deps.js";
import type { Answer } from "../server/test/support/load.js";
import type { StewardProcess } from "../server/test/support/stewardProcess.js";

/**
 * The fault table: starts real Steward processes on loopback against a PostgreSQL server on
 * loopback, injects each fault a bounded number of times and prints, per fault, how many were
 * injected, survived (the guarantee held) and lost (it did not: a crash, a request served when it
 * must not be, a mail never delivered…).
 */
const HELP = `usage: npm run chaos -- [options]

Injects faults into real Steward processes (loopback only) and prints faults injected / survived / lost.

  --rounds N          injections per fault (1-5, default 2)
  --max-seconds S     stop starting new rounds after S seconds (default 420)
  --database URL      PostgreSQL admin URL on loopback (default postgres://postgres@127.0.0.1:5432/postgres)
  --db-prefix NAME    prefix of the throw-away databases (default steward_chaos)
  --ports FROM-TO     loopback ports for the Steward processes (default 41300-41399)
  --lock-seconds S    how long the lock-stall fault holds its lock (default 12)
  --only NAME         run one fault: db-terminate, lock-stall, sigterm, mail-kill, provider-kill
  --help              this text

Each fault runs on a fresh database that is dropped afterwards.`;

const chaosOptions = {
  rounds: { type: "string", default: "2" },
  "max-seconds": { type: "string", default: "420" },
  database: { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
  "db-prefix": { type: "string", default: "steward_chaos" },
  ports: { type: "string", default: "41300-41399" },
  "lock-seconds": { type: "string", default: "12" },
  only: { type: "string" },
  help: { type: "boolean", default: false },
} as const;

/** Bad options: one line naming the problem, exit 2. */
const fail = (msg: string): never => {
  process.stderr.write(`chaos: ${msg} (npm run chaos -- --help)\n`);
  process.exit(2);
};
const parsed = (() => {
  try {
    return parseArgs({ options: chaosOptions });
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
})();
const { values } = parsed;
if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 5) fail("--rounds: expected 1-5");
const maxSeconds = Number(values["max-seconds"]);
if (!(maxSeconds > 0 && maxSeconds <= 3600)) fail("--max-seconds: expected 1-3600");
const lockSeconds = Number(values["lock-seconds"]);
if (!(lockSeconds >= 2 && lockSeconds <= 60)) fail("--lock-seconds: expected 2-60");
const adminUrl = new URL(values.database);
if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(adminUrl.hostname)) fail("--database: loopback only");
const portRange = /^(\d+)-(\d+)$/.exec(values.ports ?? "");
if (!portRange) fail("--ports: expected FROM-TO");
const ports = { from: Number(portRange?.[1]), to: Number(portRange?.[2]) };
if (!/^[a-z_][a-z0-9_]{0,30}$/.test(values["db-prefix"] ?? "")) fail("--db-prefix: lower-case letters, digits, _");
const deadline = Date.now() + maxSeconds * 1000;

// What it drives loads once the options checked out, so --help needs none of it.
const { default: pg } = await import("pg");
const { issueSessionToken } = await import("../server/src/auth/sessionToken.js");
const { systemClock } = await import("../server/src/clock.js");
const { loadConfig } = await import("../server/src/config.js");
const { openDatabase } = await import("../server/src/db/database.js");
const { migrateToLatest } = await import("../server/src/db/migrate.js");
const { messageIdFor } = await import("../server/src/mail/delivery.js");
const { enqueueMail } = await import("../server/src/mail/outbox.js");
const { SmtpSink } = await import("../server/test/mail/smtpSink.js");
const { seedDemoData } = await import("../server/src/seed/demo.js");
const { mirrorDemoBillingInto, mirrorDemoUsersInto } = await import("../server/test/actions/demoProviders.js");
const { Auth0Fake } = await import("../server/test/fakes/auth0Fake.js");
const { StripeFake } = await import("../server/test/fakes/stripeFake.js");
const { runLoad, sleep } = await import("../server/test/support/load.js");
const { freePort, spawnSteward } = await import("../server/test/support/stewardProcess.js");

interface Row {
  fault: string;
  injected: number;
  survived: number;
  lost: number;
  notes: string[];
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl.toString() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database; dropped by the returned function. */
async function freshDatabase(): Promise<{ url: string; name: string; database: Database; drop: () => Promise<void> }> {
  const name = `${values["db-prefix"]}_${randomBytes(4).toString("hex")}`;
  await admin((c) => c.query(`create database ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ kind: "postgres", url: url.toString(), poolSize: 2 });
  await migrateToLatest(database.db);
  return {
    url: url.toString(),
    name,
    database,
    drop: async () => {
      await database.close();
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}

const token = async () => (await issueSessionToken({ config: loadConfig({}), clock: systemClock }, { staffId: "stf_demo_read", zendeskUserId: "9001" })).token;
// A loaded machine can take long to start a process (tsx compiles on the fly): allow 3 minutes.
const start = async (env: Record<string, string>, onSpawn?: (child: ChildProcess) => void) =>
  spawnSteward({ LOG_LEVEL: "warn", ...env }, { port: await freePort(ports), onSpawn, mayExitBeforeReady: onSpawn !== undefined, readyTimeoutMs: 180_000 });
const alive = (p: StewardProcess) => p.child.exitCode === null && p.child.signalCode === null;
const countBy = (answers: Answer[]) => answers.reduce<Record<string, number>>((acc, a) => ((acc[String(a.status)] = (acc[String(a.status)] ?? 0) + 1), acc), {});

/** Backends terminated under load: the process lives, answers 503 meanwhile, and serves 200 again. */
async function dbTerminate(row: Row): Promise<void> {
  const db = await freshDatabase();
  const steward = await start({ DATABASE_URL: db.url, DATABASE_LOCK_TIMEOUT_MS: "2000" });
  try {
    const bearer = await token();
    let stop = false;
    const load = runLoad({ url: steward.url, path: "/api/session", token: bearer, concurrency: 8, until: () => stop });
    const statuses: Record<string, number> = {};
    for (let i = 0; i < rounds && Date.now() < deadline; i++) {
      await sleep(500);
      await admin((c) => c.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", [db.name]));
      row.injected++;
      await sleep(1_500);
      const recovered = alive(steward) && (await fetch(`${steward.url}/api/session`, { headers: { authorization: `Bearer ${bearer}` } }).then((r) => r.status === 200, () => false));
      if (recovered) row.survived++;
      else row.lost++;
    }
    stop = true;
    for (const [k, v] of Object.entries(countBy(await load))) statuses[k] = (statuses[k] ?? 0) + v;
    const bad = Object.entries(statuses).filter(([s]) => s !== "200" && s !== "503");
    row.notes.push(`answers ${JSON.stringify(statuses)}${bad.length ? " (unexpected statuses)" : ""}`);
    if (bad.length && row.lost === 0) row.lost = 1;
  } finally {
    steward.child.kill("SIGKILL");
    await db.drop();
  }
}

/** A lock held for --lock-seconds: requests give up at the lock timeout with 503, then work again. */
async function lockStall(row: Row): Promise<void> {
  const db = await freshDatabase();
  const lockTimeoutMs = 1_000;
  const steward = await start({ DATABASE_URL: db.url, DATABASE_LOCK_TIMEOUT_MS: String(lockTimeoutMs) });
  try {
    const bearer = await token();
    for (let i = 0; i < rounds && Date.now() < deadline; i++) {
      const holder = new pg.Client({ connectionString: db.url });
      await holder.connect();
      await holder.query("begin");
      await holder.query("lock table staff in access exclusive mode");
      row.injected++;
      const heldFrom = Date.now();
      const during = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const t = Date.now();
          const r = await fetch(`${steward.url}/api/session`, { headers: { authorization: `Bearer ${bearer}` } });
          return { status: r.status, ms: Date.now() - t };
        }),
      );
      await sleep(Math.max(0, lockSeconds * 1000 - (Date.now() - heldFrom)));
      await holder.query("commit");
      await holder.end();
      const after = await fetch(`${steward.url}/api/session`, { headers: { authorization: `Bearer ${bearer}` } });
      const slowest = Math.max(...during.map((d) => d.ms));
      const ok = during.every((d) => d.status === 503) && slowest < lockTimeoutMs + 3_000 && after.status === 200;
      if (ok) row.survived++;
      else row.lost++;
      row.notes.push(`${lockSeconds} s lock: 503 after ≤ ${slowest} ms (limit ${lockTimeoutMs} ms), then ${after.status}`);
    }
  } finally {
    steward.child.kill("SIGKILL");
    await db.drop();
  }
}

/** SIGTERM under keep-alive load with requests in flight: none served after the stop began, in-flight finish, exit 0 in time. */
async function sigterm(row: Row): Promise<void> {
  const graceMs = 5_000;
  for (let i = 0; i < rounds && Date.now() < deadline; i++) {
    const db = await freshDatabase();
    const steward = await start({ DATABASE_URL: db.url, SHUTDOWN_GRACE_MS: String(graceMs), DATABASE_LOCK_TIMEOUT_MS: "20000", LOG_LEVEL: "info" });
    try {
      const bearer = await token();
      let exited = false;
      void steward.exited.then(() => sleep(300).then(() => (exited = true)));
      const load = runLoad({ url: steward.url, path: "/api/session", token: bearer, concurrency: 6, until: () => exited });
      await sleep(1_000);
      const holder = new pg.Client({ connectionString: db.url });
      await holder.connect();
      await holder.query("begin");
      await holder.query("lock table staff in access exclusive mode");
      await sleep(300);
      const signalledAt = Date.now();
      steward.child.kill("SIGTERM");
      row.injected++;
      await sleep(800);
      await holder.query("commit");
      await holder.end();
      const exit = await steward.exited;
      const answers = await load;
      const drainLine = steward.logLines().find((l) => l.msg?.startsWith("shutting down"));
      const drainAt = drainLine?.time ? Date.parse(String(drainLine.time)) : signalledAt;
      const servedLate = answers.filter((a) => a.sentAt > drainAt && a.status === 200).length;
      const inFlight = answers.filter((a) => a.sentAt < drainAt && a.doneAt > drainAt);
      const inFlightLost = inFlight.filter((a) => a.status !== 200).length;
      const exitMs = exit.at - signalledAt;
      const ok = exit.code === 0 && exitMs < graceMs && servedLate === 0 && inFlightLost === 0;
      if (ok) row.survived++;
      else row.lost++;
      row.notes.push(`exit ${exit.code} after ${exitMs} ms (grace ${graceMs}); in flight ${inFlight.length}, lost ${inFlightLost}; served after stop ${servedLate}`);
    } finally {
      steward.child.kill("SIGKILL");
      await db.drop();
    }
  }
}

/** kill -9 between the SMTP server receiving a mail and its ack: all mail delivered, the one duplicate audited. */
async function mailKill(row: Row): Promise<void> {
  const mails = 10;
  for (let i = 0; i < rounds && Date.now() < deadline; i++) {
    const db = await freshDatabase();
    const sink = new SmtpSink();
    await sink.start();
    const from = "Chaos <chaos@steward.test>";
    try {
      const ids: string[] = [];
      for (let m = 0; m < mails; m++) {
        const { id } = await enqueueMail(db.database.db, { to: `c${m}@example.test`, subject: `n${m}`, bodyText: "b", kind: "test", accountId: null, userId: null, ticketId: "1", operationId: null }, new Date(Date.now() + m));
        ids.push(id);
      }
      const env = { DATABASE_URL: db.url, DEMO_SEED: "false", SMTP_URL: sink.url, MAIL_FROM: from, MAIL_POLL_MS: "100", MAIL_LEASE_MS: "2000" };
      const victim: { child?: ChildProcess } = {};
      const killAt = 2 + i;
      sink.beforeAck = () => {
        if (sink.received.length === killAt) victim.child?.kill("SIGKILL");
      };
      const first = await start(env, (child) => (victim.child = child));
      await first.exited;
      row.injected++;
      sink.beforeAck = undefined;
      const second = await start(env);
      const restartedAt = Date.now();
      let sent = 0;
      while (Date.now() - restartedAt < 30_000) {
        sent = (await db.database.db.selectFrom("mail_outbox").select("id").where("status", "=", "sent").execute()).length;
        if (sent === mails) break;
        await sleep(100);
      }
      const tookMs = Date.now() - restartedAt;
      second.child.kill("SIGTERM");
      await second.exited;
      const copies = new Map<string, number>();
      for (const m of sink.received) copies.set(m.messageId, (copies.get(m.messageId) ?? 0) + 1);
      const missing = ids.filter((id) => !copies.has(messageIdFor(id, from))).length;
      const duplicates = [...copies.values()].filter((n) => n > 1).length;
      const unknownAudited = (await db.database.db.selectFrom("audit_log").select("id").where("action", "=", "mail.deliver").where("outcome", "=", "unknown").execute()).length;
      const ok = missing === 0 && duplicates <= 1 && unknownAudited >= duplicates;
      if (ok) row.survived++;
      else row.lost++;
      row.notes.push(`${mails} mails: missing ${missing}, duplicates ${duplicates} (audited unknown ${unknownAudited}), all sent ${tookMs} ms after restart`);
    } finally {
      await sink.close();
      await db.drop();
    }
  }
}

/**
 * kill -9 while provider calls are in flight (the Stripe and Auth0 fakes run in this process, the
 * Steward process talks to them over loopback; injected delays hold each call so the kill lands
 * mid-call): one credit applied with its answer held back, one credit not applied yet, one Auth0
 * block applied. After a restart: every operation closed, no Idempotency-Key left in progress, the
 * agent's retries with the same keys get the real outcome, nothing applied twice at the providers.
 */
async function providerKill(row: Row): Promise<void> {
  for (let i = 0; i < rounds && Date.now() < deadline; i++) {
    const db = await freshDatabase();
    const stripe = new StripeFake();
    const auth0 = new Auth0Fake();
    await stripe.start();
    await auth0.start();
    const running: StewardProcess[] = [];
    try {
      const config = loadConfig({ STEWARD_MODE: "demo", LOG_LEVEL: "silent", DEMO_SEED: "false" });
      await seedDemoData(db.database.db);
      const deps = { config, database: db.database, clock: systemClock } as unknown as AppDeps;
      await mirrorDemoBillingInto(stripe, deps);
      await mirrorDemoUsersInto(auth0, deps);
      const version = async (table: "accounts" | "users", id: string) => (await db.database.db.selectFrom(table).select("version").where("id", "=", id).executeTakeFirstOrThrow()).version;
      const idp = (await db.database.db.selectFrom("users").select("idp_id").where("id", "=", "usr_demo_006_1").executeTakeFirstOrThrow()).idp_id as string;
      const requests = [
        { key: `kill-credit-applied-${i}`, action: "billing.credit_apply", body: { ticketId: "1001", reason: "Goodwill credit", target: { type: "account", id: "acc_demo_001" }, expectedVersion: await version("accounts", "acc_demo_001"), input: { amountCents: 1_100 } } },
        { key: `kill-credit-not-yet-${i}`, action: "billing.credit_apply", body: { ticketId: "1003", reason: "Goodwill credit", target: { type: "account", id: "acc_demo_003" }, expectedVersion: await version("accounts", "acc_demo_003"), input: { amountCents: 1_300 } } },
        { key: `kill-block-applied-${i}`, action: "user.block", body: { ticketId: "1006", reason: "Reported compromised", target: { type: "user", id: "usr_demo_006_1" }, expectedVersion: await version("users", "usr_demo_006_1"), input: {} } },
      ];
      const bearer = (await issueSessionToken({ config: loadConfig({}), clock: systemClock }, { staffId: "stf_demo_full", zendeskUserId: "9002" })).token;
      const env = { DATABASE_URL: db.url, ...stripe.env(), ...auth0.env(), PROVIDER_TIMEOUT_MS: "30000", OPERATION_LEASE_MS: "1500", RECONCILE_INTERVAL_MS: "200" };
      const send = (url: string, r: (typeof requests)[number]) =>
        fetch(`${url}/api/actions/${r.action}`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", "idempotency-key": r.key }, body: JSON.stringify(r.body) });
      const creditsOf = (customer: string) => stripe.balanceTransactions.filter((t) => t.customer === customer).length;

      const first = await start(env);
      running.push(first);
      stripe.delayAfterApply(120_000, 1, { method: "POST", path: "/v1/customers/cus_demo_001/balance_transactions" });
      stripe.delayNext(120_000, 1, { method: "POST", path: "/v1/customers/cus_demo_003/balance_transactions" });
      auth0.delayAfterApply(120_000, 1, { method: "PATCH" });
      const inFlight = requests.map((r) => send(first.url, r).catch(() => null));
      const arrived = () => creditsOf("cus_demo_001") === 1 && stripe.arrivals.some((a) => a.path === "/v1/customers/cus_demo_003/balance_transactions") && auth0.arrivals.some((a) => a.method === "PATCH");
      const waitUntil = Date.now() + 30_000;
      while (!arrived() && Date.now() < waitUntil) await sleep(50);
      if (!arrived()) throw new Error("the provider calls did not all arrive before the kill");
      first.child.kill("SIGKILL");
      await first.exited;
      row.injected++;
      await Promise.all(inFlight);
      stripe.clearFaults();
      auth0.clearFaults();
      await stripe.idle();

      const second = await start(env);
      running.push(second);
      const restartedAt = Date.now();
      const outcomes: string[] = [];
      for (const r of requests) {
        let last = "";
        while (Date.now() - restartedAt < 60_000) {
          const res = await send(second.url, r);
          const body = (await res.json()) as { replayed?: boolean; outcome?: string; code?: string };
          last = `${res.status}${body.code ? ` ${body.code}` : ""}`;
          if (res.status === 200) {
            last = body.replayed && body.outcome === "succeeded" ? "replayed succeeded" : `200 not a replay`;
            break;
          }
          await sleep(200);
        }
        outcomes.push(last);
      }
      const settledMs = Date.now() - restartedAt;
      const open = await db.database.db.selectFrom("provider_operations").select("operation_id").where("status", "in", ["pending", "unknown", "needs_review"]).execute();
      const stuck = await db.database.db.selectFrom("idempotency_keys").select("key").where("status", "=", "in_progress").execute();
      const twice = [creditsOf("cus_demo_001"), creditsOf("cus_demo_003")].filter((n) => n !== 1).length;
      const blocked = auth0.users.get(idp)?.blocked === true;
      const ok = open.length === 0 && stuck.length === 0 && twice === 0 && blocked && outcomes.every((o) => o === "replayed succeeded");
      if (ok) row.survived++;
      else row.lost++;
      row.notes.push(`3 calls in flight: open operations ${open.length}, keys stuck ${stuck.length}, applied twice ${twice}, agent retries ${JSON.stringify(outcomes)}, settled ${settledMs} ms after restart`);
    } finally {
      for (const p of running) p.child.kill("SIGKILL");
      await Promise.all(running.map((p) => p.exited));
      await stripe.close();
      await auth0.close();
      await db.drop();
    }
  }
}

const faults: [string, string, (row: Row) => Promise<void>][] = [
  ["db-terminate", "DB connections terminated under load", dbTerminate],
  ["lock-stall", `lock held ${lockSeconds} s`, lockStall],
  ["sigterm", "SIGTERM under keep-alive load", sigterm],
  ["mail-kill", "kill -9 during mail delivery (lost ack)", mailKill],
  ["provider-kill", "kill -9 during a provider call", providerKill],
];

const table: Row[] = [];
for (const [key, fault, run] of faults) {
  if (values.only && values.only !== key) continue;
  const row: Row = { fault, injected: 0, survived: 0, lost: 0, notes: [] };
  table.push(row);
  if (Date.now() > deadline) {
    row.notes.push("not run: --max-seconds reached");
    continue;
  }
  process.stderr.write(`chaos: ${fault}…\n`);
  try {
    await run(row);
  } catch (err) {
    row.notes.push(`harness error: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  }
}

process.stdout.write("\n| fault | injected | survived | lost | notes |\n|---|--:|--:|--:|---|\n");
for (const r of table) process.stdout.write(`| ${r.fault} | ${r.injected} | ${r.survived} | ${r.lost} | ${r.notes.join("; ")} |\n`);
process.exit(table.some((r) => r.lost > 0) ? 1 : 0);
