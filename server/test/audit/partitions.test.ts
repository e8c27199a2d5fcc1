import { Migrator, sql, type Kysely, type KyselyPlugin } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { entryMac } from "../../src/audit/auditHash.js";
import { appendAudit, entryContent } from "../../src/audit/auditLog.js";
import { toAuditRow } from "../../src/audit/auditRow.js";
import { searchAudit } from "../../src/audit/auditQuery.js";
import { ensureAuditPartitions, sealPending } from "../../src/audit/sealer.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import { ManualClock } from "../../src/clock.js";
import type { Database } from "../../src/db/database.js";
import { migrations } from "../../src/db/migrate.js";
import type { DB } from "../../src/db/schema.js";
import { TEST_AUDIT_KEYS as keys } from "../support/auditKeys.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { HOOK_TIMEOUT, writeEntry } from "./fixtures.js";

function migrator(db: Kysely<DB>): Migrator {
  return new Migrator({
    db: db as unknown as Kysely<unknown>,
    provider: { getMigrations: async () => migrations },
    migrationTableName: "steward_migrations",
    migrationLockTableName: "steward_migrations_lock",
  });
}

async function partitionsOf(db: Kysely<DB>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'audit_log'::regclass order by 1`.execute(db);
  return rows.map((r) => r.name);
}

describe.each(databaseKinds)("audit_log partitions on %s", (kind) => {
  let database: Database;
  const clock = new ManualClock(new Date("2026-11-24T12:00:00.000Z"));
  const before018 = new Map<string, { seq: number; tx: string }>();

  // Built as an older install would have it: entries in the default partition (months no partition covered), some sealed.
  beforeAll(async () => {
    database = await createTestDatabase(kind, { migrate: false });
    const upTo = await migrator(database.db).migrateTo("015_impersonation");
    if (upTo.error) throw upTo.error;
    // Inserted as appendAudit did before 018 (it did not create months), so they land in the default partition.
    const insertAsBefore = async (at: string, reason: string) => {
      const content = entryContent(writeEntry({ reason }), { id: randomUUID(), occurredAt: at });
      // Without the columns migration 020 adds (ticket_snapshot, approval): they do not exist yet at 015.
      const { ticket_snapshot: _snapshot, approval: _approval, ...row } = toAuditRow(content, entryMac(keys, content));
      await database.db.insertInto("audit_log").values(row).execute();
    };
    for (const at of ["2020-01-15T10:00:00.000Z", "2020-01-20T10:00:00.000Z", "2020-03-01T00:00:00.000Z", "2020-03-31T23:59:59.999Z"]) await insertAsBefore(at, `written ${at}`);
    await sealPending(database.db, keys);
    await insertAsBefore("2020-02-10T10:00:00.000Z", "written in February, not sealed before the migration");
    const { rows } = await sql<{ id: string; seq: number; tx: string }>`select id, seq, tx::text as tx from audit_log_default`.execute(database.db);
    expect(rows).toHaveLength(5);
    for (const r of rows) before018.set(r.id, { seq: Number(r.seq), tx: r.tx });
    const rest = await migrator(database.db).migrateToLatest();
    if (rest.error) throw rest.error;
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);

  it("has no default partition; its entries are in their months with the same seq and tx, and the chain verifies", async () => {
    // Other tests in this file add entries of their own (in later years); the chain holds those too.
    const total = await database.db.selectFrom("audit_log").select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow();
    const names = await partitionsOf(database.db);
    expect(names).not.toContain("audit_log_default");
    expect(names).toEqual(expect.arrayContaining(["audit_log_y2020m01", "audit_log_y2020m02", "audit_log_y2020m03"]));
    const { rows } = await sql<{ id: string; seq: number; tx: string; part: string }>`select id, seq, tx::text as tx, tableoid::regclass::text as part from audit_log where occurred_at < '2021-01-01'`.execute(database.db);
    expect(rows).toHaveLength(5);
    for (const r of rows) {
      expect({ seq: Number(r.seq), tx: r.tx }).toEqual(before018.get(r.id));
    }
    expect(rows.map((r) => r.part).sort()).toEqual(["audit_log_y2020m01", "audit_log_y2020m01", "audit_log_y2020m02", "audit_log_y2020m03", "audit_log_y2020m03"]);
    // The entry left unsealed before the migration is sealed after it, once.
    await sealPending(database.db, keys);
    const report = await verifyAuditChain(database.db, keys, { mode: "full" });
    expect(report.breaks).toEqual([]);
    expect(report).toMatchObject({ ok: true, entries: Number(total.n), unsealed: 0 });
  });

  it("still refuses UPDATE, DELETE and TRUNCATE on the moved months", async () => {
    await expect(sql`update audit_log set reason = 'x' where occurred_at < '2020-02-01'`.execute(database.db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_log where occurred_at < '2020-02-01'`.execute(database.db)).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit_log_y2020m01`.execute(database.db)).rejects.toThrow(/append-only/);
  });

  it("creates the month an entry needs when no partition holds it yet, once", async () => {
    const at = "2031-07-04T08:00:00.000Z";
    expect(await partitionsOf(database.db)).not.toContain("audit_log_y2031m07");
    clock.set(at);
    const [a, b] = await Promise.all([appendAudit(database.db, writeEntry({ reason: "far ahead 1" }), clock), appendAudit(database.db, writeEntry({ reason: "far ahead 2" }), clock)]);
    const { rows } = await sql<{ part: string }>`select distinct tableoid::regclass::text as part from audit_log where id in (${a.id}, ${b.id})`.execute(database.db);
    expect(rows.map((r) => r.part)).toEqual(["audit_log_y2031m07"]);
    await sealPending(database.db, keys);
    expect((await verifyAuditChain(database.db, keys, { mode: "full" })).ok).toBe(true);
  });

  it("appends that arrive together outside a transaction ask for a new month once, and then share INSERTs", async () => {
    const statements = { addMonth: 0, inserts: 0 };
    const counting: KyselyPlugin = {
      transformQuery: ({ node }) => {
        if (JSON.stringify(node).includes("audit_log_add_month")) statements.addMonth++;
        if (node.kind === "InsertQueryNode") statements.inserts++;
        return node;
      },
      transformResult: async ({ result }) => result,
    };
    // Same database, so the same months known and the same appenders, with its statements counted.
    const db = database.db.withPlugin(counting);
    clock.set("2032-05-05T05:00:00.000Z");
    const entries = await Promise.all(Array.from({ length: 20 }, (_, i) => appendAudit(db, writeEntry({ reason: `burst ${i}` }), clock)));
    expect(new Set(entries.map((e) => e.id)).size).toBe(20);
    // One after another, each of the twenty asked for the month itself and reached the INSERTs one by one.
    expect(statements.addMonth).toBe(1);
    // The first two go at once, alone (two INSERTs in flight at most); the other eighteen share the next.
    expect(statements.inserts).toBeLessThanOrEqual(3);
    expect(await partitionsOf(database.db)).toContain("audit_log_y2032m05");
  });

  it("the sealer keeps the month of the time given and the next one ready, across a year's end", async () => {
    const before = new Set(await partitionsOf(database.db));
    await ensureAuditPartitions(database.db, new Date("2034-12-31T23:59:59.999Z"));
    expect((await partitionsOf(database.db)).filter((name) => !before.has(name))).toEqual(["audit_log_y2034m12", "audit_log_y2035m01"]);
  });

  it("recreates a month whose creation rolled back with the transaction that made it", async () => {
    clock.set("2033-02-02T00:00:00.000Z");
    await expect(
      database.db.transaction().execute(async (trx) => {
        await appendAudit(trx, writeEntry({ reason: "rolled back" }), clock);
        throw new Error("the change failed");
      }),
    ).rejects.toThrow("the change failed");
    expect(await partitionsOf(database.db)).not.toContain("audit_log_y2033m02");
    // This process thought the month was there: the append finds it missing, forgets it, and tries once more.
    const entry = await appendAudit(database.db, writeEntry({ reason: "after the rollback" }), clock);
    expect(entry.occurredAt).toBe("2033-02-02T00:00:00.000Z");
    expect(await partitionsOf(database.db)).toContain("audit_log_y2033m02");
  });

  it("reads a newest-first page starting at the newest month, without merging every partition", async () => {
    // The newest entries are this test's own, in two months later than any other test writes.
    clock.set("2036-03-10T10:00:00.000Z");
    const older = await appendAudit(database.db, writeEntry({ reason: "newest but two" }), clock);
    const sameTime = await appendAudit(database.db, writeEntry({ reason: "newest but one" }), clock);
    clock.set("2036-09-01T00:00:00.000Z");
    const newest = await appendAudit(database.db, writeEntry({ reason: "newest" }), clock);
    // Ordered partitions (possible only without a default one) let the planner walk them newest first and stop early.
    // A handful of rows would be sorted whole; without sorts and scans the planner shows how it walks the index.
    const plan = await database.db.transaction().execute(async (trx) => {
      await sql`set local enable_sort = off`.execute(trx);
      await sql`set local enable_seqscan = off`.execute(trx);
      const { rows } = await sql<{ "QUERY PLAN": string }>`explain select * from audit_log order by occurred_at desc, seq desc limit 50`.execute(trx);
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    });
    expect(plan).not.toMatch(/Merge Append/);
    expect(plan).toMatch(/Append/);
    const page = await searchAudit(database.db, {}, { limit: 3 });
    expect(page.entries.map((e) => [e.id, e.occurredAt])).toEqual([
      [newest.id, "2036-09-01T00:00:00.000Z"],
      [sameTime.id, "2036-03-10T10:00:00.000Z"],
      [older.id, "2036-03-10T10:00:00.000Z"],
    ]);
  });
});
