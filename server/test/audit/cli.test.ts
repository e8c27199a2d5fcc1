import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendAudit } from "../../src/audit/auditLog.js";
import { sealPending } from "../../src/audit/sealer.js";
import { ManualClock } from "../../src/clock.js";
import { openDatabase, type Database, type DatabaseKind } from "../../src/db/database.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { TEST_AUDIT_KEYS, TEST_AUDIT_SECRET } from "../support/auditKeys.js";
import { asSuperuser, HOOK_TIMEOUT, writeEntry } from "./fixtures.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function steward(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "server/src/cli/steward.ts", ...args], { env: { ...process.env, STEWARD_MODE: "demo", LOG_LEVEL: "silent", AUDIT_SEAL_KEY: TEST_AUDIT_SECRET }, timeout: 120_000 }, (err, stdout, stderr) => {
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
  // A fresh database of five unsealed entries for each test: one seals them, another edits two of them.
  beforeEach(async () => {
    t = await target(kind);
    const database = await t.open();
    const clock = new ManualClock();
    for (let i = 0; i < 5; i++) ids.push((await appendAudit(database.db, writeEntry({ reason: `entry ${i + 1}` }), clock)).id);
    await database.close();
  }, HOOK_TIMEOUT);
  afterEach(async () => {
    await t.dispose();
    ids = [];
  }, HOOK_TIMEOUT);

  it("without a server: reports unsealed entries as such, or seals them first, then exits 0 and prints the head", { timeout: 120_000 }, async () => {
    const readOnly = await steward(["audit", "verify", "--quiet", "--no-seal", ...t.args]);
    expect(readOnly.stderr).toBe("");
    expect(readOnly.code).toBe(0);
    expect(readOnly.stdout).toContain("audit chain intact: 0 entries checked from the first entry");
    expect(readOnly.stdout).toContain("5 entries committed but not sealed yet");

    const run = await steward(["audit", "verify", "--full", ...t.args]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("sealed 5 entries");
    expect(run.stdout).toContain("audit chain intact: 5 entries checked from the first entry");
    const anchor = /head: (5:[0-9a-f]{64})/.exec(run.stdout)?.[1] ?? "";
    expect(anchor).not.toBe("");
    // The next verify starts from that head.
    const incremental = await steward(["audit", "verify", "--quiet", "--anchor", anchor, ...t.args]);
    expect(incremental.code).toBe(0);
    // "Intact" from an incremental verify says what it did not check, and counts in the singular for one.
    expect(incremental.stdout).toContain("audit chain intact: 0 new entries checked after chain position 5 (the last intact verify; entries up to it were not checked again, --full checks everything)");
    const database = await t.open();
    await appendAudit(database.db, writeEntry({ reason: "entry 6" }), new ManualClock());
    await database.close();
    const next = await steward(["audit", "verify", "--anchor", anchor, ...t.args]);
    expect(next.code).toBe(0);
    expect(next.stderr).toContain("sealed 1 entry committed");
    expect(next.stdout).toContain("audit chain intact: 1 new entry checked after chain position 5");
  });

  it("exits 1 listing every broken entry", { timeout: 120_000 }, async () => {
    const database = await t.open();
    // Sealed first, as the server's sealer would have done: the edits below then break a sealed chain.
    expect((await sealPending(database.db, TEST_AUDIT_KEYS)).sealed).toBe(5);
    await asSuperuser(database.db, async (db) => {
      await sql`update audit_log set reason = 'edited' where seq = 3`.execute(db);
      await sql`update audit_log set ticket_id = '77' where seq = 5`.execute(db);
    });
    await database.close();
    const run = await steward(["audit", "verify", "--quiet", "--full", ...t.args]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("audit chain BROKEN: 2 breaks in 5 entries checked");
    expect(run.stdout).toContain(`entry 3 (id ${ids[2]}): changed`);
    expect(run.stdout).toContain(`entry 5 (id ${ids[4]}): changed`);
  });

  it("refuses to run without the audit key in production mode, before touching a database", { timeout: 120_000 }, async () => {
    const run = await new Promise<Run>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", "server/src/cli/steward.ts", "audit", "verify", ...t.args], { env: { ...process.env, LOG_LEVEL: "silent", STEWARD_MODE: "production", AUDIT_SEAL_KEY: "" } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("AUDIT_SEAL_KEY");
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

  it("exits 2 naming the place when --checkpoints gives no checkpoint to check against, before touching a database", { timeout: 120_000 }, async () => {
    // Each used to pass the verify unchecked (an empty directory) or fail as "steward failed" with exit 1, which reads as a broken chain.
    const dir = mkdtempSync(join(tmpdir(), "steward-audit-cps-"));
    try {
      // (A data directory of its own, so a run that went on to a database would touch nothing else.)
      const db = ["--data-dir", join(dir, "db")];
      const empty = await steward(["audit", "verify", "--checkpoints", dir, ...db]);
      expect([empty.code, empty.stderr]).toEqual([2, expect.stringContaining(`--checkpoints: ${dir} holds no checkpoint-*.json files`)]);
      const missing = await steward(["audit", "verify", "--checkpoints", join(dir, "nowhere"), ...db]);
      expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining(`--checkpoints: cannot read ${join(dir, "nowhere")} (ENOENT)`)]);
      const torn = join(dir, "checkpoint-000000000001.json");
      writeFileSync(torn, "");
      const garbled = await steward(["audit", "verify", "--checkpoints", dir, ...db]);
      expect([garbled.code, garbled.stderr]).toEqual([2, expect.stringContaining(`--checkpoints: ${torn} is not a Steward audit checkpoint`)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
