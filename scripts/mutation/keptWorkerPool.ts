import { randomBytes } from "node:crypto";
import { appendFileSync } from "node:fs";
import { resolve } from "node:path";
import { Worker } from "node:worker_threads";
import { dropReusedDatabases } from "../../server/test/support/reusedDatabases.js";
import type { PoolOptions, PoolRunnerInitializer, PoolWorker, WorkerRequest } from "vitest/node";

/**
 * A vitest pool for the mutation run only (vitest.mutation.config.ts): one worker thread kept across runs.
 *
 * Stryker's vitest runner calls `vitest.start()` once per mutant, and vitest ends its worker after every
 * run, so each mutant paid for a new thread and a fresh import of the app (express, stripe, auth0, pg,
 * kysely and our modules: 1.4-2.5 s) before its first test. Stryker switches mutants at run time through a
 * global (`__stryker__.activeMutant`, set in a beforeAll of its setup file), so the modules need not be
 * imported again: with `isolate: false` the worker's module cache holds everything but the test files
 * (vitest re-imports those, and the setup files, on every run).
 *
 * The thread speaks vitest's own worker protocol (vitest/dist/workers/threads.js); this wrapper only
 * answers the `start` and `stop` of every run after the first itself, so the thread lives on, and sends each
 * run the project's current config (Stryker narrows `testNamePattern` per mutant; the thread would
 * otherwise keep the one it started with).
 */
type Listener = (arg: unknown) => void;
type Message = { __vitest_worker_response__?: boolean; type?: string };

/** Rebuild the thread now and then, so whatever a test leaks cannot pile up over thousands of runs. */
const RUNS_PER_THREAD = 400;

/** STEWARD_KEPT_THREAD_LOG=<file>: one line per run (process, run number, milliseconds), to measure a mutant's cost. */
const timingLog = process.env.STEWARD_KEPT_THREAD_LOG;

/** Names this process's reused test databases (server/test/support/reusedDatabases.ts), for its next thread to clear. */
const processToken = `${process.pid}_${randomBytes(3).toString("hex")}`;

class KeptThread {
  private thread: Worker | undefined;
  private started = false;
  private runs = 0;
  /** The wrapper whose run this is: the thread's messages go to its listeners alone. */
  private owner: KeptThreadWorker | undefined;
  /** One owner at a time (vitest is told maxWorkers 1; this holds even if not): the next waits its turn. */
  private turn: Promise<void> = Promise.resolve();
  private endTurn: (() => void) | undefined;
  /** Between a `run` and its `testfileFinished`. */
  private running = false;
  private runStarted = 0;

  get isStarted(): boolean {
    return this.started && this.thread !== undefined;
  }

  /** Waits for the previous run to end, then hands the thread (created if need be) to `owner`. */
  async acquire(owner: KeptThreadWorker, options: PoolOptions): Promise<void> {
    const previous = this.turn;
    this.turn = new Promise((done) => (this.endTurn = done));
    const endTurn = this.endTurn!;
    await previous;
    this.endTurn = endTurn;
    if (this.thread && this.runs >= RUNS_PER_THREAD) await this.terminate();
    this.owner = owner;
    if (this.thread) return;
    const thread = new Worker(resolve(options.distPath, "workers/threads.js"), {
      env: { ...options.env, STEWARD_KEPT_THREAD_TOKEN: processToken },
      execArgv: options.execArgv,
    });
    thread.unref();
    thread.on("message", (message: Message) => {
      if (message?.__vitest_worker_response__ && message.type === "started") this.started = true;
      if (message?.__vitest_worker_response__ && message.type === "testfileFinished") this.endRun();
      this.owner?.emit("message", message);
    });
    thread.on("error", (error) => this.owner?.emit("error", error));
    thread.on("exit", (code) => {
      if (this.thread !== thread) return;
      this.thread = undefined;
      this.started = false;
      this.endRun();
      this.owner?.emit("exit", code);
    });
    this.thread = thread;
    this.started = false;
    this.runs = 0;
  }

  post(message: { type: WorkerRequest["type"] }): void {
    if (!this.thread) throw new Error("kept-threads: no thread to send to");
    if (message.type === "run" || message.type === "collect") {
      this.runs += 1;
      this.running = true;
      this.runStarted = performance.now();
    }
    this.thread.postMessage(message);
  }

  /** The run is over: the owner lets go. A run still going (a forced stop) costs the thread. */
  async release(owner: KeptThreadWorker): Promise<void> {
    if (this.owner !== owner) return;
    if (this.running) await this.terminate();
    this.owner = undefined;
    const endTurn = this.endTurn;
    this.endTurn = undefined;
    endTurn?.();
  }

  async terminate(): Promise<void> {
    const thread = this.thread;
    this.thread = undefined;
    this.started = false;
    this.endRun();
    if (thread) await thread.terminate();
  }

  private endRun(): void {
    if (this.running && timingLog) appendFileSync(timingLog, `${process.pid} ${this.runs} ${Math.round(performance.now() - this.runStarted)}\n`);
    this.running = false;
  }
}

const kept = new KeptThread();

class KeptThreadWorker implements PoolWorker {
  readonly name = "kept-threads";
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly options: PoolOptions) {}

  on(event: string, callback: Listener): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(callback);
  }

  off(event: string, callback: Listener): void {
    this.listeners.get(event)?.delete(callback);
  }

  emit(event: string, arg: unknown): void {
    for (const callback of [...(this.listeners.get(event) ?? [])]) callback(arg);
  }

  /** Called before the runner listens; the replies below are sent a tick later, once it does. */
  private reply(message: Message): void {
    setImmediate(() => this.emit("message", { __vitest_worker_response__: true, ...message }));
  }

  send(message: WorkerRequest): void {
    if (message.type === "start" && kept.isStarted) return this.reply({ type: "started" });
    if (message.type === "stop") return this.reply({ type: "stopped" });
    if (message.type === "run" || message.type === "collect") {
      // Thread-side, the run's context is spread over the one `start` set up: this config wins.
      const withConfig = { ...message, context: { ...message.context, config: this.options.project.serializedConfig } };
      return kept.post(withConfig);
    }
    kept.post(message);
  }

  deserialize(data: unknown): unknown {
    return data;
  }

  async start(): Promise<void> {
    await kept.acquire(this, this.options);
  }

  async stop(): Promise<void> {
    await kept.release(this);
    this.listeners.clear();
  }
}

export const keptThreads: PoolRunnerInitializer = {
  name: "kept-threads",
  createPoolWorker: (options) => new KeptThreadWorker(options),
};

/** Ends the kept thread (vitest's close, i.e. Stryker disposing its runner) and drops the databases it kept. */
export async function endKeptThread(): Promise<void> {
  await kept.terminate();
  await dropReusedDatabases(processToken);
}
