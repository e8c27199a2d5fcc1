import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { CLI_TIMEOUT, runSteward } from "../support/cli.js";
import { openDatabase } from "../../src/db/database.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { createTestDatabase } from "../support/databases.js";
import { closedPort } from "../support/ports.js";

const keysRotate = (args: string[]) => runSteward(["keys", "rotate", ...args], { STEWARD_MODE: "demo" });

const kidsIn = (path: string) => (JSON.parse(readFileSync(path, "utf8")) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

describe("npm run steward -- keys rotate", () => {
  it("records its intent before the key file changes and its outcome after, under one operation id (PostgreSQL)", async () => {
    const db = await createTestDatabase("postgres");
    const dir = mkdtempSync(join(tmpdir(), "steward-keys-"));
    const file = join(dir, "keys.json");
    try {
      const first = await keysRotate(["--keys-file", file, "--database", db.location]);
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      const [kid] = kidsIn(file);
      expect(first.stdout).toContain(`new signing key ${kid}`);
      const second = await keysRotate(["--keys-file", file, "--database", db.location]);
      expect(second.code).toBe(0);
      const kids = kidsIn(file);
      expect(kids).toHaveLength(2);
      const entries = await db.db.selectFrom("audit_log").select(["outcome", "operation_id", "target_id", "after", "actor_system"]).where("action", "=", "impersonation.keys_rotate").orderBy("seq").execute();
      expect(entries.map((e) => [e.outcome, e.target_id])).toEqual([
        ["pending", null],
        ["succeeded", kids[0]],
        ["pending", null],
        ["succeeded", kids[1]],
      ]);
      expect(entries[0]!.operation_id).toBe(entries[1]!.operation_id);
      expect(entries[2]!.operation_id).toBe(entries[3]!.operation_id);
      expect(entries[0]!.operation_id).not.toBe(entries[2]!.operation_id);
      expect(entries[0]!.actor_system).toMatch(/^cli:/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await db.close();
    }
  }, CLI_TIMEOUT);

  it("one rotation at a time: a rotation waits for one in progress (its lock) before it reads the key file (PostgreSQL)", async () => {
    const db = await createTestDatabase("postgres");
    const dir = mkdtempSync(join(tmpdir(), "steward-keys-"));
    const file = join(dir, "keys.json");
    const saved = { mode: process.env.STEWARD_MODE, level: process.env.LOG_LEVEL };
    const write = process.stdout.write;
    try {
      Object.assign(process.env, { STEWARD_MODE: "demo", LOG_LEVEL: "silent" });
      process.stdout.write = (() => true) as typeof process.stdout.write;
      const { run: rotate } = await import("../../src/cli/commands/keysRotate.js");
      // Another rotation in progress: this test holds the lock it would hold.
      const rotation = await db.db.connection().execute(async (conn) => {
        await sql`select pg_advisory_lock(hashtext('steward:keys_rotate'))`.execute(conn);
        const running = rotate(["--keys-file", file, "--database", db.location]);
        const finished = running.then(() => "finished" as const);
        // The rotation waits on the lock (seen in pg_locks), not on anything else.
        const waiting = (async () => {
          for (;;) {
            const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())`.execute(db.db);
            if (rows[0]!.n > 0) return "waiting" as const;
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        expect(await Promise.race([waiting, finished])).toBe("waiting");
        expect(existsSync(file)).toBe(false);
        await sql`select pg_advisory_unlock(hashtext('steward:keys_rotate'))`.execute(conn);
        return running;
      });
      expect(rotation).toBe(0);
      process.stdout.write = write;
      const kids = kidsIn(file);
      expect(kids).toHaveLength(1);
      const entries = await db.db.selectFrom("audit_log").select(["outcome", "target_id"]).where("action", "=", "impersonation.keys_rotate").orderBy("seq").execute();
      expect(entries).toEqual([
        { outcome: "pending", target_id: null },
        { outcome: "succeeded", target_id: kids[0] },
      ]);
    } finally {
      process.stdout.write = write;
      for (const [name, value] of [["STEWARD_MODE", saved.mode], ["LOG_LEVEL", saved.level]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      rmSync(dir, { recursive: true, force: true });
      await db.close();
    }
  }, CLI_TIMEOUT);

  it("rotates nothing when it cannot record the rotation (database unreachable)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steward-keys-"));
    const file = join(dir, "keys.json");
    try {
      const res = await keysRotate(["--keys-file", file, "--database", `postgres://postgres@127.0.0.1:${await closedPort()}/steward`]);
      expect(res.code).not.toBe(0);
      expect(existsSync(file)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, CLI_TIMEOUT);

  it("works on a PGlite data directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steward-keys-"));
    const file = join(dir, "keys.json");
    try {
      const migrated = await openDatabase({ kind: "pglite", dataDir: join(dir, "data") });
      await migrateToLatest(migrated.db);
      await migrated.close();
      const res = await keysRotate(["--keys-file", file, "--data-dir", join(dir, "data")]);
      expect(res.stderr).toBe("");
      expect(res.code).toBe(0);
      const db = await openDatabase({ kind: "pglite", dataDir: join(dir, "data") });
      try {
        const entries = await db.db.selectFrom("audit_log").select(["outcome", "target_id"]).where("action", "=", "impersonation.keys_rotate").orderBy("seq").execute();
        expect(entries).toEqual([
          { outcome: "pending", target_id: null },
          { outcome: "succeeded", target_id: kidsIn(file)[0] },
        ]);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, CLI_TIMEOUT);
});
