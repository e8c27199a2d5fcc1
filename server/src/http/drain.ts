import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
import { problemType } from "./problem.js";

/**
 * Graceful stop for the HTTP side. Once `start()` is called no request is taken on any more: the
 * listener is closed, idle keep-alive connections are closed, responses still being worked on go out
 * with `Connection: close`, and a request that arrives on a connection already open is answered 503
 * (Retry-After) without running, so a load balancer sends it elsewhere.
 */
export class HttpDrain {
  private draining = false;
  private readonly inFlight = new Set<ServerResponse>();
  private server: Server | undefined;
  /** Requests refused because they arrived after the stop began. */
  refused = 0;

  /** Wraps the app: the request listener to give `http.createServer`. */
  listener(app: RequestListener): RequestListener {
    return (req: IncomingMessage, res: ServerResponse) => {
      if (this.draining) return this.refuse(res);
      this.inFlight.add(res);
      res.once("close", () => {
        this.inFlight.delete(res);
        // The connection may have gone idle now: close it rather than wait for its keep-alive timeout.
        if (this.draining) setImmediate(() => this.server?.closeIdleConnections());
      });
      app(req, res);
    };
  }

  attach(server: Server): void {
    this.server = server;
  }

  get active(): number {
    return this.inFlight.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Resolves once every connection is closed; `server.close` stops the listener at once. */
  start(): Promise<void> {
    this.draining = true;
    const server = this.server;
    if (!server) return Promise.resolve();
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader("Connection", "close");
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    return closed;
  }

  /** Grace period over: drop whatever is left. */
  abort(): void {
    this.server?.closeAllConnections();
  }

  private refuse(res: ServerResponse): void {
    this.refused++;
    const body = JSON.stringify({
      type: problemType("shutting_down"),
      title: "Service unavailable",
      status: 503,
      code: "shutting_down",
      detail: "This Steward process is stopping; retry and another one will answer",
    });
    res.writeHead(503, { "Content-Type": "application/problem+json", "Retry-After": "1", Connection: "close", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  }
}
