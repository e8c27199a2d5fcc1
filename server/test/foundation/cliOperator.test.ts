import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DatabaseKind } from "../../src/db/database.js";
import { CLI_TIMEOUT, runSteward } from "../support/cli.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";

/** An operator at a terminal: what each mistake prints, where, and with which exit code. */

describe("npm run steward -- (no subcommand, help, a group name)", () => {
  it("help goes to stdout with each subcommand's summary, exit 0; nothing or a half command is a usage mistake on stderr, exit 2", async () => {
    const asked = await runSteward(["--help"]);
    expect(asked.code).toBe(0);
    expect(asked.stderr).toBe("");
    expect(asked.stdout).toMatch(/^ {2}staff grant +Give a Zendesk agent a panel role/m);

    const nothing = await runSteward([]);
    expect(nothing.code).toBe(2);
    expect(nothing.stdout).toBe("");
    expect(nothing.stderr).toMatch(/^no subcommand given\n/);

    const group = await runSteward(["staff"]);
    expect(group.code).toBe(2);
    expect(group.stderr).toMatch(/^staff: which one\? staff grant\n/);
  }, CLI_TIMEOUT);

  it("a group name with --help (or -h) lists that group's subcommands on stdout, exit 0", async () => {
    for (const flag of ["--help", "-h"]) {
      const asked = await runSteward(["staff", flag]);
      expect(asked.code, flag).toBe(0);
      expect(asked.stderr, flag).toBe("");
      expect(asked.stdout, flag).toMatch(/^usage: npm run steward -- staff <subcommand>/);
      expect(asked.stdout, flag).toMatch(/^ {2}staff grant +Give a Zendesk agent a panel role/m);
      // Only the group's own subcommands.
      expect(asked.stdout, flag).not.toMatch(/^ {2}audit /m);
    }
  }, CLI_TIMEOUT);

  it("staff grant without --zendesk-user or --role says which is required, not the validator's words", async () => {
    const noUser = await runSteward(["staff", "grant", "--role", "admin"], { STEWARD_MODE: "demo" });
    expect(noUser.code).toBe(2);
    expect(noUser.stderr).toMatch(/^--zendesk-user: required/);
    expect(noUser.stderr).not.toMatch(/Invalid input|undefined/);

    const noRole = await runSteward(["staff", "grant", "--zendesk-user", "123"], { STEWARD_MODE: "demo" });
    expect(noRole.code).toBe(2);
    expect(noRole.stderr).toMatch(/^--role: required \(one of support_read_only, support_full, operations, admin\)/);
  }, CLI_TIMEOUT);

  it("a bad setting reads as the command's mistake (exit 2), not as 'Steward cannot start'", async () => {
    const run = await runSteward(["audit", "verify", "--database", "postgres://postgres@127.0.0.1:5432/unused"]);
    expect(run.code).toBe(2);
    // The operator typed --database, not DATABASE_URL: the mistake names what they typed.
    expect(run.stderr).toMatch(/^invalid configuration: STEWARD_MODE: not set, but --database is: set STEWARD_MODE=production/);
    expect(run.stderr).not.toContain("DATABASE_URL");
    expect(run.stderr).not.toContain("cannot start");
    // Set in the environment, it is named as the variable.
    const fromEnv = await runSteward(["audit", "verify"], { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/unused" });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/^invalid configuration: STEWARD_MODE: not set, but DATABASE_URL is/);
    // A malformed --database is named as the option too.
    const malformed = await runSteward(["audit", "verify", "--database", "mysql://x"], { STEWARD_MODE: "demo" });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^invalid configuration: --database: expected a postgres:\/\/ URL/);
  }, CLI_TIMEOUT);
});

/** An empty database as the operator names it: a PostgreSQL URL, or a fresh PGlite directory (also where the keys go). */
async function emptyDatabase(kind: DatabaseKind): Promise<{ args: string[]; dir: string; dispose(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "steward-cli-unmigrated-"));
  if (kind === "pglite") return { args: ["--data-dir", dir], dir, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  const database = await createTestDatabase("postgres", { migrate: false });
  return {
    args: ["--database", database.location, "--data-dir", dir],
    dir,
    dispose: async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.each(databaseKinds)("the steward commands on a database not migrated yet (%s)", (kind) => {
  it("each says the database is not migrated and what to run (exit 1), changes nothing, and keys rotate makes no key", async () => {
    const target = await emptyDatabase(kind);
    try {
      const commands = [
        ["keys", "rotate", ...target.args],
        ["products", "add", "--name", "Acme app", "--url", "http://127.0.0.1:4100", ...target.args],
        ["staff", "grant", "--zendesk-user", "123", "--role", "admin", ...target.args],
        ["audit", "verify", ...target.args],
      ];
      for (const args of commands) {
        const run = await runSteward(args, { STEWARD_MODE: "demo" });
        expect({ args: args.slice(0, 2), code: run.code }).toEqual({ args: args.slice(0, 2), code: 1 });
        expect(run.stdout).toBe("");
        expect(run.stderr).toMatch(/^the database in (pglite|postgres) .* is not migrated \(\d+ migrations not applied, from 001_domain\): run npm run db:migrate first\n$/);
      }
      expect(readdirSync(target.dir).filter((f) => f.includes("impersonation"))).toEqual([]);
    } finally {
      await target.dispose();
    }
  }, CLI_TIMEOUT * 4);
});

describe("npm run db:migrate", () => {
  it("refuses an argument it would otherwise ignore (exit 2) and migrates nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steward-migrate-args-"));
    try {
      const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile("node_modules/.bin/tsx", ["server/src/cli/migrate.ts", "--database", "postgres://postgres@127.0.0.1:5432/elsewhere"], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "silent", DATA_DIR: join(dir, "data") } }, (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/^db:migrate takes no arguments \(got --database postgres:\/\/postgres@127.0.0.1:5432\/elsewhere\)/);
      // The PGlite directory it would have migrated instead was never created.
      expect(existsSync(join(dir, "data"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, CLI_TIMEOUT);
});
