import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "vite";
import type { Clock } from "../../../server/src/clock.js";
import { loadConfig } from "../../../server/src/config.js";
import type { AppDeps } from "../../../server/src/deps.js";
import { buildDeps, startServer, type RunningServer } from "../../../server/src/server.js";

/** The real Steward server, in process on a free port, over an in-memory PGlite with the demo data. */
export interface StewardUnderTest {
  deps: AppDeps;
  server: RunningServer;
  /** Where the local Zendesk page is opened: http://localhost:PORT (the sidebar runs on 127.0.0.1). */
  zendeskUrl: string;
  appOrigin: string;
  close(): Promise<void>;
}

/** Builds the sidebar into a private folder, so test files running in parallel never share a dist. */
export async function buildSidebar(): Promise<{ dir: string; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "steward-app-"));
  await build({ configFile: join(process.cwd(), "zendesk-app", "vite.config.ts"), logLevel: "error", build: { outDir: dir, emptyOutDir: true } });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startSteward(options: { env?: Record<string, string>; appDir: string; clock?: Clock; port?: number }): Promise<StewardUnderTest> {
  const config = loadConfig({
    STEWARD_MODE: "demo",
    DATA_DIR: "memory",
    DEMO_SEED: "true",
    LOG_LEVEL: process.env.STEWARD_TEST_LOG ?? "silent",
    APP_DIST_DIR: options.appDir,
    SHUTDOWN_GRACE_MS: "500",
    ...options.env,
  });
  const deps = await buildDeps(config, options.clock ? { clock: options.clock } : {});
  const server = await startServer(deps, { port: options.port ?? 0, host: "127.0.0.1" });
  return {
    deps,
    server,
    zendeskUrl: `http://localhost:${server.port}/zendesk`,
    appOrigin: `http://127.0.0.1:${server.port}`,
    close: () => server.close(),
  };
}
