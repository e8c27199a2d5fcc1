import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { systemActor } from "../actor.js";
import type { AppDeps } from "../deps.js";
import { registerProduct } from "../impersonation/products.js";

/**
 * Demo mode: the demo product (examples/demo-product) runs beside Steward on its own port (another
 * origin), registered under `prd_demo` with a fresh secret at every start that only the child gets.
 * Spawned as a process, never imported: the product talks to Steward over HTTP only, as a real one would.
 */
export const DEMO_PRODUCT_ID = "prd_demo";

export interface DemoProduct {
  url: string;
  stop(): Promise<void>;
}

export async function startDemoProduct(deps: AppDeps, stewardPort: number): Promise<DemoProduct | null> {
  const port = deps.config.DEMO_PRODUCT_PORT;
  if (!deps.config.demo || port === 0) return null;
  const url = `http://localhost:${port}`;
  const { id, secret } = await registerProduct(deps.database.db, deps.clock, { id: DEMO_PRODUCT_ID, name: "Demo product", url, actor: systemActor("demo") });
  // From the checkout (npm start); a built copy (dist/) looks for it beside the working directory.
  const entry = [fileURLToPath(new URL("../../../examples/demo-product/src/main.ts", import.meta.url)), resolve("examples/demo-product/src/main.ts")].find((path) => existsSync(path));
  if (!entry) {
    deps.logger.warn("the demo product (examples/demo-product) is not in this copy: not started");
    return null;
  }
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", STEWARD_URL: deps.config.publicUrl.replace(/:\d+$/, `:${stewardPort}`), STEWARD_PRODUCT_CREDENTIAL: `${id}.${secret}` },
    stdio: ["ignore", "ignore", "inherit"],
  });
  child.on("exit", (code) => {
    if (code) deps.logger.warn({ code }, "the demo product stopped");
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
