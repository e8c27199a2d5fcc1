import pg from "pg";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import { systemClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/database.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { createLogger } from "../../src/logger.js";
import { createBillingPort, createIdentityPort } from "../../src/providers/index.js";
import { createDirectoryPort } from "../../src/directory/index.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { buildDeps, startServer, type RunningServer } from "../../src/server.js";
import { createTestDatabase } from "../support/databases.js";
import { runLoad, sleep, type Answer } from "../support/load.js";
import { TcpProxy } from "../support/tcpProxy.js";
import { TEST_AUDIT_KEYS } from "../support/auditKeys.js";

/**
 * The database going away under a running Steward, on a real PostgreSQL: backends terminated
 * mid-load (restart, failover, pg_terminate_backend), a table lock held for 12 s, and a network
 * partition (a proxy that stops answering). The process must live on, answer 503 problem+json with
 * Retry-After, keep /readyz honest within a second, and recover without a restart.
 */
const LOCK_TIMEOUT_MS = 1_000;
const CONNECT_TIMEOUT_MS = 1_500;

async function session(url: string, token: string): Promise<{ status: number; code?: string; retryAfter?: string; type?: string; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${url}/api/session`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { code?: string };
  return { status: res.status, code: body.code, retryAfter: res.headers.get("retry-after") ?? undefined, type: res.headers.get("content-type") ?? undefined, ms: Date.now() - started };
}

describe("database faults on PostgreSQL", () => {
  const proxy = new TcpProxy("127.0.0.1", 5432);
  let target: Awaited<ReturnType<typeof createTestDatabase>>;
  let dbName: string;
  let running: RunningServer;
  let url: string;
  let token: string;
  let admin: pg.Client;
  let closeDeps: () => Promise<void>;

  beforeAll(async () => {
    target = await createTestDatabase("postgres", { migrate: false });
    dbName = new URL(target.location).pathname.slice(1);
    await proxy.start();
    const viaProxy = new URL(target.location);
    viaProxy.port = String(proxy.port);
    const config = loadConfig({
      STEWARD_MODE: "demo",
      DATABASE_URL: viaProxy.toString(),
      LOG_LEVEL: "silent",
      DATABASE_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS),
      DATABASE_STATEMENT_TIMEOUT_MS: "4000",
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_POOL_SIZE: "6",
      // The load below is one agent at full speed: it measures faults, not the limiter (security/rateLimits.test.ts).
      RATE_LIMIT_READS: "1000000",
      RATE_LIMIT_PER_IP: "1000000",
    });
    const deps = await buildDeps(config, { logger: createLogger("silent") });
    closeDeps = () => deps.database.close();
    running = await startServer(deps, { port: 0, host: "127.0.0.1" });
    url = `http://127.0.0.1:${running.port}`;
    token = (await issueSessionToken({ config, clock: systemClock }, { staffId: "stf_demo_read", zendeskUserId: "9001" })).token;
    admin = new pg.Client({ connectionString: target.location });
    await admin.connect();
  }, 120_000);

  afterAll(async () => {
    await running?.close();
    await closeDeps?.().catch(() => undefined);
    await admin?.end().catch(() => undefined);
    await proxy.close();
    await target?.close();
  });

  const terminateBackends = () => admin.query("select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", [dbName]);

  it("survives its backends being terminated mid-load: reads run again on a new connection, anything else is 503 with Retry-After, then 200 again", async () => {
    let stop = false;
    const started = Date.now();
    const load = runLoad({ url, path: "/api/session", token, concurrency: 8, until: () => stop });
    await sleep(700);
    // Requests are mid-query (waiting on this lock) when their connections are killed.
    await admin.query("begin");
    await admin.query("lock table staff in access exclusive mode");
    await sleep(300);
    const first = await terminateBackends();
    await admin.query("commit");
    await sleep(400);
    const second = await terminateBackends();
    const lastFault = Date.now();
    await sleep(1_500);
    stop = true;
    const answers: Answer[] = await load;

    expect(first.rows[0].n + second.rows[0].n).toBeGreaterThan(0);
    const statuses = new Set(answers.map((a) => a.status));
    expect([...statuses].filter((s) => s !== 200 && s !== 503), JSON.stringify(answers.filter((a) => a.status !== 200 && a.status !== 503).slice(0, 3))).toEqual([]);
    // Reads whose connection was killed run again on a new one (db/database.ts), so most or all of these
    // are 200; whatever could not be answered is a 503 the client may retry, never a 500.
    for (const a of answers.filter((x) => x.status === 503)) {
      expect(["database_unavailable", "database_timeout"]).toContain(a.code);
      expect(a.retryAfter).toBe("2");
    }
    // Recovered without a restart: requests sent after the last fault succeed.
    const after = answers.filter((a) => a.sentAt > lastFault + 500);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.sentAt < started + 600).some((a) => a.status === 200)).toBe(true);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  }, 60_000);

  it("pooled connections the database ended while idle are replaced, not failed: reads right after answer 200", async () => {
    // Several connections open, then idle in the pool.
    await Promise.all(Array.from({ length: 6 }, () => session(url, token)));
    proxy.severQuietly();
    await sleep(100);
    const answers = await Promise.all(Array.from({ length: 4 }, () => session(url, token)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(await session(url, token)).toMatchObject({ status: 200 });
  }, 60_000);

  it("a lock held 12 s by another connection fails requests at the lock timeout with 503, not after 12 s", async () => {
    await admin.query("begin");
    await admin.query("lock table staff in access exclusive mode");
    const heldFrom = Date.now();
    try {
      const answers = await Promise.all(Array.from({ length: 4 }, () => session(url, token)));
      for (const a of answers) {
        expect(a).toMatchObject({ status: 503, code: "database_timeout", retryAfter: "2" });
        expect(a.type).toContain("application/problem+json");
        expect(a.ms).toBeGreaterThanOrEqual(LOCK_TIMEOUT_MS - 50);
        expect(a.ms).toBeLessThan(LOCK_TIMEOUT_MS + 3_000);
      }
      // The database itself still answers: ready stays green while one table is locked.
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      await sleep(Math.max(0, 12_000 - (Date.now() - heldFrom)));
    } finally {
      await admin.query("commit");
    }
    expect(await session(url, token)).toMatchObject({ status: 200 });
  }, 60_000);

  it("while the database is unreachable /readyz is red within a second and requests get 503; it recovers without a restart", async () => {
    proxy.blackhole();
    try {
      const started = Date.now();
      const ready = await fetch(`${url}/readyz`);
      const readyMs = Date.now() - started;
      expect(ready.status).toBe(503);
      expect(readyMs).toBeLessThan(1_000);
      expect(ready.headers.get("retry-after")).toBe("1");
      expect(await ready.json()).toMatchObject({ code: "database_unavailable" });
      const during = await session(url, token);
      expect(during).toMatchObject({ status: 503, code: "database_unavailable", retryAfter: "2" });
      expect(during.ms).toBeLessThan(CONNECT_TIMEOUT_MS + 3_000);
    } finally {
      proxy.restore();
    }
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await fetch(`${url}/readyz`)).status;
      if (status !== 200) await sleep(200);
    }
    expect(status).toBe(200);
    expect(await session(url, token)).toMatchObject({ status: 200 });
  }, 60_000);
});

