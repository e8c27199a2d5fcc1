import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Each call starts tsx, which takes seconds on a loaded machine. */
export const CLI_TIMEOUT = 180_000;

/**
 * `npm run steward -- …args` in a child process with a bare environment (PATH, HOME, LOG_LEVEL=silent, and
 * `env`), as an operator's shell would run it: its exit code and output, whether it succeeded or not.
 */
export async function runSteward(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run("node_modules/.bin/tsx", ["server/src/cli/steward.ts", ...args], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "silent", ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
