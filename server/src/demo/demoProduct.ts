import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { accountFromRow, userFromRow } from "../directory/rows.js";
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

/** The demo product's own data, beside DATA_DIR (Steward's own PGlite lives in it); none when Steward keeps its data in memory. */
function productDataDir(deps: AppDeps): string | null {
  return deps.config.DATA_DIR === "memory" ? null : `${resolve(deps.config.DATA_DIR)}-demo-product`;
}

/** The kit's events Steward has not stored yet survive a restart of the demo product (its sessions survive Steward's). */
function kitEnv(deps: AppDeps): Record<string, string> {
  const dir = productDataDir(deps);
  return dir ? { KIT_EVENTS_DIR: join(dir, "kit-events") } : {};
}

/**
 * DIRECTORY_PROVIDER=http: the demo product owns the demo's accounts and users in its own PGlite
 * (beside DATA_DIR), filled on its first start from a copy of the seeded demo.
 */
async function directoryEnv(deps: AppDeps): Promise<Record<string, string>> {
  if (deps.config.DIRECTORY_PROVIDER !== "http") return {};
  const { db } = deps.database;
  const [accounts, users] = await Promise.all([db.selectFrom("accounts").selectAll().orderBy("id").execute(), db.selectFrom("users").selectAll().orderBy("id").execute()]);
  const memory = deps.config.DATA_DIR === "memory";
  // Beside DATA_DIR (Steward's own PGlite lives in it): the product's data is the product's.
  const dir = productDataDir(deps) ?? mkdtempSync(join(tmpdir(), "steward-demo-directory-"));
  mkdirSync(dir, { recursive: true });
  const seedFile = join(dir, "demo-directory-seed.json");
  writeFileSync(seedFile, JSON.stringify({ accounts: accounts.map(accountFromRow), users: users.map(userFromRow) }));
  return { DIRECTORY_SEED_FILE: seedFile, ...(memory ? {} : { DIRECTORY_DATA_DIR: join(dir, "demo-product-directory") }) };
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
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", STEWARD_URL: deps.config.publicUrl.replace(/:\d+$/, `:${stewardPort}`), STEWARD_PRODUCT_CREDENTIAL: `${id}.${secret}`, ...kitEnv(deps), ...(await directoryEnv(deps)) },
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