describe("connections lost while idle in the pool, on PostgreSQL", () => {
  it("a read or begin runs again on a new connection; a write sent on a dead one fails and is not sent again", async () => {
    const target = await createTestDatabase("postgres");
    const proxy = new TcpProxy("127.0.0.1", 5432);
    await proxy.start();
    const viaProxy = new URL(target.location);
    viaProxy.port = String(proxy.port);
    const database = await openDatabase({ kind: "postgres", url: viaProxy.toString(), poolSize: 3, limits: { statementTimeoutMs: 5_000, lockTimeoutMs: 1_000, connectTimeoutMs: 1_000 } });
    const { db } = database;
    const admin = new pg.Client({ connectionString: target.location });
    await admin.connect();
    const open3 = () => Promise.all(Array.from({ length: 3 }, () => db.transaction().execute(() => sleep(50))));
    try {
      await open3();
      proxy.severQuietly();
      expect(await db.selectFrom("staff").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).toEqual({ n: 0 });
      await db.transaction().execute((tx) => tx.insertInto("staff").values({ id: "stf_a", zendesk_user_id: "1", email: "a@example.com", name: "A", panel_role: "admin" }).execute());
      expect((await admin.query("select id from staff")).rows).toEqual([{ id: "stf_a" }]);

      // A write as the first statement: whether a dead connection ran it is not known, so it is not sent twice.
      await open3();
      proxy.severQuietly();
      const insert = () => db.insertInto("staff").values({ id: "stf_b", zendesk_user_id: "2", email: "b@example.com", name: "B", panel_role: "admin" }).execute();
      const outcomes = await Promise.allSettled([insert(), insert(), insert()]);
      for (const o of outcomes) {
        expect(o.status).toBe("rejected");
        if (o.status === "rejected") expect(String((o.reason as Error).message)).toMatch(/Connection terminated|ECONNRESET|not queryable/);
      }
      expect((await admin.query("select count(*)::int as n from staff where id = 'stf_b'")).rows[0].n).toBe(0);

      // No connection to be had for the replacement: the read fails as unavailable, and the pool recovers.
      await open3();
      proxy.severQuietly();
      proxy.blackhole({ keepOpen: true });
      await expect(db.selectFrom("staff").select("id").execute()).rejects.toThrow(/timeout exceeded when trying to connect|Connection terminated/);
      proxy.restore();
      expect(await db.selectFrom("staff").select("id").execute()).toEqual([{ id: "stf_a" }]);

      // Later statements of a checkout are never sent again: the transaction they belonged to is gone.
      await open3();
      const failedMidway = db.transaction().execute(async (tx) => {
        await tx.selectFrom("staff").select("id").execute();
        proxy.severQuietly();
        await sleep(50);
        await tx.selectFrom("staff").select("id").execute();
      });
      await expect(failedMidway).rejects.toThrow();
      expect(await db.selectFrom("staff").select("id").execute()).toEqual([{ id: "stf_a" }]);
    } finally {
      await admin.end();
      await database.close();
      await proxy.close();
      await target.close();
    }
  }, 60_000);
});

