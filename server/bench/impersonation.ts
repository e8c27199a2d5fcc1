import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import type { Express } from "express";
import { benchArgs, wholeNumberArg } from "./benchArgs.js";
import type { AnyCommand } from "../src/commands/command.js";
import { DEMO_AGENTS } from "../src/seed/demoAgents.js";

/**
 * `npm run bench:impersonation -- [--database postgres://…] [--batches N] [--requests N]`
 * 1. Events ingested per second: batches of 50 posted to the product API, each event one chained
 *    audit entry (one transaction per batch).
 * 2. The kit's added latency per product request: the same Express route with and without the kit
 *    (an impersonated session: cookie check, guard, event recorded), sequential requests, same run;
 *    plus a bare Express JSON route as this machine's ceiling.
 */
const USAGE = `usage: npm run bench:impersonation -- [--database postgres://…] [--batches N] [--requests N]

Events ingested per second through the product API (batches of 50, each event a chained audit entry),
and the kit's added latency per product request (p50/p99, the same route with and without the kit,
sequential requests), with a bare Express JSON route as this machine's ceiling, in the same run.`;

const values = isMainThread ? benchArgs(USAGE, { database: { type: "string" }, batches: { type: "string", default: "40" }, requests: { type: "string", default: "2000" } }) : { database: undefined, batches: "1", requests: "1" };
const BATCHES = wholeNumberArg("batches", values.batches);
const REQUESTS = isMainThread ? wholeNumberArg("requests", values.requests) : (workerData as { requests: number }).requests;

// What it measures loads once the arguments parsed, so --help needs none of it.
const { default: express } = await import("express");
const { bannerHtml, ImpersonationKit, impersonationRouter } = await import("@steward/impersonation-kit");
const { createApp } = await import("../src/app.js");
const { startImpersonation } = await import("../src/commands/impersonation/start.js");
const { runCommand } = await import("../src/commands/runCommand.js");
const { loadConfig } = await import("../src/config.js");
const { TEST_RATE_LIMITS } = await import("../test/support/rateLimits.js");
const { redactUrl } = await import("../src/db/database.js");
const { registerProduct } = await import("../src/impersonation/products.js");
const { systemActor } = await import("../src/actor.js");
const { buildDeps } = await import("../src/server.js");

function listen(app: Express): Promise<{ server: Server; url: string }> {
  return new Promise((resolve) => {
    const server = app.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function timeRequests(url: string, headers: Record<string, string>): Promise<{ p50: number; p99: number; perSecond: number }> {
  for (let i = 0; i < 100; i++) await (await fetch(url, { headers })).arrayBuffer(); // warm-up
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    const response = await fetch(url, { headers });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
    times.push(performance.now() - t0);
  }
  const elapsed = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), perSecond: REQUESTS / elapsed };
}

