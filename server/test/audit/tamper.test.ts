import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { entryMac, GENESIS_HASH, sealedEntryHash, chainLink, verifiedMac } from "../../src/audit/auditHash.js";
import { appendAudit, entryContent } from "../../src/audit/auditLog.js";
import { auditHeadSeq } from "../../src/audit/auditQuery.js";
import { toAuditEntry, toAuditRow } from "../../src/audit/auditRow.js";
import { AuditCheckpoint, exportCheckpoint } from "../../src/audit/checkpoints.js";
import { sealPending } from "../../src/audit/sealer.js";
import { auditKeysFromSecret } from "../../src/audit/sealKey.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import { ManualClock } from "../../src/clock.js";
import type { Database } from "../../src/db/database.js";
import { TEST_AUDIT_KEYS as keys } from "../support/auditKeys.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { asSuperuser, HOOK_TIMEOUT, resetAuditLog, writeEntry } from "./fixtures.js";

/** Someone with INSERT but not the audit key: a well-formed row whose MAC is made with another key. */
const outsiderKeys = auditKeysFromSecret("0bad".repeat(16));

describe.each(databaseKinds)("audit log tamper resistance on %s", (kind) => {
  let database: Database;
  const clock = new ManualClock(new Date("2026-11-24T12:00:00.000Z"));
  const full = () => verifyAuditChain(database.db, keys, { mode: "full", record: false });
  const breaksOf = async () => (await full()).breaks.map((b) => [b.brokenAt, b.reason]);

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);
  // Each test starts from the same sealed 10-entry log, seq 1–10 at chain positions 1–10.
  beforeEach(async () => {
    await resetAuditLog(database.db);
    clock.set("2026-11-24T12:00:00.000Z");
    for (let i = 1; i <= 10; i++) {
      await appendAudit(database.db, writeEntry({ ticketId: String(1000 + i), reason: `reason ${i}` }), clock);
      clock.advance(1000);
    }
    expect((await sealPending(database.db, keys)).sealed).toBe(10);
    expect(await full()).toMatchObject({ ok: true, entries: 10, headSeq: 10, unsealed: 0, breaks: [] });
  });

  describe("through the service's own connection", () => {
    it("refuses UPDATE, DELETE and TRUNCATE on the log, its partitions and its seals", async () => {
      await expect(sql`update audit_log set reason = 'softened' where seq = 3`.execute(database.db)).rejects.toThrow(/audit_log is append-only: UPDATE is not allowed/);
      await expect(sql`delete from audit_log where seq = 3`.execute(database.db)).rejects.toThrow(/audit_log is append-only: DELETE is not allowed/);
      await expect(sql`truncate audit_log`.execute(database.db)).rejects.toThrow(/audit_log is append-only: TRUNCATE is not allowed/);
      await expect(sql`truncate audit_log_y2026m11`.execute(database.db)).rejects.toThrow(/audit_log is append-only: TRUNCATE is not allowed/);
      await expect(sql`update audit_seal set entry_hash = ${"0".repeat(64)} where chain_seq = 3`.execute(database.db)).rejects.toThrow(/audit_seal is append-only: UPDATE is not allowed/);
      await expect(sql`delete from audit_seal where chain_seq = 3`.execute(database.db)).rejects.toThrow(/audit_seal is append-only: DELETE is not allowed/);
      await expect(sql`delete from audit_checkpoint`.execute(database.db)).rejects.toThrow(/audit_checkpoint is append-only: DELETE is not allowed/);
      expect(await full()).toMatchObject({ ok: true, entries: 10 });
    });

    it("stamps seq itself, whatever an insert sends", async () => {
      const content = entryContent(writeEntry(), { id: randomUUID(), occurredAt: clock.now().toISOString() });
      await sql`insert into audit_log (id, seq, tx, occurred_at, actor_staff_id, action, target_type, outcome, mac) values (${content.id}, 3, '1', ${content.occurredAt}, 'stf_x', 'user.suspend', 'user', 'succeeded', ${entryMac(keys, content)})`.execute(database.db);
      const row = await database.db.selectFrom("audit_log").select("seq").where("id", "=", content.id).executeTakeFirstOrThrow();
      expect(row.seq).toBe(11);
    });

    it("an INSERT-only forgery, sealed or not, at the forged entry", async () => {
      const forged = entryContent(writeEntry({ reason: "approved by the manager" }), { id: randomUUID(), occurredAt: clock.now().toISOString() });
      await database.db.insertInto("audit_log").values(toAuditRow(forged, entryMac(outsiderKeys, forged))).execute();
      // Not sealed yet: a full verify finds it outside the chain.
      expect((await full()).breaks).toMatchObject([{ brokenAt: 11, chainSeq: null, entryId: forged.id, reason: "inserted" }]);
      // The sealer chains whatever committed; verify still names it at its place.
      await sealPending(database.db, keys);
      const result = await full();
      expect(result.breaks).toMatchObject([{ brokenAt: 11, chainSeq: 11, entryId: forged.id, reason: "inserted" }]);
      expect(result.breaks[0]?.detail).toContain("MAC that does not verify");
    });

    it("an INSERT-only forgery without a MAC", async () => {
      const forged = entryContent(writeEntry(), { id: randomUUID(), occurredAt: clock.now().toISOString() });
      await database.db.insertInto("audit_log").values({ ...toAuditRow(forged, "0".repeat(64)), mac: null }).execute();
      await sealPending(database.db, keys);
      expect(await breaksOf()).toEqual([[11, "inserted"]]);
    });
  });

  describe("by a superuser with the triggers disabled, verify reports", () => {
    it("a changed field at that entry", async () => {
      await asSuperuser(database.db, (db) => sql`update audit_log set reason = 'nothing to see' where seq = 4`.execute(db));
      expect((await full()).breaks).toMatchObject([{ brokenAt: 4, chainSeq: 4, reason: "changed" }]);
    });

    it("a changed jsonb value", async () => {
      await asSuperuser(database.db, (db) => sql`update audit_log set after = '{"status":"active","version":4}' where seq = 6`.execute(db));
      expect(await breaksOf()).toEqual([[6, "changed"]]);
    });

    it("a rewrite with the entry and seal hashes recomputed (rehash), at that entry", async () => {
      const row = await database.db.selectFrom("audit_log").selectAll().where("seq", "=", 5).executeTakeFirstOrThrow();
      const rewritten = { ...toAuditEntry(row), reason: "a different story" };
      // Everything that needs no key is recomputed; the MACs can only be made with a key of one's own.
      const mac = entryMac(outsiderKeys, rewritten);
      const entryHash = sealedEntryHash({ ...rewritten, mac });
      const seal = await database.db.selectFrom("audit_seal").selectAll().where("chain_seq", "=", 5).executeTakeFirstOrThrow();
      const hash = chainLink(outsiderKeys, { chainSeq: 5, prevHash: seal.prev_hash, entrySeq: 5, entryId: row.id, entryHash });
      await asSuperuser(database.db, async (db) => {
        await sql`update audit_log set reason = ${rewritten.reason}, mac = ${mac} where seq = 5`.execute(db);
        await sql`update audit_seal set entry_hash = ${entryHash}, hash = ${hash} where chain_seq = 5`.execute(db);
        await sql`update audit_seal set prev_hash = ${hash} where chain_seq = 6`.execute(db);
      });
      // Position 5's seal does not verify, and neither does 6's, whose link was re-pointed.
      expect(await breaksOf()).toEqual([
        [5, "changed"],
        [6, "changed"],
      ]);
    });

    it("a deleted sealed entry, at that entry", async () => {
      const deleted = await database.db.selectFrom("audit_log").select("id").where("seq", "=", 7).executeTakeFirstOrThrow();
      await asSuperuser(database.db, (db) => sql`delete from audit_log where seq = 7`.execute(db));
      expect((await full()).breaks).toMatchObject([{ brokenAt: 7, chainSeq: 7, entryId: deleted.id, reason: "deleted" }]);
    });

    it("entries deleted with their seals, at the missing chain positions", async () => {
      await asSuperuser(database.db, async (db) => {
        await sql`delete from audit_log where seq between 2 and 4`.execute(db);
        await sql`delete from audit_seal where chain_seq between 2 and 4`.execute(db);
      });
      const result = await full();
      expect(result.breaks).toMatchObject([{ brokenAt: null, chainSeq: 2, reason: "deleted" }]);
      expect(result.breaks[0]?.detail).toContain("chain positions 2–4 are missing");
    });

    it("two entries whose seq were swapped, at each of them", async () => {
      await asSuperuser(database.db, async (db) => {
        await sql`update audit_log set seq = 1000 where seq = 5`.execute(db);
        await sql`update audit_log set seq = 5 where seq = 6`.execute(db);
        await sql`update audit_log set seq = 6 where seq = 1000`.execute(db);
      });
      expect(await breaksOf()).toEqual([
        [5, "reordered"],
        [6, "reordered"],
      ]);
    });

    it("an entry moved to the end of the log, at the seq it left", async () => {
      const moved = await database.db.selectFrom("audit_log").select("id").where("seq", "=", 3).executeTakeFirstOrThrow();
      await asSuperuser(database.db, (db) => sql`update audit_log set seq = 11 where seq = 3`.execute(db));
      const result = await full();
      expect(result.breaks).toMatchObject([{ brokenAt: 3, entryId: moved.id, reason: "reordered" }]);
      expect(result.breaks[0]?.detail).toContain("moved to seq 11");
    });

    it("two seals whose chain positions were swapped, at each of them", async () => {
      await asSuperuser(database.db, async (db) => {
        await sql`update audit_seal set chain_seq = 1000 where chain_seq = 5`.execute(db);
        await sql`update audit_seal set chain_seq = 5 where chain_seq = 6`.execute(db);
        await sql`update audit_seal set chain_seq = 6 where chain_seq = 1000`.execute(db);
      });
      const result = await full();
      expect(result.breaks.map((b) => [b.chainSeq, b.brokenAt, b.reason])).toEqual([
        [5, 6, "reordered"],
        [6, 5, "reordered"],
      ]);
    });

    it("a seal moved as far as the search for its old position reaches (256 positions), and one moved further", async () => {
      await asSuperuser(database.db, (db) => sql`update audit_seal set chain_seq = 257 where chain_seq = 1`.execute(db));
      const moved = await full();
      expect(moved.breaks.map((b) => [b.chainSeq, b.brokenAt, b.reason])).toEqual([
        [1, null, "deleted"],
        [11, null, "deleted"],
        [257, 1, "reordered"],
      ]);
      expect(moved.breaks.map((b) => b.detail)).toEqual([
        "chain position 1 is missing: sealed entries were removed with their seals",
        "chain positions 11–256 are missing: sealed entries were removed with their seals",
        "the seal of entry 1 was moved from chain position 1 to 257",
      ]);
      // One position further, its old place is out of reach: the seal only fails its MAC.
      await asSuperuser(database.db, (db) => sql`update audit_seal set chain_seq = 258 where chain_seq = 257`.execute(db));
      expect((await full()).breaks.at(-1)).toEqual({ brokenAt: 1, chainSeq: 258, entryId: moved.breaks[2]!.entryId, reason: "changed", detail: "the seal of entry 1 at chain position 258 was rewritten: its MAC does not verify" });
    });

    it("seals re-linked with the chain key (spliced from another chain sealed with the same key): at each, not at the position after", async () => {
      // Valid links whose prev_hash is not the position before: only the link to the position before catches them.
      for (const chainSeq of [1, 5]) {
        const seal = await database.db.selectFrom("audit_seal").selectAll().where("chain_seq", "=", chainSeq).executeTakeFirstOrThrow();
        const prevHash = "f".repeat(64);
        const hash = chainLink(keys, { chainSeq, prevHash, entrySeq: seal.entry_seq, entryId: seal.entry_id, entryHash: seal.entry_hash });
        await asSuperuser(database.db, (db) => sql`update audit_seal set prev_hash = ${prevHash}, hash = ${hash} where chain_seq = ${chainSeq}`.execute(db));
      }
      const result = await full();
      expect(result.breaks.map((b) => [b.chainSeq, b.reason])).toEqual([
        [1, "reordered"],
        [5, "reordered"],
      ]);
      expect(result.breaks[1]?.detail).toBe("entry 5 was sealed after a different entry than the one now before it at chain position 5");
    });

    it("a head re-sealed with the chain key over a changed entry, against the database's own signed checkpoint", async () => {
      const seal = await database.db.selectFrom("audit_seal").selectAll().where("chain_seq", "=", 10).executeTakeFirstOrThrow();
      await asSuperuser(database.db, (db) => sql`update audit_log set reason = 'rewritten, and re-sealed' where seq = 10`.execute(db));
      const row = await database.db.selectFrom("audit_log").selectAll().where("seq", "=", 10).executeTakeFirstOrThrow();
      const entryHash = sealedEntryHash(toAuditEntry(row));
      const hash = chainLink(keys, { chainSeq: 10, prevHash: seal.prev_hash, entrySeq: 10, entryId: seal.entry_id, entryHash });
      await asSuperuser(database.db, (db) => sql`update audit_seal set entry_hash = ${entryHash}, hash = ${hash} where chain_seq = 10`.execute(db));
      expect((await full()).breaks).toMatchObject([{ chainSeq: 10, brokenAt: 10, reason: "changed", detail: "chain position 10 no longer has the head recorded by checkpoint 10" }]);
    });

    it("a cut-off tail against the checkpoint still in the database, an anchor given taking its place", async () => {
      await asSuperuser(database.db, async (db) => {
        await sql`delete from audit_log where seq >= 9`.execute(db);
        await sql`delete from audit_seal where chain_seq >= 9`.execute(db);
      });
      expect((await full()).breaks).toEqual([{ brokenAt: null, chainSeq: 10, entryId: null, reason: "deleted", detail: "the chain ends at position 8, before position 10 recorded by checkpoint 10" }]);
      const cp = await database.db.selectFrom("audit_checkpoint").select("head_hash").where("chain_seq", "=", 10).executeTakeFirstOrThrow();
      const anchored = await verifyAuditChain(database.db, keys, { mode: "full", record: false, anchors: [{ chainSeq: 10, hash: cp.head_hash }] });
      expect(anchored.breaks.map((b) => b.detail)).toEqual(["the chain ends at position 8, before position 10 recorded by the anchor given"]);
    });

    it("a deleted sealed entry and a forged row that makes the count add up again: both", async () => {
      const deleted = await database.db.selectFrom("audit_log").select("id").where("seq", "=", 7).executeTakeFirstOrThrow();
      await asSuperuser(database.db, (db) => sql`delete from audit_log where seq = 7`.execute(db));
      const forged = entryContent(writeEntry(), { id: randomUUID(), occurredAt: clock.now().toISOString() });
      await database.db.insertInto("audit_log").values(toAuditRow(forged, entryMac(outsiderKeys, forged))).execute();
      expect((await full()).breaks).toEqual([
        { brokenAt: 7, chainSeq: 7, entryId: deleted.id, reason: "deleted", detail: "entry 7 was sealed at chain position 7 and is no longer in the log" },
        { brokenAt: 11, chainSeq: null, entryId: forged.id, reason: "inserted", detail: "entry 11 carries a MAC that does not verify: it was not written by Steward" },
      ]);
    });

    it("an unsealed row planted below the sealer's horizon (triggers off, an old tx): the full verify still finds it", async () => {
      const forged = entryContent(writeEntry(), { id: randomUUID(), occurredAt: clock.now().toISOString() });
      // seq and tx are the database's own columns (no insert type has them): with its triggers off, the row gives them.
      await asSuperuser(database.db, (db) => db.insertInto("audit_log").values({ ...toAuditRow(forged, entryMac(outsiderKeys, forged)), seq: 50, tx: "1" } as never).execute());
      expect((await full()).breaks).toMatchObject([{ brokenAt: 50, chainSeq: null, entryId: forged.id, reason: "inserted" }]);
    });

    it("every break, not only the first", async () => {
      const forged = entryContent(writeEntry(), { id: randomUUID(), occurredAt: clock.now().toISOString() });
      await database.db.insertInto("audit_log").values(toAuditRow(forged, entryMac(outsiderKeys, forged))).execute();
      await sealPending(database.db, keys);
      await asSuperuser(database.db, async (db) => {
        await sql`update audit_log set reason = 'edited' where seq = 2`.execute(db);
        await sql`delete from audit_log where seq = 6`.execute(db);
        await sql`update audit_log set ticket_id = '9' where seq = 9`.execute(db);
      });
      const result = await full();
      expect(result.ok).toBe(false);
      expect(result.breaks.map((b) => [b.brokenAt, b.reason])).toEqual([
        [2, "changed"],
        [6, "deleted"],
        [9, "changed"],
        [11, "inserted"],
      ]);
      expect(result.entries).toBe(11);
    });

    it("a cut-off tail only against a checkpoint kept outside the database", async () => {
      const dir = mkdtempSync(join(tmpdir(), "steward-checkpoints-"));
      try {
        const head = await database.db.selectFrom("audit_checkpoint").selectAll().orderBy("chain_seq", "desc").executeTakeFirstOrThrow();
        const cp = AuditCheckpoint.parse({ chainSeq: head.chain_seq, headHash: head.head_hash, entryCount: head.entry_count, createdAt: head.created_at.toISOString(), keyId: head.key_id, signature: head.signature });
        await exportCheckpoint({ dir }, cp, keys.publicKeyPem);
        expect(readdirSync(dir)).toEqual(["checkpoint-000000000010.json"]);
        const kept = AuditCheckpoint.parse(JSON.parse(readFileSync(join(dir, "checkpoint-000000000010.json"), "utf8")));
        await asSuperuser(database.db, async (db) => {
          await sql`delete from audit_log where seq >= 9`.execute(db);
          await sql`delete from audit_seal where chain_seq >= 9`.execute(db);
          await sql`delete from audit_checkpoint`.execute(db);
        });
        // A chain alone cannot tell a cut tail from a shorter log…
        expect(await full()).toMatchObject({ ok: true, entries: 8 });
        // …the checkpoint kept elsewhere can.
        const anchored = await verifyAuditChain(database.db, keys, { mode: "full", record: false, anchors: [{ chainSeq: kept.chainSeq, hash: kept.headHash }] });
        expect(anchored.breaks).toMatchObject([{ chainSeq: 10, reason: "deleted" }]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("a forged checkpoint in the database", async () => {
      await database.db.insertInto("audit_checkpoint").values({ chain_seq: 12, head_hash: "a".repeat(64), entry_count: 12, created_at: clock.now(), key_id: keys.keyId, signature: "00" }).execute();
      expect((await full()).breaks).toEqual([{ brokenAt: null, chainSeq: 12, entryId: null, reason: "inserted", detail: "checkpoint at chain position 12 does not carry a valid signature" }]);
    });
  });

  describe("what verify accepts, lists and records", () => {
    it("lists at most maxBreaks breaks and says the list is truncated", async () => {
      await asSuperuser(database.db, (db) => sql`update audit_log set reason = 'edited' where seq in (2, 4, 6)`.execute(db));
      expect(await verifyAuditChain(database.db, keys, { mode: "full", record: false, maxBreaks: 3 })).toMatchObject({ ok: false, truncated: false, breaks: [{ brokenAt: 2 }, { brokenAt: 4 }, { brokenAt: 6 }] });
      const cut = await verifyAuditChain(database.db, keys, { mode: "full", record: false, maxBreaks: 2 });
      expect(cut).toMatchObject({ ok: false, truncated: true, entries: 10 });
      expect(cut.breaks.map((b) => b.brokenAt)).toEqual([2, 4]);
    });

    it("reads sealed entries whose seqs are far apart (the sequence jumped) as well as close ones", async () => {
      await sql`select setval('audit_log_seq', 1000)`.execute(database.db);
      const far = await appendAudit(database.db, writeEntry({ reason: "after the jump" }), clock);
      expect(far.seq).toBe(1001);
      await sealPending(database.db, keys);
      expect(await full()).toMatchObject({ ok: true, entries: 11, headSeq: 11, unsealed: 0 });
      await asSuperuser(database.db, (db) => sql`update audit_log set reason = 'edited' where seq = 1001`.execute(db));
      expect(await breaksOf()).toEqual([[1001, "changed"]]);
    });

    it("accepts entries without a MAC up to the legacy head (written before entry MACs existed), and none after it", async () => {
      const unmaced = async (reason: string) => {
        const content = entryContent(writeEntry({ reason }), { id: randomUUID(), occurredAt: clock.now().toISOString() });
        await database.db.insertInto("audit_log").values({ ...toAuditRow(content, "0".repeat(64)), mac: null }).execute();
      };
      await unmaced("legacy 11");
      await unmaced("forged 12");
      const setLegacyHead = async (seq: number) => {
        await sql`alter table audit_legacy disable trigger all`.execute(database.db);
        await sql`update audit_legacy set head_seq = ${seq}`.execute(database.db);
        await sql`alter table audit_legacy enable trigger all`.execute(database.db);
      };
      await setLegacyHead(11);
      try {
        // Outside the chain, then sealed: 11 is legacy, 12 is not Steward's.
        expect(await breaksOf()).toEqual([[12, "inserted"]]);
        expect((await full()).unsealed).toBe(1);
        await sealPending(database.db, keys);
        expect(await breaksOf()).toEqual([[12, "inserted"]]);
        expect((await full()).breaks[0]?.detail).toBe("entry 12 carries no MAC: it was not written by Steward");
      } finally {
        await setLegacyHead(0);
      }
    });

    it("records an intact verify with its time and a MAC, ignores a mark the database forged, and checks anchors before its start directly", async () => {
      const at = new Date("2026-11-25T08:00:00.000Z");
      expect(await verifyAuditChain(database.db, keys, { now: () => at })).toMatchObject({ ok: true, mode: "full" });
      const head = await database.db.selectFrom("audit_seal").select("hash").where("chain_seq", "=", 10).executeTakeFirstOrThrow();
      const marks = await database.db.selectFrom("audit_verified").selectAll().execute();
      expect(marks).toEqual([{ chain_seq: 10, head_hash: head.hash, verified_at: at, mac: verifiedMac(keys, { chainSeq: 10, headHash: head.hash, verifiedAt: at.toISOString() }) }]);
      // Three more sealed entries, and a newer mark for them without a valid MAC: not a starting point.
      for (let i = 0; i < 3; i++) await appendAudit(database.db, writeEntry(), clock);
      await sealPending(database.db, keys, { checkpointEvery: 1_000_000, checkpointIntervalMs: 3_600_000 });
      const forgedHead = await database.db.selectFrom("audit_seal").select("hash").where("chain_seq", "=", 13).executeTakeFirstOrThrow();
      await database.db.insertInto("audit_verified").values({ chain_seq: 13, head_hash: forgedHead.hash, verified_at: at, mac: "0".repeat(64) }).execute();
      await asSuperuser(database.db, (db) => sql`update audit_log set reason = 'after the good mark' where seq = 12`.execute(db));
      await asSuperuser(database.db, (db) => sql`delete from audit_seal where chain_seq = 3`.execute(db));
      const progress: [number, number][] = [];
      const resumed = await verifyAuditChain(database.db, keys, {
        anchors: [
          { chainSeq: 2, hash: (await database.db.selectFrom("audit_seal").select("hash").where("chain_seq", "=", 2).executeTakeFirstOrThrow()).hash },
          { chainSeq: 3, hash: "d".repeat(64) },
          { chainSeq: 4, hash: "e".repeat(64) },
          { chainSeq: 10, hash: "f".repeat(64) },
        ],
        onProgress: (checked, total) => progress.push([checked, total]),
      });
      expect(resumed).toMatchObject({ ok: false, mode: "incremental", fromSeq: 10, entries: 3 });
      expect(progress).toEqual([[3, 3]]);
      // Anchors at or before the start (10 included) are checked against their seals (2 holds); the walk checks the rest.
      expect(resumed.breaks.map((b) => [b.chainSeq, b.brokenAt, b.reason, b.detail])).toEqual([
        [3, null, "deleted", "chain position 3, recorded by the anchor given, is missing"],
        [4, 4, "changed", "chain position 4 no longer has the head recorded by the anchor given"],
        [10, 10, "changed", "chain position 10 no longer has the head recorded by the anchor given"],
        [12, 12, "changed", "entry 12 was changed after it was sealed: its content no longer matches its seal"],
      ]);
      expect(resumed.breaks[1]?.entryId).toBe((await database.db.selectFrom("audit_log").select("id").where("seq", "=", 4).executeTakeFirstOrThrow()).id);
      // A broken result is never recorded as a starting point.
      expect(await database.db.selectFrom("audit_verified").select("chain_seq").orderBy("chain_seq").execute()).toEqual([{ chain_seq: 10 }, { chain_seq: 13 }]);
    });

    it("starts over from the first entry when the recorded head's seal is gone, and records nothing for an empty log", async () => {
      expect((await verifyAuditChain(database.db, keys)).ok).toBe(true);
      await asSuperuser(database.db, async (db) => {
        await sql`delete from audit_seal where chain_seq = 10`.execute(db);
        await sql`delete from audit_log where seq = 10`.execute(db);
        await sql`delete from audit_checkpoint where chain_seq = 10`.execute(db);
      });
      expect(await verifyAuditChain(database.db, keys)).toMatchObject({ mode: "full", ok: true, entries: 9, headSeq: 9 });
      await resetAuditLog(database.db);
      expect(await verifyAuditChain(database.db, keys)).toMatchObject({ ok: true, entries: 0, headSeq: null });
      expect(await database.db.selectFrom("audit_verified").selectAll().execute()).toEqual([]);
    });
  });

  describe("incremental verify", () => {
    it("starts from the head the last intact verify recorded, and full still checks everything", async () => {
      expect(await verifyAuditChain(database.db, keys)).toMatchObject({ ok: true, mode: "full", entries: 10 });
      for (let i = 0; i < 3; i++) await appendAudit(database.db, writeEntry(), clock);
      await sealPending(database.db, keys);
      expect(await verifyAuditChain(database.db, keys)).toMatchObject({ ok: true, mode: "incremental", fromSeq: 10, entries: 3, headSeq: 13 });
      await asSuperuser(database.db, (db) => sql`update audit_log set reason = 'old news' where seq = 2`.execute(db));
      // An incremental verify checks what came since; the full one finds the old rewrite.
      expect(await verifyAuditChain(database.db, keys)).toMatchObject({ ok: true, mode: "incremental", fromSeq: 13, entries: 0 });
      expect(await breaksOf()).toEqual([[2, "changed"]]);
    });

    it("falls back to a full walk when the recorded head was rewritten", async () => {
      expect((await verifyAuditChain(database.db, keys)).ok).toBe(true);
      await asSuperuser(database.db, (db) => sql`update audit_seal set hash = ${"e".repeat(64)} where chain_seq = 10`.execute(db));
      const result = await verifyAuditChain(database.db, keys);
      expect(result).toMatchObject({ mode: "full", ok: false });
      expect(result.breaks.map((b) => [b.brokenAt, b.reason])).toEqual([[10, "changed"]]);
    });

    it("reports progress batch by batch, and an empty log as intact", async () => {
      const progress: [number, number][] = [];
      const result = await verifyAuditChain(database.db, keys, { mode: "full", record: false, batchSize: 3, onProgress: (checked, total) => progress.push([checked, total]) });
      expect(result).toMatchObject({ ok: true, entries: 10, headSeq: 10 });
      expect(progress).toEqual([
        [3, 10],
        [6, 10],
        [9, 10],
        [10, 10],
      ]);
      await resetAuditLog(database.db);
      expect(await full()).toEqual({ ok: true, mode: "full", fromSeq: 0, entries: 0, headSeq: null, headHash: GENESIS_HASH, unsealed: 0, breaks: [], truncated: false });
      // An export of an empty log goes up to seq 0.
      expect(await auditHeadSeq(database.db)).toBe(0);
    });
  });
});
