import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the fake saw it, and what it answered. */
export interface RecordedRequest {
  /** When the request arrived (ms since epoch). */
  at: number;
  method: string;
  /** Path without the query string, still percent-encoded as sent. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: unknown;
  status: number;
  responseBody: unknown;
  /** When the answer was handed to the socket (ms since epoch); absent for a dropped request. */
  sentAt?: number;
  /** How the fault injection changed this request, if it did. */
  fault?: "failed" | "delayed" | "dropped" | "applied-then-delayed" | "applied-then-failed";
  /** Stripe: answered from the idempotency store without doing anything. */
  replayed?: boolean;
}

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: unknown;
}

export interface FakeReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  replayed?: boolean;
}

/** Which requests a fault applies to; by default the next faultable one, whatever it is. */
export interface FaultTarget {
  method?: string;
  /** Matched against the path as sent (percent-encoded), e.g. /subscriptions/ or "/v1/customers/cus_1". */
  path?: string | RegExp;
}

export interface FailOptions extends FaultTarget {
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
}

type Fault<T> = T & { target: FaultTarget };

function hits(target: FaultTarget, req: FakeRequest): boolean {
  if (target.method && target.method !== req.method) return false;
  if (typeof target.path === "string") return req.path === target.path;
  return target.path ? target.path.test(req.path) : true;
}

/** Removes and returns the first queued fault aimed at this request. */
function take<T>(queue: Fault<T>[], req: FakeRequest): Fault<T> | undefined {
  const index = queue.findIndex((f) => hits(f.target, req));
  return index === -1 ? undefined : queue.splice(index, 1)[0];
}

/**
 * A small stateful HTTP server for one provider: a request log, fault injection (failures, delays,
 * dropped responses) and a latency setting. Subclasses implement the provider's endpoints.
 */
export abstract class HttpFake {
  /**
   * Every answer is sent this long after its request arrived, e.g. 100 ms to model a provider across the
   * internet. The request is handled on arrival and its answer held until then, so the fake's own work
   * (one thread for every call) is inside the latency, as a remote service's servers are, not added to it.
   */
  latencyMs = 0;
  readonly requests: RecordedRequest[] = [];
  /** Every request as it arrived, before any fault or answer (to see what is in flight). */
  readonly arrivals: { at: number; method: string; path: string }[] = [];
  private failures: Fault<{ status: number; options: FailOptions }>[] = [];
  private delays: Fault<{ ms: number }>[] = [];
  private drops: Fault<object>[] = [];
  private lateDelays: Fault<{ ms: number }>[] = [];
  private lateFailures: Fault<{ status: number; options: FailOptions }>[] = [];
  private armed: { after: FaultTarget; n: number; status: number; options: FailOptions }[] = [];
  private server: Server | undefined;
  private baseUrl = "";
  private inFlight = 0;
  private lastArrival = 0;

  /** The next n faultable requests (matching `options`) answer `status` without taking effect. */
  failNext(n: number, status: number, options: FailOptions = {}): this {
    for (let i = 0; i < n; i++) this.failures.push({ status, options, target: options });
    return this;
  }

  /** The next n faultable requests (matching `target`) wait `ms` before being handled (for timeouts). */
  delayNext(ms: number, n = 1, target: FaultTarget = {}): this {
    for (let i = 0; i < n; i++) this.delays.push({ ms, target });
    return this;
  }

  /** The next n faultable requests (matching `target`) take effect, then the connection is reset instead of answered. */
  dropNext(n = 1, target: FaultTarget = {}): this {
    for (let i = 0; i < n; i++) this.drops.push({ target });
    return this;
  }

  /** The next n faultable requests (matching `target`) take effect, then their answer waits `ms` (a timeout after the change). */
  delayAfterApply(ms: number, n = 1, target: FaultTarget = {}): this {
    for (let i = 0; i < n; i++) this.lateDelays.push({ ms, target });
    return this;
  }

  /** The next n faultable requests (matching `options`) take effect, then answer `status` as if they had not. */
  failAfterApply(n: number, status: number, options: FailOptions = {}): this {
    for (let i = 0; i < n; i++) this.lateFailures.push({ status, options, target: options });
    return this;
  }

  /** Once a request matching `after` has taken effect, the next n requests matching `options` fail (a read-back failing after a write). */
  failNextAfter(after: FaultTarget, n: number, status: number, options: FailOptions = {}): this {
    this.armed.push({ after, n, status, options });
    return this;
  }

  clearFaults(): void {
    this.armed = [];
    this.failures = [];
    this.delays = [];
    this.drops = [];
    this.lateDelays = [];
    this.lateFailures = [];
  }

