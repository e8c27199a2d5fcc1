import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = new URL("../../../", import.meta.url).pathname;

/** `npx steward …` as a product team types it: npm finds the package's own bin (bin/steward.js), which runs the CLI. */
async function npx(args: string[]): Promise<{ out: string; code: number }> {
  try {
    const { stdout, stderr } = await run("npx", ["--no-install", "steward", ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: "silent" }, timeout: 120_000 });
    return { out: `${stdout}${stderr}`, code: 0 };
  } catch (err) {
    const failed = err as { stdout?: string; stderr?: string; code?: number };
    return { out: `${failed.stdout ?? ""}${failed.stderr ?? ""}`, code: typeof failed.code === "number" ? failed.code : 1 };
  }
}

describe("npx steward", { timeout: 150_000 }, () => {
  it("--help lists the subcommands, directory-check among them", async () => {
    const { out, code } = await npx(["--help"]);
    expect(code).toBe(0);
    expect(out).toMatch(/^subcommands:$/m);
    // Each subcommand on its own line with its summary.
    expect(out).toMatch(/^ {2}directory-check {2,}Check a product.s implementation of the directory contract/m);
  });

  it("directory-check --help names its options", async () => {
    const { out, code } = await npx(["directory-check", "--help"]);
    expect(code).toBe(0);
    expect(out).toContain("usage: npm run steward -- directory-check");
    for (const option of ["--url", "--key"]) expect(out).toContain(option);
  });

  it("an unknown subcommand exits 2 with the usage, as through npm run", async () => {
    const { out, code } = await npx(["no-such-thing"]);
    expect(code).toBe(2);
    expect(out).toContain("unknown subcommand: no-such-thing");
  });
});