async function main(): Promise<void> {
  // A bench on demo data: demo mode unless the caller says otherwise (the mode is never guessed from DATABASE_URL).
  const config = loadConfig({ STEWARD_MODE: "demo", ...process.env, ...TEST_RATE_LIMITS, LOG_LEVEL: "silent", DEMO_SEED: "true", DATA_DIR: "memory", DEMO_PRODUCT_PORT: "0", PUBLIC_URL: "http://127.0.0.1:41740", PORT: "41740", ...(values.database ? { DATABASE_URL: values.database } : {}) });
  const deps = await buildDeps(config);
  process.stdout.write(`database: ${deps.database.kind} ${values.database ? redactUrl(values.database) : "memory"}\n`);
  const steward = createApp(deps).listen(41740, "127.0.0.1");
  await new Promise((r) => steward.once("listening", r));
  const product = await registerProduct(deps.database.db, deps.clock, { id: "prd_bench", name: "Bench product", url: "http://127.0.0.1:41741", actor: systemActor("bench") });
  const credential = `${product.id}.${product.secret}`;
  await deps.database.db.updateTable("impersonation_sessions").set({ ended_at: new Date(), end_reason: "agent", ended_by: "bench" }).where("ended_at", "is", null).execute();

  const agent = DEMO_AGENTS.find((a) => a.role === "admin")!;
  const users = await deps.database.db.selectFrom("users as u").innerJoin("accounts as a", "a.id", "u.account_id").select(["u.id", "u.version"]).where("u.status", "=", "active").where("u.blocked", "=", false).where("u.role", "=", "member").where("a.status", "=", "active").limit(2).execute();
  const startFor = async (user: { id: string; version: number }) => {
    const response = await runCommand(
      startImpersonation as unknown as AnyCommand,
      { actor: { kind: "staff", staffId: agent.id, zendeskUserId: agent.zendeskUserId, email: agent.email, name: agent.name, panelRole: agent.role }, ticketId: "1001", reason: "Benchmark of the impersonation path", target: { type: "user", id: user.id }, expectedVersion: user.version, input: { mode: "full", minutes: 120, productId: product.id } },
      deps,
    );
    return response.result as { sessionId: string; grant: string };
  };

  // 1. Event ingestion.
  const first = await startFor(users[0]!);
  const redeemed = await fetch("http://127.0.0.1:41740/api/impersonation/redeem", { method: "POST", headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" }, body: JSON.stringify({ grant: first.grant }) });
  if (!redeemed.ok) throw new Error(`redeem answered ${redeemed.status}`);
  let n = 0;
  const batch = () => Array.from({ length: 50 }, () => ({ id: `e${n++}`, method: "GET", route: "GET /projects/:id", object: `project:${n}`, outcome: "succeeded", status: 200, occurredAt: new Date().toISOString() }));
  const t0 = performance.now();
  for (let i = 0; i < BATCHES; i++) {
    const r = await fetch(`http://127.0.0.1:41740/api/impersonation/sessions/${first.sessionId}/events`, { method: "POST", headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" }, body: JSON.stringify({ events: batch() }) });
    if (!r.ok) throw new Error(`events answered ${r.status}: ${await r.text()}`);
  }
  const eventsPerSecond = (BATCHES * 50) / ((performance.now() - t0) / 1000);
  await deps.database.db.updateTable("impersonation_sessions").set({ ended_at: new Date(), end_reason: "agent", ended_by: "bench" }).where("ended_at", "is", null).execute();

  // 2. Kit latency, measured in a worker thread: the product has its own event loop, as in production.
  const second = await startFor({ id: users[1]!.id, version: (await deps.database.db.selectFrom("users").select("version").where("id", "=", users[1]!.id).executeTakeFirstOrThrow()).version });
  // Workers do not inherit tsx's loader: the worker registers it, then loads this same file.
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const self = JSON.stringify(import.meta.url);
  const entry = new URL(`data:text/javascript,${encodeURIComponent(`const { tsImport } = await import(${tsx}); await tsImport(${self}, ${self});`)}`);
  const worker = new Worker(entry, { workerData: { credential, grant: second.grant, requests: REQUESTS } });
  const { without, within, top } = await new Promise<ProductTimings>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  await worker.terminate();
  const recorded = await deps.database.db.selectFrom("impersonation_events").select((eb) => eb.fn.countAll<number>().as("n")).where("session_id", "=", second.sessionId).executeTakeFirstOrThrow();

  const ms = (x: number) => x.toFixed(2).padStart(8);
  process.stdout.write(`\nevents ingested (batches of 50, one connection): ${eventsPerSecond.toFixed(0)} events/s over ${BATCHES * 50} events\n\n`);
  process.stdout.write(`${"product request (sequential, keep-alive)".padEnd(44)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"req/s".padStart(8)}\n`);
  process.stdout.write(`${"GET /projects without the kit".padEnd(44)} ${ms(without.p50)} ${ms(without.p99)} ${without.perSecond.toFixed(0).padStart(8)}\n`);
  process.stdout.write(`${"GET /projects with the kit (impersonated)".padEnd(44)} ${ms(within.p50)} ${ms(within.p99)} ${within.perSecond.toFixed(0).padStart(8)}\n`);
  process.stdout.write(`${"bare Express JSON route (ceiling)".padEnd(44)} ${ms(top.p50)} ${ms(top.p99)} ${top.perSecond.toFixed(0).padStart(8)}\n`);
  process.stdout.write(`kit added p50 ${(within.p50 - without.p50).toFixed(2)} ms, p99 ${(within.p99 - without.p99).toFixed(2)} ms; ${recorded.n} of ${REQUESTS + 100} requests already recorded as events on Steward\n`);
  steward.close();
  await deps.database.close();
}

interface ProductTimings {
  without: Awaited<ReturnType<typeof timeRequests>>;
  within: Awaited<ReturnType<typeof timeRequests>>;
  top: Awaited<ReturnType<typeof timeRequests>>;
}

/** The product side: the same route with and without the kit, and a bare JSON route, in this thread. */
async function productWorker(input: { credential: string; grant: string }): Promise<ProductTimings> {
  const route = (app: Express) => app.get("/projects", (req, res) => res.json({ projects: [{ id: "p1", name: "Roadmap" }], banner: bannerHtml(req).length > 0 }));
  const bare = express();
  route(bare);
  const kit = new ImpersonationKit({ stewardUrl: "http://127.0.0.1:41740", credential: input.credential, pollMs: 2000 });
  const withKit = express();
  withKit.use(impersonationRouter(kit, { startSession: () => undefined, endSession: () => undefined, landingPath: "/projects" }));
  route(withKit);
  const ceiling = express();
  ceiling.get("/", (_req, res) => res.json({ ok: true }));
  const [a, b, c] = await Promise.all([listen(bare), listen(withKit), listen(ceiling)]);
  const entry = await fetch(`${b.url}/steward/impersonate?grant=${encodeURIComponent(input.grant)}`, { redirect: "manual" });
  const cookie = (entry.headers.getSetCookie()[0] ?? "").split(";")[0] ?? "";
  if (entry.status !== 303 || !cookie) throw new Error(`the kit did not start the session (${entry.status})`);
  const without = await timeRequests(`${a.url}/projects`, {});
  const within = await timeRequests(`${b.url}/projects`, { cookie });
  const top = await timeRequests(`${c.url}/`, {});
  await kit.close();
  for (const s of [a.server, b.server, c.server]) s.close();
  return { without, within, top };
}

if (!isMainThread) {
  const input = workerData as { credential: string; grant: string };
  productWorker(input).then((timings) => parentPort?.postMessage(timings));
} else main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
