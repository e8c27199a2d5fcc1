import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { subcommands } from "../../src/cli/subcommands.js";

const run = promisify(execFile);
const root = new URL("../../../", import.meta.url).pathname;
const tsx = `${root}node_modules/.bin/tsx`;

/** The scripts an operator runs by hand: every one must answer --help without starting any work. */
const scripts = JSON.parse(readFileSync(`${root}package.json`, "utf8")).scripts as Record<string, string>;
const helpScripts = Object.keys(scripts).filter((name) => /^(bench:|seed$|db:migrate$|chaos$|build$|package:app$)/.test(name));

async function help(args: string[]): Promise<{ stdout: string; code: number }> {
  try {
    const { stdout } = await run(args[0] as string, args.slice(1), { cwd: root, env: { ...process.env, LOG_LEVEL: "silent" }, timeout: 120_000 });
    return { stdout, code: 0 };
  } catch (err) {
    const failed = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: `${failed.stdout ?? ""}${failed.stderr ?? ""}`, code: failed.code ?? 1 };
  }
}

// Each case spawns tsx (a few seconds on a busy 2-core machine).
describe("every CLI command and benchmark answers --help", { timeout: 150_000 }, () => {
  it("lists the scripts it checks (benchmarks, seed, migrate, build)", () => {
    expect(helpScripts).toEqual(expect.arrayContaining(["bench:context", "bench:search", "bench:sidebar", "bench:audit", "seed", "db:migrate", "build"]));
  });

  it.each(Object.keys(subcommands))("npm run steward -- %s --help exits 0 and names its options", async (name) => {
    const { stdout, code } = await help([tsx, "server/src/cli/steward.ts", ...name.split(" "), "--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain(`usage: npm run steward -- ${name}`);
    expect(stdout).toMatch(/--[a-z]/);
  });

  it.each(helpScripts)("npm run %s -- --help exits 0 with a usage line and starts nothing", async (name) => {
    const { stdout, code } = await help(["npm", "run", "--silent", name, "--", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: npm run /m);
  });
});
