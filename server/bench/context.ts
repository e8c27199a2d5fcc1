import { benchArgs, dataSetArgs, dataSetOptionsOf, directoryArg, directoryKindOf, wholeNumberArg, type DataSetOptions } from "./benchArgs.js";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { DEMO_AGENTS } from "../src/seed/demoAgents.js";
import type { LoadRequest, LoadResult } from "./lookupSetup.js";

const USAGE = `usage: npm run bench:context -- [--database postgres://…] [--data-dir DIR] [--accounts N] [--users-per-account N]
                                  [--duration S] [--connections N] [--requesters N] [--latency MS] [--directory builtin|http]

Load on GET /api/context with real sessions, three ways: built-in providers (all from the database), Auth0
and Stripe fakes answering after --latency ms (the parallel fan-out should keep p50 near one provider round
trip), and a bare Express JSON route as the ceiling of this machine, all in the same run. Without --database
it runs on PGlite under --data-dir; the synthetic data set is seeded once when missing. --directory http adds the
built-in run again with the demo product as the directory (its own process on loopback, its own PGlite beside
--data-dir, filled once), next to the built-in directory in the same run.`;

const values = benchArgs(USAGE, {
  ...dataSetArgs,
  duration: { type: "string", default: "15" },
  connections: { type: "string", default: "10" },
  requesters: { type: "string", default: "200" },
  latency: { type: "string", default: "100" },
  ...directoryArg,
});
const whole = wholeNumberArg;
const options: DataSetOptions = dataSetOptionsOf(values);
const DURATION = whole("duration", values.duration);
const CONNECTIONS = whole("connections", values.connections);
const REQUESTERS = whole("requesters", values.requesters);
const LATENCY = whole("latency", values.latency);
const DIRECTORY = directoryKindOf(values.directory);

// What it measures loads once the arguments parsed, so --help needs none of it.
const { default: express } = await import("express");
const { redactUrl } = await import("../src/db/database.js");
const { Auth0Fake } = await import("../test/fakes/auth0Fake.js");
const { StripeFake } = await import("../test/fakes/stripeFake.js");
const { startAppWithDirectory } = await import("./productDirectory.js");
const { load, openDataSet, threadCpuMs, startApp } = await import("./lookupSetup.js");

interface Requester {
  id: string;
  email: string;
  idp_id: string | null;
  account_id: string;
  plan: string;
  seats_licensed: number;
  billing_customer_id: string | null;
}

const row = (label: string, r: LoadResult) =>
  `${label.padEnd(46)} ${r.perSecond.toFixed(0).padStart(8)} ${r.p50.toFixed(0).padStart(6)} ${r.p95.toFixed(0).padStart(6)} ${r.p99.toFixed(0).padStart(6)} ${String(r.requests).padStart(8)} ${String(r.non2xx + r.errors).padStart(7)}`;

