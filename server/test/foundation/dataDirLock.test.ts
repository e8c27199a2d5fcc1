import { execFile, spawn, type ChildProcess } from "node:child_process";
import { auditKeysFromSecret, demoAuditSecret } from "../../src/audit/sealKey.js";
import { sealAndVerify } from "../support/auditKeys.js";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import { systemClock } from "../../src/clock.js";
import { DataDirInUse, LOCK_FILE, lockDataDir } from "../../src/db/dataDirLock.js";
import { openDatabase } from "../../src/db/database.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { testConfig } from "../support/databases.js";

/**
 * One process per PGlite directory, with real processes: a running server holds its directory; a
 * second server and a writing CLI command are refused with a clear message and nothing it had
 * acknowledged is lost; a lock left by a dead process is taken over.
 */
const run = promisify(execFile);
const PORTS = [41011, 41012];
// Starting Node, tsx and PGlite takes seconds; on the shared, loaded test machine it has taken minutes.
const SLOW = 480_000;
const env = (dataDir: string, port: number) => ({ ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: "info", STEWARD_MODE: "demo" });

function startServer(dataDir: string, port: number): { child: ChildProcess; log: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", "server/src/main.ts"], { env: env(dataDir, port), stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout?.on("data", (d) => (log += d));
  child.stderr?.on("data", (d) => (log += d));
  return { child, log: () => log, exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))) };
}

async function waitHealthy(port: number, log: () => string): Promise<void> {
  const until = Date.now() + 300_000;
  while (Date.now() < until) {
    if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Steward did not become healthy:\n${log()}`);
}

async function npmSteward(dataDir: string, args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run("npm", ["run", "--silent", "steward", "--", ...args, "--data-dir", dataDir], { env: { ...process.env, LOG_LEVEL: "silent", STEWARD_MODE: "demo" } });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

/** account.suspend through the running server's API; the version is learnt from a first 409 if it is not 1. */
async function suspend(port: number, accountId: string): Promise<number> {
  const agent = DEMO_AGENTS.find((a) => a.role === "support_full")!;
  const { token } = await issueSessionToken({ config: testConfig(), clock: systemClock }, { staffId: agent.id, zendeskUserId: agent.zendeskUserId });
  const send = (expectedVersion: number) =>
    fetch(`http://127.0.0.1:${port}/api/actions/account.suspend`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      // The seeded ticket raised in that account (1001 for acc_demo_001…): writes are checked against it.
      body: JSON.stringify({ ticketId: `1${accountId.slice(-3)}`, reason: "Customer asked on the ticket", target: { type: "account", id: accountId }, expectedVersion, input: {} }),
    });
  const first = await send(1);
  if (first.status !== 409) return first.status;
  const { currentVersion } = (await first.json()) as { currentVersion: number };
  return (await send(currentVersion)).status;
}

describe("one process per PGlite directory", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "audit-edge-lock-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it(
    "refuses a second server and a writing CLI command while a server runs, and loses nothing",
    async () => {
      const dataDir = tempDir();
      const server = startServer(dataDir, PORTS[0]!);
      try {
        await waitHealthy(PORTS[0]!, server.log);
        expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), "utf8"))).toMatchObject({ pid: server.child.pid, host: hostname() });
        expect(await suspend(PORTS[0]!, "acc_demo_001")).toBe(200);

        // Both at once (each starts Node and tsx, which is slow on a loaded machine).
        const second = startServer(dataDir, PORTS[1]!);
        const [secondExit, grant] = await Promise.all([second.exited, npmSteward(dataDir, ["staff", "grant", "--zendesk-user", "616161", "--role", "admin"])]);
        expect(secondExit).toBe(1);
        expect(second.log()).toContain(`the PGlite data directory ${dataDir} is in use by process ${server.child.pid}`);
        expect(second.log()).toContain("stop the running server first");
        expect(grant.code).not.toBe(0);
        expect(grant.stderr).toContain(`is in use by process ${server.child.pid}`);

        // The running server still works and keeps what it acknowledged.
        expect(await suspend(PORTS[0]!, "acc_demo_006")).toBe(200);
      } finally {
        server.child.kill("SIGTERM");
      }
      expect({ exit: await server.exited, log: server.log() }).toMatchObject({ exit: 0 });
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);

      const database = await openDatabase({ kind: "pglite", dataDir });
      try {
        const suspended = await database.db.selectFrom("audit_log").select("target_id").where("action", "=", "account.suspend").where("outcome", "=", "succeeded").orderBy("seq").execute();
        expect(suspended.map((r) => r.target_id)).toEqual(["acc_demo_001", "acc_demo_006"]);
        const accounts = await database.db.selectFrom("accounts").select(["id", "status"]).where("id", "in", ["acc_demo_001", "acc_demo_006"]).orderBy("id").execute();
        expect(accounts.map((a) => a.status)).toEqual(["suspended", "suspended"]);
        expect(await database.db.selectFrom("staff").select("id").where("zendesk_user_id", "=", "616161").executeTakeFirst()).toBeUndefined();
        expect((await sealAndVerify(database.db, auditKeysFromSecret(demoAuditSecret(dataDir)))).ok).toBe(true);
      } finally {
        await database.close();
      }
    },
    SLOW,
  );

  it(
    "takes over a lock left by a process that died, and releases it on close",
    async () => {
      const dataDir = tempDir();
      const dead = spawn(process.execPath, ["-e", ""]);
      const deadPid = dead.pid!;
      await new Promise((resolve) => dead.on("exit", resolve));
      writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: deadPid, procStart: null, host: hostname(), since: "2026-01-01T00:00:00.000Z", command: "crashed" }));

      const database = await openDatabase({ kind: "pglite", dataDir });
      try {
        expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), "utf8"))).toMatchObject({ pid: process.pid });
      } finally {
        await database.close();
      }
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
    },
    SLOW,
  );

  it("refuses the same directory twice in one process, and a live holder's lock even if its pid was reused", () => {
    const dataDir = tempDir();
    const release = lockDataDir(dataDir, "test");
    expect(() => lockDataDir(dataDir, "again")).toThrow(DataDirInUse);
    release();
    // A live pid whose start time differs from the recorded one is another process: the lock is stale.
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: process.ppid, procStart: "1", host: hostname(), since: "2026-01-01T00:00:00.000Z", command: "old" }));
    lockDataDir(dataDir, "takes over")();
    // The same live pid with no start time recorded is taken at its word.
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: process.ppid, procStart: null, host: hostname(), since: "2026-01-01T00:00:00.000Z", command: "live" }));
    expect(() => lockDataDir(dataDir, "refused")).toThrow(/in use by process \d+ \(live/);
  });
});
