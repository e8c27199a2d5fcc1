import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAudit } from "../../src/audit/auditLog.js";
import { ensureAuditPartitions, sealPending } from "../../src/audit/sealer.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import { systemClock } from "../../src/clock.js";
import { flagPending } from "../../src/console/flagger.js";
import { openDatabase, type Database } from "../../src/db/database.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { buildDeps } from "../../src/server.js";
import { TEST_AUDIT_KEYS as keys } from "../support/auditKeys.js";
import { databaseKinds, testConfig, TEST_POSTGRES_URL } from "../support/databases.js";
import { agent, HOOK_TIMEOUT, writeEntry } from "./fixtures.js";

/**
 * docs/deploy.md's PostgreSQL set-up, as an operator runs it: deploy/postgres-roles.sql as a superuser,
 * the migrations as steward_owner, deploy/postgres-grants.sql, then Steward's background work as
 * steward_service. Every loop a replica runs on the audit log must work under those grants.
 */
const admin = new URL(TEST_POSTGRES_URL);
const name = `steward_grants_${process.pid}_${randomBytes(4).toString("hex")}`;
const urlAs = (user: string) => {
  const url = new URL(TEST_POSTGRES_URL);
  url.username = user;
  url.password = "";
  url.pathname = `/${name}`;
  return url.toString();
};
const psql = (user: string, database: string, args: string[]) =>
  execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", admin.hostname, "-p", admin.port || "5432", "-U", user, "-d", database, ...args], {
    env: { ...process.env, PGPASSWORD: decodeURIComponent(admin.password) },
    stdio: ["ignore", "pipe", "pipe"],
  });

describe.runIf(databaseKinds.includes("postgres"))("the least-privilege roles of docs/deploy.md", () => {
  let service: Database;
  let refusedStart: unknown;
  beforeAll(async () => {
    psql(decodeURIComponent(admin.username) || "postgres", admin.pathname.slice(1) || "postgres", ["-v", `db=${name}`, "-f", "deploy/postgres-roles.sql"]);
    // Started as the service role before anyone migrated: refused, saying who must migrate.
    refusedStart = await buildDeps(testConfig({ DATABASE_URL: urlAs("steward_service") })).then(
      (deps) => deps.database.close().then(() => null),
      (err: unknown) => err,
    );
    const owner = await openDatabase({ kind: "postgres", url: urlAs("steward_owner"), poolSize: 1 });
    try {
      await migrateToLatest(owner.db);
    } finally {
      await owner.close();
    }
    psql("steward_owner", name, ["-f", "deploy/postgres-grants.sql"]);
    service = await openDatabase({ kind: "postgres", url: urlAs("steward_service"), poolSize: 2 });
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await service?.close();
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
    await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
  }, HOOK_TIMEOUT);

  it("refuses to start as the service role on a database it may not migrate, naming the owner's step", () => {
    expect(refusedStart).toBeInstanceOf(Error);
    expect((refusedStart as Error).message).toMatch(/permission denied.*run them as the owner role.*migrate\.js.*postgres-grants\.sql/);
  });

  it("lets the service role append, seal, flag, count and verify", async () => {
    await ensureAuditPartitions(service.db, new Date());
    for (let i = 0; i < 3; i++) await appendAudit(service.db, writeEntry({ actor: agent(1), reason: `entry ${i}` }), systemClock);
    await sealPending(service.db, keys, { checkpointEvery: 2 });
    // The flagger adds to the console's running counts (migration 035): an UPDATE the grants must allow.
    expect(await flagPending(service.db)).toBe(3);
    const counted = await service.db.selectFrom("audit_activity_day").select(sql<number>`sum(n)::int`.as("n")).executeTakeFirstOrThrow();
    expect(counted.n).toBe(3);
    await appendAudit(service.db, writeEntry({ actor: agent(1), reason: "a fourth, counted on top" }), systemClock);
    await sealPending(service.db, keys);
    expect(await flagPending(service.db)).toBe(1);
    expect((await service.db.selectFrom("audit_activity_day").select(sql<number>`sum(n)::int`.as("n")).executeTakeFirstOrThrow()).n).toBe(4);
    expect(await verifyAuditChain(service.db, keys, { mode: "full", record: true })).toMatchObject({ ok: true, entries: 4, breaks: [] });
  });

  it("keeps the audit log itself append-only for the service role", async () => {
    const refused = await sql`delete from audit_log`.execute(service.db).then(
      () => null,
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/permission denied/);
  });

  it("keeps a partition the sealer makes after the grants SELECT/INSERT only for the service role", async () => {
    // Months ahead: made now by the service role, as the sealer makes next month's once a month.
    await ensureAuditPartitions(service.db, new Date(Date.UTC(2031, 4, 10)));
    const privileges = await sql<{ privilege: string; held: boolean }>`
      select p as privilege, has_table_privilege('steward_service', 'audit_log_y2031m05', p) as held
      from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p`.execute(service.db);
    expect(Object.fromEntries(privileges.rows.map((r) => [r.privilege, r.held]))).toEqual({ SELECT: true, INSERT: true, UPDATE: false, DELETE: false, TRUNCATE: false });
  });
});
