import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GENESIS_HASH } from "../../src/audit/auditHash.js";
import { appendAudit, buildEntry } from "../../src/audit/auditLog.js";
import { toAuditRow } from "../../src/audit/auditRow.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import { ManualClock } from "../../src/clock.js";
import type { Database } from "../../src/db/database.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { asSuperuser, HOOK_TIMEOUT, writeEntry } from "./fixtures.js";

describe.each(databaseKinds)("audit log tamper resistance on %s", (kind) => {
  let database: Database;
  const clock = new ManualClock(new Date("2026-11-24T12:00:00.000Z"));

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);
  // Each test starts from the same intact 10-entry chain (one database per kind keeps the suite fast).
  beforeEach(async () => {
    await asSuperuser(database.db, (db) => sql`delete from audit_log`.execute(db));
    clock.set("2026-11-24T12:00:00.000Z");
    for (let i = 1; i <= 10; i++) {
      await appendAudit(database.db, writeEntry({ ticketId: String(1000 + i), reason: `reason ${i}` }), clock);
      clock.advance(1000);
    }
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  describe("through the service's own connection", () => {
    it("refuses UPDATE", async () => {
      await expect(sql`update audit_log set reason = 'softened' where seq = 3`.execute(database.db)).rejects.toThrow(/audit_log is append-only: UPDATE is not allowed/);
    });
    it("refuses DELETE", async () => {
      await expect(sql`delete from audit_log where seq = 3`.execute(database.db)).rejects.toThrow(/audit_log is append-only: DELETE is not allowed/);
    });
    it("refuses TRUNCATE", async () => {
      await expect(sql`truncate audit_log`.execute(database.db)).rejects.toThrow(/audit_log is append-only: TRUNCATE is not allowed/);
    });
    it("leaves the log as it was", async () => {
      await sql`update audit_log set reason = 'x'`.execute(database.db).catch(() => undefined);
      await sql`delete from audit_log`.execute(database.db).catch(() => undefined);
      const count = await database.db.selectFrom("audit_log").select(({ fn }) => fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(10);
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true, entries: 10 });
    });
  });

  describe("by a superuser with the triggers disabled, verify reports", () => {
    it("a changed field at that entry", async () => {
      await asSuperuser(database.db, (db) => sql`update audit_log set reason = 'nothing to see' where seq = 4`.execute(db));
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: false, brokenAt: 4, reason: "changed", entries: 3 });
    });

    it("a changed jsonb value", async () => {
      await asSuperuser(database.db, (db) => sql`update audit_log set after = '{"status":"active","version":4}' where seq = 6`.execute(db));
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: false, brokenAt: 6, reason: "changed" });
    });

    it("an entry rewritten with a freshly computed hash, at that entry", async () => {
      const row = await database.db.selectFrom("audit_log").selectAll().where("seq", "=", 5).executeTakeFirstOrThrow();
      const forged = buildEntry(writeEntry({ ticketId: row.ticket_id, reason: "a different story" }), { id: row.id, seq: 5, occurredAt: row.occurred_at.toISOString(), prevHash: row.prev_hash });
      await asSuperuser(database.db, (db) => sql`update audit_log set reason = ${forged.reason}, hash = ${forged.hash} where seq = 5`.execute(db));
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: false, brokenAt: 5, reason: "changed", entries: 4 });
    });

    it("a deleted row, at the missing seq", async () => {
      const deleted = await database.db.selectFrom("audit_log").select("id").where("seq", "=", 7).executeTakeFirstOrThrow();
      await asSuperuser(database.db, (db) => sql`delete from audit_log where seq = 7`.execute(db));
      const result = await verifyAuditChain(database.db);
      expect(result).toMatchObject({ ok: false, brokenAt: 7, reason: "deleted", entries: 6 });
      expect(JSON.stringify(result)).not.toContain(deleted.id);
    });

    it("several deleted rows, naming the range", async () => {
      await asSuperuser(database.db, (db) => sql`delete from audit_log where seq between 2 and 4`.execute(db));
      const result = await verifyAuditChain(database.db);
      expect(result).toMatchObject({ ok: false, brokenAt: 2, reason: "deleted", entries: 1 });
      expect(result.ok === false && result.detail).toContain("entries 2–4 are missing");
    });

    it("two rows whose seq were swapped, at the first of them", async () => {
      await asSuperuser(database.db, async (db) => {
        await sql`update audit_log set seq = 1000 where seq = 5`.execute(db);
        await sql`update audit_log set seq = 5 where seq = 6`.execute(db);
        await sql`update audit_log set seq = 6 where seq = 1000`.execute(db);
      });
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: false, brokenAt: 5, reason: "reordered", entries: 4 });
    });

    it("a row moved to the end of the log, at the seq it left", async () => {
      const moved = await database.db.selectFrom("audit_log").select("id").where("seq", "=", 3).executeTakeFirstOrThrow();
      await asSuperuser(database.db, (db) => sql`update audit_log set seq = 11 where seq = 3`.execute(db));
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: false, brokenAt: 3, reason: "reordered", entryId: moved.id, entries: 2 });
    });

    it("a row inserted into the middle (later seqs shifted up), at the inserted row", async () => {
      const prev = await database.db.selectFrom("audit_log").select("hash").where("seq", "=", 3).executeTakeFirstOrThrow();
      const forged = buildEntry(writeEntry({ reason: "backdated approval" }), { id: "00000000-0000-4000-8000-000000000001", seq: 4, occurredAt: "2026-11-24T12:00:03.500Z", prevHash: prev.hash });
      await asSuperuser(database.db, async (db) => {
        await sql`update audit_log set seq = seq + 1000 where seq >= 4`.execute(db);
        await sql`update audit_log set seq = seq - 999 where seq >= 1000`.execute(db);
        await db.insertInto("audit_log").values(toAuditRow(forged)).execute();
      });
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: false, brokenAt: 4, reason: "inserted", entryId: forged.id, entries: 3 });
    });

    it("a row with a made-up hash inserted in place of a shifted one, at the inserted row", async () => {
      const prev = await database.db.selectFrom("audit_log").select("hash").where("seq", "=", 8).executeTakeFirstOrThrow();
      const forged = { ...buildEntry(writeEntry(), { id: "00000000-0000-4000-8000-000000000002", seq: 9, occurredAt: "2026-11-24T12:00:08.500Z", prevHash: prev.hash }), hash: "f".repeat(64) };
      await asSuperuser(database.db, async (db) => {
        await sql`update audit_log set seq = seq + 1000 where seq >= 9`.execute(db);
        await sql`update audit_log set seq = seq - 999 where seq >= 1000`.execute(db);
        await db.insertInto("audit_log").values(toAuditRow(forged)).execute();
      });
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: false, brokenAt: 9, reason: "inserted" });
    });

    it("a cut-off tail only against an anchor recorded earlier", async () => {
      const intact = await verifyAuditChain(database.db);
      if (!intact.ok) throw new Error("expected an intact chain");
      await asSuperuser(database.db, (db) => sql`delete from audit_log where seq >= 9`.execute(db));
      // A hash chain alone cannot tell a cut tail from a shorter log…
      expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true, entries: 8 });
      // …the head kept from the earlier run can.
      expect(await verifyAuditChain(database.db, { anchor: { seq: intact.headSeq ?? 0, hash: intact.headHash } })).toMatchObject({ ok: false, reason: "deleted", brokenAt: 9 });
    });

    it("an intact chain when verified in small batches, with progress", async () => {
      const progress: [number, number][] = [];
      const result = await verifyAuditChain(database.db, { batchSize: 3, onProgress: (checked, total) => progress.push([checked, total]) });
      expect(result).toMatchObject({ ok: true, entries: 10, headSeq: 10 });
      expect(progress).toEqual([
        [3, 10],
        [6, 10],
        [9, 10],
        [10, 10],
      ]);
    });

    it("an empty log as intact", async () => {
      await asSuperuser(database.db, (db) => sql`delete from audit_log`.execute(db));
      expect(await verifyAuditChain(database.db)).toEqual({ ok: true, entries: 0, headSeq: null, headHash: GENESIS_HASH });
    });
  });
});
