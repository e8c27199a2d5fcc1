import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A loopback TCP proxy in front of PostgreSQL, to cut the database away from a running Steward the
 * way a network partition does: `blackhole()` drops every open connection and accepts new ones
 * without ever answering; `restore()` forwards again.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Map<Socket, Socket>();
  private readonly severed = new WeakSet<Socket>();
  private mode: "forward" | "blackhole" = "forward";
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<number> {
    this.server = createServer((client) => {
      this.track(client);
      if (this.mode === "blackhole") return;
      const upstream = connect(this.targetPort, this.targetHost);
      this.track(upstream);
      this.pairs.set(client, upstream);
      client.pipe(upstream).pipe(client);
      const end = () => {
        this.pairs.delete(client);
        if (this.severed.has(client)) return;
        client.destroy();
        upstream.destroy();
      };
      client.on("error", end).on("close", end);
      upstream.on("error", end).on("close", end);
    });
    await new Promise<void>((resolve) => this.server?.listen(port, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
  }

  /**
   * Ends every open connection on the database's side only: the backends go, while the clients' sockets
   * stay open and quiet until they next send, which is answered with a reset (how a failover, or a
   * connection a NAT dropped while it was idle, looks to a pool).
   */
  severQuietly(): void {
    for (const [client, upstream] of this.pairs) {
      this.severed.add(client);
      client.unpipe(upstream);
      upstream.unpipe(client);
      upstream.destroy();
      client.on("data", () => client.resetAndDestroy());
      client.resume();
    }
  }

  /** `keepOpen`: connections already open stay as they are (severed ones stay quiet); only new ones go unanswered. */
  blackhole(options: { keepOpen?: boolean } = {}): void {
    this.mode = "blackhole";
    if (!options.keepOpen) for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.mode = "forward";
    // Connections accepted while black-holed never reach the database: drop them so clients reconnect.
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
