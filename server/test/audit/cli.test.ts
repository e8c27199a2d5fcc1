import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAudit } from "../../src/audit/auditLog.js";
import { ManualClock } from "../../src/clock.js";
import { openDatabase, type Database, type DatabaseKind } from "../../src/db/database.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { asSuperuser, HOOK_TIMEOUT, writeEntry } from "./fixtures.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function steward(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "server/src/cli/steward.ts", ...args], { env: { ...process.env, LOG_LEVEL: "silent" }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Each kind as the CLI reaches it: a PostgreSQL URL, or a PGlite data directory (closed while the CLI runs). */
async function target(kind: DatabaseKind): Promise<{ args: string[]; open(): Promise<Database>; dispose(): Promise<void> }> {
  if (kind === "postgres") {
    const database = await createTestDatabase("postgres");
    return { args: ["--database", database.location], open: async () => ({ ...database, close: async () => undefined }), dispose: () => database.close() };
  }
  const dir = mkdtempSync(join(tmpdir(), "steward-audit-cli-"));
  const open = () => openDatabase({ kind: "pglite", dataDir: dir });
  const first = await open();
  await migrateToLatest(first.db);
  await first.close();
  return { args: ["--data-dir", dir], open, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
}

describe.each(databaseKinds)("npm run steward -- audit verify on %s", (kind) => {
  let t: Awaited<ReturnType<typeof target>>;
  let ids: string[] = [];
  beforeAll(async () => {
    t = await target(kind);
    const database = await t.open();
    const clock = new ManualClock();
    for (let i = 0; i < 5; i++) ids.push((await appendAudit(database.db, writeEntry({ reason: `entry ${i + 1}` }), clock)).id);
    await database.close();
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await t.dispose();
    ids = [];
  }, HOOK_TIMEOUT);

  it("exits 0 on an intact chain and prints the head to anchor", { timeout: 120_000 }, async () => {
    const run = await steward(["audit", "verify", "--quiet", ...t.args]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("audit chain intact: 5 entries");
    expect(run.stdout).toMatch(/head: 5:[0-9a-f]{64}/);
    const anchor = /head: (5:[0-9a-f]{64})/.exec(run.stdout)?.[1] ?? "";
    const anchored = await steward(["audit", "verify", "--quiet", "--anchor", anchor, ...t.args]);
    expect(anchored.code).toBe(0);
  });

  it("exits 1 naming the broken entry", { timeout: 120_000 }, async () => {
    const database = await t.open();
    await asSuperuser(database.db, (db) => sql`update audit_log set reason = 'edited' where seq = 3`.execute(db));
    await database.close();
    const run = await steward(["audit", "verify", "--quiet", ...t.args]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`audit chain BROKEN at entry 3 (id ${ids[2]}): changed`);
    expect(run.stdout).toContain("2 entries verified before the break");
  });
});

describe("npm run steward", () => {
  it("lists subcommands and refuses unknown ones", { timeout: 120_000 }, async () => {
    const unknown = await steward(["audit", "shred"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown subcommand: audit shred");
    expect(unknown.stderr).toContain("audit verify");
  });

  it("exits 2 on a usage mistake, before touching a database", { timeout: 120_000 }, async () => {
    const bad = await steward(["audit", "verify", "--anchor", "nonsense"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--anchor: expected SEQ:HASH");
    expect(bad.stderr).toContain("usage: npm run steward -- audit verify");
  });
});
