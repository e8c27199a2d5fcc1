import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, spawnSteward, type StewardProcess } from "../support/stewardProcess.js";

/**
 * Demo mode with DIRECTORY_PROVIDER=http, as processes (as CI runs it): Steward starts the demo
 * product, which owns the demo's accounts and users in its own PGlite and trusts Steward's JWKS over
 * HTTP; `steward directory-check` passes against it, and Steward reads the product's declaration.
 */
const run = promisify(execFile);
const tsx = new URL("../../../node_modules/.bin/tsx", import.meta.url).pathname;

describe("demo mode on the product's directory", { timeout: 240_000 }, () => {
  let steward: StewardProcess;
  let productUrl: string;
  const dataDir = mkdtempSync(join(tmpdir(), "steward-directory-demo-"));
  const env = () => ({ DIRECTORY_PROVIDER: "http", DATA_DIR: join(dataDir, "data"), LOG_LEVEL: "warn" });

  beforeAll(async () => {
    const productPort = await freePort();
    productUrl = `http://localhost:${productPort}`;
    steward = await spawnSteward({ ...env(), DEMO_PRODUCT_PORT: String(productPort) }, { readyTimeoutMs: 150_000 });
    // The product starts after Steward listens: wait until its directory answers (401 without a token).
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const status = await fetch(`${productUrl}/steward/directory/v1/settings`).then((r) => r.status, () => 0);
      if (status === 401) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the demo product's directory did not come up:\n${steward.log().slice(-2000)}`);
  }, 240_000);

  afterAll(async () => {
    steward?.child.kill("SIGTERM");
    await steward?.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("the demo product passes steward directory-check (exit 0, every row PASS)", async () => {
    const args = ["server/src/cli/steward.ts", "directory-check", "--url", productUrl, "--key", join(dataDir, "data", "impersonation-keys.json"), "--audience", "prd_demo", "--user", "usr_demo_001_2", "--issuer", steward.url];
    const { stdout } = await run(tsx, args, { env: { ...process.env, ...env() }, timeout: 120_000 });
    expect(stdout).toMatch(/all \d+ checks passed/);
    expect(stdout).not.toContain("FAIL");
  });

  it("Steward answers from the product: its settings declaration, through Steward's own API", async () => {
    const { stdout } = await run(tsx, ["server/src/cli/steward.ts", "dev-token", "--agent", "9002"], { env: { ...process.env, ...env(), PORT: String(steward.port) }, timeout: 120_000 });
    const token = stdout.trim().split("\n").at(-1)!;
    const res = await fetch(`${steward.url}/api/directory/settings`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { settings: { key: string }[] }).settings.map((s) => s.key)).toEqual(["language", "weekly_digest", "display_name"]);
  });
});
