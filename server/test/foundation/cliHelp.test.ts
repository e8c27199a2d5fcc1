import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { subcommands } from "../../src/cli/subcommands.js";

const run = promisify(execFile);
const root = new URL("../../../", import.meta.url).pathname;
const tsx = `${root}node_modules/.bin/tsx`;

/** The scripts an operator runs by hand: every one must answer --help without starting any work. */
const manifest = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { scripts: Record<string, string>; dependencies: Record<string, string> };
const scripts = manifest.scripts;
const helpScripts = Object.keys(scripts).filter((name) => /^(bench:|seed$|db:migrate$|chaos$|build$|package:app$|contract:directory$)/.test(name));

/** What --help must not load: the server's runtime dependencies (Express, Kysely, pg, PGlite, the SDKs…). */
const runtimeDependencies = new Set(Object.keys(manifest.dependencies));
const importTrace = new URL("../support/importTrace.mjs", import.meta.url).href;
const projectUrl = new URL("../../../", import.meta.url).href;

/** Runs the command with an import trace; `heavy` lists the runtime dependencies it loaded. */
async function help(args: string[]): Promise<{ stdout: string; code: number; heavy: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "steward-clihelp-"));
  const traceFile = join(dir, "imports.txt");
  const env = { ...process.env, LOG_LEVEL: "silent", NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${importTrace}`.trim(), IMPORT_TRACE_FILE: traceFile };
  const loaded = () => {
    const urls = existsSync(traceFile) ? readFileSync(traceFile, "utf8").split("\n") : [];
    // An empty trace would pass for the wrong reason: the run must have traced its own TypeScript.
    if (!urls.some((url) => url.startsWith(projectUrl) && url.endsWith(".ts"))) return ["(no import trace: importTrace.mjs did not run)"];
    const packages = urls.map((url) => /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]).filter((name) => name !== undefined);
    return [...new Set(packages.filter((name) => runtimeDependencies.has(name)))].sort();
  };
  try {
    const { stdout } = await run(args[0] as string, args.slice(1), { cwd: root, env, timeout: 120_000 });
    return { stdout, code: 0, heavy: loaded() };
  } catch (err) {
    const failed = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: `${failed.stdout ?? ""}${failed.stderr ?? ""}`, code: failed.code ?? 1, heavy: loaded() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Each case spawns tsx; --help loads only the usage and the argument parser, so about tsx's own start.
describe("every CLI command and benchmark answers --help", { timeout: 150_000 }, () => {
  it("lists the scripts it checks (benchmarks, seed, migrate, build)", () => {
    expect(helpScripts).toEqual(expect.arrayContaining(["bench:context", "bench:search", "bench:sidebar", "bench:audit", "seed", "db:migrate", "build"]));
  });

  it.each(Object.keys(subcommands))("npm run steward -- %s --help exits 0 and names its options", async (name) => {
    const { stdout, code, heavy } = await help([tsx, "server/src/cli/steward.ts", ...name.split(" "), "--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain(`usage: npm run steward -- ${name}`);
    expect(stdout).toMatch(/--[a-z]/);
    // The usage needs the registry and nothing of the command's work.
    expect(heavy).toEqual([]);
  });

  it.each(helpScripts)("npm run %s -- --help exits 0 with a usage line and starts nothing", async (name) => {
    const { stdout, code, heavy } = await help(["npm", "run", "--silent", name, "--", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: npm run /m);
    expect(heavy).toEqual([]);
  });
});
