import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { DirectoryStore } from "../../examples/demo-product/src/directory/store.js";
import { systemActor } from "../src/actor.js";
import type { Database } from "../src/db/database.js";
import { DEMO_PRODUCT_ID } from "../src/demo/demoProduct.js";
import { accountFromRow, userFromRow } from "../src/directory/rows.js";
import { registerProduct } from "../src/impersonation/products.js";
import type { DataSetOptions, DirectoryKind } from "./benchArgs.js";
import { startApp, type RunningApp } from "./lookupSetup.js";

/**
 * `--directory http` for the lookup benchmarks: the demo product (examples/demo-product) as the
 * directory, in a process of its own on loopback, over its own PGlite beside --data-dir (filled once
 * from the synthetic set, later runs reuse it), and Steward started with DIRECTORY_PROVIDER=http.
 */

const PAGE = 5_000;

/** Copies Steward's accounts and users into the product's store when it has fewer users than Steward. */
async function fillStore(database: Database, dir: string): Promise<void> {
  const store = await DirectoryStore.open(dir);
  try {
    const held = Number((await store.db.query<{ n: string }>("select count(*) as n from users")).rows[0]?.n ?? 0);
    const wanted = Number((await database.db.selectFrom("users").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);
    if (held >= wanted) return;
    process.stdout.write(`copying ${wanted} users and their accounts into the demo product's directory (once; later runs reuse it)\n`);
    for (let after = ""; ; ) {
      const accounts = await database.db.selectFrom("accounts").selectAll().where("id", ">", after).orderBy("id").limit(PAGE).execute();
      if (accounts.length === 0) break;
      const users = await database.db.selectFrom("users").selectAll().where("account_id", "in", accounts.map((a) => a.id)).execute();
      await store.load(accounts.map(accountFromRow), users.map(userFromRow));
      after = accounts.at(-1)!.id;
    }
  } finally {
    await store.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

async function waitUntilUp(url: string, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    // Any answer (401 without a token) means it listens.
    const up = await fetch(url).then(
      () => true,
      () => false,
    );
    if (up) return;
    if (Date.now() > deadline) throw new Error(`the demo product did not answer at ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Steward with the given directory: its own tables (builtin), or the demo product in a process of its own (http). */
export async function startAppWithDirectory(kind: DirectoryKind, options: DataSetOptions, database: Database, extraEnv: Record<string, string> = {}): Promise<RunningApp> {
  if (kind === "builtin") return startApp(options, database, extraEnv);
  const dir = `${options.dataDir}-directory`;
  await fillStore(database, dir);
  const [productPort, stewardPort] = [await freePort(), await freePort()];
  const productUrl = `http://127.0.0.1:${productPort}`;
  // The product checks the token's issuer against the Steward it fetches keys from: Steward's public URL is where it listens.
  const app = await startApp(
    options,
    database,
    { PORT: String(stewardPort), PUBLIC_URL: `http://127.0.0.1:${stewardPort}`, DIRECTORY_PROVIDER: "http", DIRECTORY_URL: productUrl, DIRECTORY_AUDIENCE: DEMO_PRODUCT_ID, ...extraEnv },
    stewardPort,
  );
  const { id, secret } = await registerProduct(database.db, app.deps.clock, { id: DEMO_PRODUCT_ID, name: "Demo product", url: productUrl, actor: systemActor("bench") });
  const entry = fileURLToPath(new URL("../../examples/demo-product/src/main.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...process.env, PORT: String(productPort), HOST: "127.0.0.1", STEWARD_URL: app.baseUrl, STEWARD_PRODUCT_CREDENTIAL: `${id}.${secret}`, DIRECTORY_DATA_DIR: dir },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitUntilUp(`${productUrl}/steward/directory/v1/settings`, 120_000);
  } catch (err) {
    child.kill("SIGTERM");
    await app.stop();
    throw err;
  }
  return {
    ...app,
    async stop() {
      await app.stop();
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