describe("database faults on PGlite", () => {
  it("a request that cannot get the one connection within the connect timeout gets 503, and the next one works", async () => {
    const database = await openDatabase({ kind: "pglite", dataDir: "memory", limits: { statementTimeoutMs: 5_000, lockTimeoutMs: 1_000, connectTimeoutMs: 400 } });
    try {
      await migrateToLatest(database.db);
      const agent = DEMO_AGENTS[0];
      await database.db.insertInto("staff").values({ id: agent.id, zendesk_user_id: agent.zendeskUserId, email: agent.email, name: agent.name, panel_role: agent.role }).execute();
      const config = loadConfig({ STEWARD_MODE: "demo", LOG_LEVEL: "silent", DEMO_SEED: "false" });
      const providerDeps = { config, db: database.db, clock: systemClock, logger: createLogger("silent") };
      const deps = { config, database, clock: systemClock, logger: providerDeps.logger, identity: createIdentityPort(providerDeps), billing: createBillingPort(providerDeps), directory: createDirectoryPort(providerDeps), auditKeys: TEST_AUDIT_KEYS };
      const app = createApp(deps);
      const { token } = await issueSessionToken({ config, clock: systemClock }, { staffId: agent.id, zendeskUserId: agent.zendeskUserId });
      // A long transaction holds PGlite's only connection.
      const held = database.db.transaction().execute(async () => sleep(1_500));
      await sleep(50);
      const started = Date.now();
      const res = await request(app).get("/api/session").set("authorization", `Bearer ${token}`);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: "database_timeout" });
      expect(res.headers["retry-after"]).toBe("2");
      expect(Date.now() - started).toBeLessThan(1_400);
      await held;
      expect((await request(app).get("/api/session").set("authorization", `Bearer ${token}`)).status).toBe(200);
    } finally {
      await database.close();
    }
  }, 180_000);
});