async function main(): Promise<void> {
  const database = await openDataSet(options);
  process.stdout.write(`database: ${database.kind} ${options.databaseUrl ? redactUrl(options.databaseUrl) : options.dataDir}\n`);
  // Requesters spread over the whole synthetic set, so caches see realistic variety.
  const step = Math.max(1, Math.floor(options.accounts / REQUESTERS));
  const ids = Array.from({ length: REQUESTERS }, (_, i) => `usr_s${String(1 + ((i * step) % options.accounts)).padStart(7, "0")}_${1 + (i % options.usersPerAccount)}`);
  const requesters = (await database.db
    .selectFrom("users as u")
    .innerJoin("accounts as a", "a.id", "u.account_id")
    .select(["u.id", "u.email", "u.idp_id", "u.account_id", "a.plan", "a.seats_licensed", "a.billing_customer_id"])
    .where("u.id", "in", ids)
    .execute()) as Requester[];
  if (requesters.length === 0) throw new Error("no synthetic users found; seeding failed?");

  const results: [string, LoadResult][] = [];
  /** The fakes' thread CPU during a scenario's measured load, by label. */
  const fakesCpu = new Map<string, number>();
  const requestsFor = (tokens: string[]): LoadRequest[] =>
    requesters.map((r, i) => ({
      path: `/api/context?email=${encodeURIComponent(r.email)}&externalId=${encodeURIComponent(r.id)}`,
      headers: { authorization: `Bearer ${tokens[i % tokens.length]}`, "x-ticket-id": String(10_000 + i) },
    }));

  // 1. Built-in identity and billing: every part comes from the database.
  const builtin = await startApp(options, database);
  const builtinTokens = await Promise.all(DEMO_AGENTS.map((a) => builtin.session(a.zendeskUserId)));
  const builtinRequests = requestsFor(builtinTokens);
  await load(builtin.baseUrl, builtinRequests, { connections: CONNECTIONS, durationSec: 3 }); // warm-up
  results.push(["context, built-in providers", await load(builtin.baseUrl, builtinRequests, { connections: CONNECTIONS, durationSec: DURATION })]);
  await builtin.stop();

  // 1b. The same, with the demo product answering the directory part over HTTP (--directory http).
  if (DIRECTORY === "http") {
    const product = await startAppWithDirectory("http", options, database);
    const productRequests = requestsFor(await Promise.all(DEMO_AGENTS.map((a) => product.session(a.zendeskUserId))));
    await load(product.baseUrl, productRequests, { connections: CONNECTIONS, durationSec: 3 }); // warm-up
    results.push(["context, built-in providers, http directory", await load(product.baseUrl, productRequests, { connections: CONNECTIONS, durationSec: DURATION })]);
    await product.stop();
  }

  // 2. Auth0 and Stripe fakes, each answering after LATENCY ms, on a thread of their own (as remote services would be).
  const fakes = await startFakes(requesters);
  const remote = await startApp(options, database, fakes.env);
  const remoteTokens = await Promise.all(DEMO_AGENTS.map((a) => remote.session(a.zendeskUserId)));
  const remoteRequests = requestsFor(remoteTokens);
  await load(remote.baseUrl, remoteRequests, { connections: CONNECTIONS, durationSec: 3 }); // warm-up, Auth0 token fetched once
  await fakes.ask({ cmd: "latency", ms: LATENCY });
  // One request at a time shows the fan-out itself: identity and billing in parallel cost one round trip, in series two.
  const withFakes = async (label: string, connections: number, durationSec: number): Promise<LoadResult> => {
    const before = (await fakes.ask({ cmd: "cpu" })).cpu;
    const result = await load(remote.baseUrl, remoteRequests, { connections, durationSec });
    fakesCpu.set(label, (await fakes.ask({ cmd: "cpu" })).cpu - before);
    results.push([label, result]);
    return result;
  };
  const unloaded = await withFakes(`context, fakes at ${LATENCY} ms, 1 connection`, 1, Math.min(DURATION, 8));
  await withFakes(`context, fakes at ${LATENCY} ms, ${CONNECTIONS} connections`, CONNECTIONS, DURATION);
  const { failed, previews, late } = await fakes.ask({ cmd: "stats" });
  await remote.stop();
  await fakes.ask({ cmd: "close" });
  await fakes.worker.terminate();

  // 3. The ceiling: Express answering a constant JSON body on this machine.
  const bare = express();
  bare.get("/ping", (_req, res) => {
    res.json({ ok: true });
  });
  const server = bare.listen(0, "127.0.0.1");
  await new Promise<void>((ready) => server.once("listening", () => ready()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  results.push(["bare Express JSON route (ceiling)", await load(`http://127.0.0.1:${port}`, [{ path: "/ping", headers: {} }], { connections: CONNECTIONS, durationSec: DURATION })]);
  server.close();

  process.stdout.write(`\n${CONNECTIONS} connections, ${DURATION} s each, ${requesters.length} requesters, ${options.accounts} accounts × ${options.usersPerAccount} users\n`);
  process.stdout.write(`${"scenario".padEnd(46)} ${"req/s".padStart(8)} ${"p50 ms".padStart(6)} ${"p95 ms".padStart(6)} ${"p99 ms".padStart(6)} ${"requests".padStart(8)} ${"errors".padStart(7)}\n`);
  for (const [label, r] of results) process.stdout.write(`${row(label, r)}\n`);
  // One process runs the app, the load generator and the fakes (each on its own thread): CPU per request by thread.
  process.stdout.write(`\nCPU ms per request: ${"process".padStart(8)} ${"app".padStart(6)} ${"fakes".padStart(6)} ${"load".padStart(6)} ${"other".padStart(6)}  (other: GC and libuv threads)\n`);
  for (const [label, r] of results) {
    const fake = fakesCpu.get(label) ?? 0;
    const per = (ms: number) => (ms / r.requests).toFixed(2).padStart(6);
    process.stdout.write(`${label.padEnd(46)} ${per(r.cpu.process).padStart(8)} ${per(r.cpu.app)} ${per(fake)} ${per(r.cpu.load)} ${per(r.cpu.process - r.cpu.app - fake - r.cpu.load)}\n`);
  }
  process.stdout.write(`provider calls answered with an error status: ${failed}\n`);
  if (late) {
    process.stdout.write(`fakes' answers sent after the ${LATENCY} ms set: p50 +${late.p50} ms, p99 +${late.p99} ms, max +${late.max} ms (${late.answers} answers; their thread's own queueing, which remote providers would not add)\n`);
  }
  if (previews) {
    process.stdout.write(`Stripe invoice previews with fakes at ${LATENCY} ms: ${previews.beside} asked beside the subscription list (one round), ${previews.after} after its answer (two rounds: no subscription hint, or a stale one)\n`);
  }
  const verdict = unloaded.p50 < LATENCY * 1.6 ? "parallel fan-out holds (in series it would be 2 round trips or more)" : "p50 is far above one provider round trip: calls are not overlapping";
  process.stdout.write(`fan-out check: one request at a time, p50 ${unloaded.p50.toFixed(0)} ms with ${LATENCY} ms per provider call → ${verdict}\n`);
  await database.close();
}

type FakesCommand = { cmd: "latency"; ms: number } | { cmd: "stats" } | { cmd: "cpu" } | { cmd: "close" };
/** `cpu`: the fakes' thread CPU ms so far. */
type FakesReply = { env: Record<string, string>; failed: number; cpu: number; previews?: PreviewRounds; late?: Lateness };
/** How long after the set latency the fakes' answers went out (their one thread's queueing), ms. */
type Lateness = { p50: number; p99: number; max: number; answers: number };
/** Stripe's invoice previews since the latency was set: asked beside the subscription list (one round) or after its answer (two). */
type PreviewRounds = { beside: number; after: number };

/** Starts the fakes on a worker thread, seeded with the requesters; `ask` sends one command and waits for its answer. */
async function startFakes(requesters: Requester[]) {
  // Workers do not inherit tsx's loader: the worker registers it, then loads this same file.
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const self = JSON.stringify(import.meta.url);
  const entry = new URL(`data:text/javascript,${encodeURIComponent(`const { tsImport } = await import(${tsx}); await tsImport(${self}, ${self});`)}`);
  const worker = new Worker(entry, { workerData: { role: "provider-fakes", requesters } });
  const next = () =>
    new Promise<FakesReply>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
  const { env } = await next();
  return {
    worker,
    env,
    ask(command: FakesCommand): Promise<FakesReply> {
      const reply = next();
      worker.postMessage(command);
      return reply;
    },
  };
}

async function runFakes(requesters: Requester[]): Promise<void> {
  const auth0 = new Auth0Fake();
  const stripe = new StripeFake();
  await Promise.all([auth0.start(), stripe.start()]);
  const prices = new Map<string, string>();
  for (const [plan, unitAmount] of [["starter", 1_500], ["team", 2_900], ["business", 4_900], ["enterprise", 8_900]] as const) {
    prices.set(plan, stripe.addPrice({ plan, interval: "month", unitAmount }).id);
  }
  for (const r of requesters) {
    auth0.addUser({ user_id: r.idp_id ?? `auth0|${r.id}`, email: r.email, sessions: 1 });
    if (r.billing_customer_id && !stripe.customers.has(r.billing_customer_id)) {
      stripe.addCustomer({ id: r.billing_customer_id, email: r.email });
      stripe.addSubscription({ id: `sub_${r.account_id}`, customer: r.billing_customer_id, price: prices.get(r.plan) ?? "price_team_month", quantity: r.seats_licensed, status: "active" });
    }
  }
  const env = { ...auth0.env(), ...stripe.env() };
  const failed = () => [...auth0.requests, ...stripe.requests].filter((r) => r.status >= 400).length;
  let measuredFrom = Infinity;
  const previewRounds = (): PreviewRounds => {
    const since = stripe.requests.filter((r) => r.at >= measuredFrom);
    const lists = since.filter((r) => r.method === "GET" && r.path === "/v1/subscriptions");
    const rounds = { beside: 0, after: 0 };
    for (const preview of since.filter((r) => r.method === "POST" && r.path === "/v1/invoices/create_preview")) {
      const customer = (preview.body as { customer?: string } | null)?.customer;
      // The customer's last list asked before this preview: in series the preview comes one latency after it.
      const list = lists.filter((l) => l.query.get("customer") === customer && l.at <= preview.at).reduce<number | undefined>((latest, l) => Math.max(latest ?? 0, l.at), undefined);
      if (list !== undefined && preview.at - list < stripe.latencyMs / 2) rounds.beside += 1;
      else rounds.after += 1;
    }
    return rounds;
  };
  const lateness = (): Lateness => {
    const late = [...auth0.requests, ...stripe.requests]
      .filter((r) => r.at >= measuredFrom && r.sentAt !== undefined)
      .map((r) => (r.sentAt ?? 0) - r.at - stripe.latencyMs)
      .sort((a, b) => a - b);
    const at = (p: number) => late[Math.min(late.length - 1, Math.floor(p * late.length))] ?? 0;
    return { p50: at(0.5), p99: at(0.99), max: late.at(-1) ?? 0, answers: late.length };
  };
  parentPort?.on("message", (command: FakesCommand) => {
    void (async () => {
      if (command.cmd === "latency") {
        auth0.latencyMs = command.ms;
        stripe.latencyMs = command.ms;
        measuredFrom = Date.now();
      }
      if (command.cmd === "close") await Promise.all([auth0.close(), stripe.close()]);
      parentPort?.postMessage({ env, failed: failed(), cpu: threadCpuMs(), ...(command.cmd === "stats" ? { previews: previewRounds(), late: lateness() } : {}) } satisfies FakesReply);
    })();
  });
  parentPort?.postMessage({ env, failed: 0, cpu: threadCpuMs() } satisfies FakesReply);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === "provider-fakes") {
  void runFakes((workerData as { requesters: Requester[] }).requesters);
} else {
  main().catch((err) => {
    process.stderr.write(`bench:context failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
