import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { TEST_AUDIT_SECRET } from "./auditKeys.js";
import { TEST_RATE_LIMITS } from "./rateLimits.js";

/** A free loopback port (the OS picks it), or one from `range` when given (the chaos script's own range). */
export async function freePort(range?: { from: number; to: number }): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(undefined));
      srv.listen(port, "127.0.0.1", () => {
        const got = (srv.address() as { port: number }).port;
        srv.close(() => resolve(got));
      });
    });
  if (!range) return (await tryPort(0)) as number;
  for (let p = range.from; p <= range.to; p++) {
    const got = await tryPort(p);
    if (got) return got;
  }
  throw new Error(`no free port in ${range.from}-${range.to}`);
}

export interface StewardProcess {
  child: ChildProcess;
  port: number;
  url: string;
  /** Everything the process wrote, stdout and stderr. */
  log(): string;
  /** Pino lines of stdout, parsed. */
  logLines(): { msg?: string; time?: string; level?: number; [k: string]: unknown }[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** Starts `server/src/main.ts` as `npm start` does (without the app build) and waits until /readyz answers 200. */
export async function spawnSteward(
  env: Record<string, string>,
  options: { port?: number; readyTimeoutMs?: number; onSpawn?: (child: ChildProcess) => void; mayExitBeforeReady?: boolean } = {},
): Promise<StewardProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, ["--import", "tsx", "server/src/main.ts"], {
    // Demo mode unless the test says otherwise: production-like settings without a mode refuse to start.
    env: { ...process.env, STEWARD_MODE: "demo", DEMO_PRODUCT_PORT: "0", AUDIT_SEAL_KEY: TEST_AUDIT_SECRET, LOG_LEVEL: "info", ...TEST_RATE_LIMITS, ...env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  options.onSpawn?.(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const url = `http://127.0.0.1:${port}`;
  const proc: StewardProcess = {
    child,
    port,
    url,
    log: () => out + err,
    logLines: () =>
      out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => {
          try {
            return JSON.parse(l) as { msg?: string };
          } catch {
            return {};
          }
        }),
    exited,
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  let gone = false;
  void exited.then(() => (gone = true));
  while (Date.now() < deadline && !gone) {
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return proc;
    await new Promise((r) => setTimeout(r, 150));
  }
  if (gone && options.mayExitBeforeReady) return proc;
  child.kill("SIGKILL");
  throw new Error(`Steward did not become ready:\n${proc.log().slice(-3000)}`);
}