  /** Resolves once nothing is being handled and nothing new arrived for `quietMs` (stragglers of a failed fan-out). */
  async idle(quietMs = 50): Promise<void> {
    while (this.inFlight > 0 || Date.now() - this.lastArrival < quietMs) await sleep(5);
  }

  get url(): string {
    if (!this.baseUrl) throw new Error("fake not started");
    return this.baseUrl;
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.inFlight++;
      this.lastArrival = Date.now();
      this.handle(req, res)
        .catch((err: unknown) => {
          if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: String(err) }));
        })
        .finally(() => this.inFlight--);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Requests whose path matches, in order. */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && (typeof path === "string" ? r.path === path : path.test(r.path)));
  }

  protected abstract route(req: FakeRequest): FakeReply | Promise<FakeReply>;
  protected abstract parseBody(raw: string, headers: IncomingHttpHeaders): unknown;
  /** The provider's own error body for an injected failure. */
  protected abstract errorReply(status: number, options: FailOptions): FakeReply;
  /** An injected failure replaced the answer of a request that took effect (a provider that stores answers under a key stores this one). */
  protected afterApplyFailed(_req: FakeRequest, _reply: FakeReply): void {}
  /** Answers a request as it arrives, before faults and routing (Stripe: a key already in use); undefined to go on. */
  protected onArrival(_req: FakeRequest): FakeReply | undefined {
    return undefined;
  }
  /** The request was answered (or dropped): whatever onArrival held for it is released. */
  protected onDeparture(_req: FakeRequest): void {}
  /** Requests fault injection applies to (Auth0 leaves /oauth/token alone). */
  protected faultable(_req: FakeRequest): boolean {
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://fake.local");
    const request: FakeRequest = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, rawBody, body: rawBody ? this.parseBody(rawBody, req.headers) : undefined };
    this.arrivals.push({ at, method: request.method, path: request.path });
    const early = this.onArrival(request);
    if (early) {
      this.requests.push({ at, ...request, status: early.status, responseBody: early.body });
      res.writeHead(early.status, { "content-type": "application/json", ...early.headers });
      res.end(JSON.stringify(early.body));
      return;
    }
    try {
      await this.answer(request, req, res, at);
    } finally {
      this.onDeparture(request);
    }
  }

  private async answer(request: FakeRequest, req: IncomingMessage, res: ServerResponse, at: number): Promise<void> {
    let fault: RecordedRequest["fault"];
    let reply: FakeReply;
    let drop = false;
    if (this.faultable(request)) {
      const delay = take(this.delays, request);
      if (delay) {
        fault = "delayed";
        // A client that gave up (timeout) closes the connection; stop waiting then.
        await Promise.race([sleep(delay.ms), new Promise((resolve) => res.once("close", resolve))]);
      }
      const failure = take(this.failures, request);
      if (failure) {
        fault = "failed";
        reply = this.errorReply(failure.status, failure.options);
      } else {
        if (take(this.drops, request)) {
          drop = true;
          fault = "dropped";
        }
        reply = await this.route(request);
        const trigger = this.armed.findIndex((a) => hits(a.after, request));
        if (trigger !== -1) {
          const [arm] = this.armed.splice(trigger, 1);
          if (arm) this.failNext(arm.n, arm.status, arm.options);
        }
        const lateDelay = take(this.lateDelays, request);
        if (lateDelay) {
          fault = "applied-then-delayed";
          await Promise.race([sleep(lateDelay.ms), new Promise((resolve) => res.once("close", resolve))]);
        }
        const lateFailure = take(this.lateFailures, request);
        if (lateFailure) {
          fault = "applied-then-failed";
          reply = this.errorReply(lateFailure.status, lateFailure.options);
          this.afterApplyFailed(request, reply);
        }
      }
    } else {
      reply = await this.route(request);
    }

    const recorded: RecordedRequest = { at, ...request, status: drop ? 0 : reply.status, responseBody: reply.body, ...(fault ? { fault } : {}), ...(reply.replayed ? { replayed: true } : {}) };
    this.requests.push(recorded);
    // A timer can fire a millisecond early by the wall clock: wait until the latency has surely passed.
    while (Date.now() < at + this.latencyMs) await sleep(at + this.latencyMs - Date.now());
    if (drop || res.destroyed) {
      req.socket.destroy();
      return;
    }
    const payload = reply.body === undefined ? "" : JSON.stringify(reply.body);
    recorded.sentAt = Date.now();
    res.writeHead(reply.status, { ...(payload ? { "content-type": "application/json" } : {}), ...reply.headers });
    res.end(payload);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
