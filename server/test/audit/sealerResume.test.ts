import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { appendAudit } from "../../src/audit/auditLog.js";
import { sealPending, sealRound } from "../../src/audit/sealer.js";
import { systemClock } from "../../src/clock.js";
import type { Database } from "../../src/db/database.js";
import { TEST_AUDIT_KEYS as keys } from "../support/auditKeys.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { expectSealedOnce, HOOK_TIMEOUT, resetAuditLog, writeEntry } from "./fixtures.js";

/**
 * A backlog is sealed in rounds, each resuming after the last one's seq (sealer.ts, SealResume) instead
 * of stepping over everything already sealed. What a resumed round must still find: entries visible to
 * the last round but past its batch, and entries committed since its snapshot, whatever their seq.
 */
describe.each(databaseKinds)("sealing a backlog in resumed rounds, on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);
  beforeEach(async () => {
    await resetAuditLog(database.db);
  });

  it("seals 53 entries in rounds of 7, each once, in seq order, and says where each full round stopped", async () => {
    for (let i = 0; i < 53; i++) await appendAudit(database.db, writeEntry({ reason: `backlog ${i}` }), systemClock);
    const first = await sealRound(database.db, keys, { batchSize: 7 });
    expect(first).toMatchObject({ leader: true, sealed: 7, more: true });
    const seqs = (await database.db.selectFrom("audit_log").select("seq").orderBy("seq").execute()).map((r) => r.seq);
    expect(first.resume?.afterSeq).toBe(seqs[6]);
    expect((await sealPending(database.db, keys, { batchSize: 7, resume: first.resume })).sealed).toBe(46);
    await expectSealedOnce(database, 53);
    // Chained in seq order: all were visible from the first round on.
    const chain = await database.db.selectFrom("audit_seal").select("entry_seq").orderBy("chain_seq").execute();
    expect(chain.map((c) => c.entry_seq)).toEqual(seqs);
  });

  it("a resumed round still finds an entry written after the last round's snapshot with a lower seq than where it stopped", async () => {
    for (let i = 0; i < 20; i++) await appendAudit(database.db, writeEntry({ reason: `backlog ${i}` }), systemClock);
    const first = await sealRound(database.db, keys, { batchSize: 5 });
    // Pretend the round stopped further on than it did: the entries between are visible-but-untaken, and
    // those before it must come from the "committed since" range (a new append is at or above the xmin).
    const late = await appendAudit(database.db, writeEntry({ reason: "late" }), systemClock);
    const resume = { afterSeq: late.seq + 100, xmin: first.resume!.xmin };
    const round = await sealRound(database.db, keys, { batchSize: 50, resume });
    const sealedSeqs = new Set((await database.db.selectFrom("audit_seal").select("entry_seq").execute()).map((s) => s.entry_seq));
    expect(sealedSeqs.has(late.seq)).toBe(true);
    expect(round.sealed).toBeGreaterThanOrEqual(1);
  });
});

// An entry whose transaction is still open while a round runs, committed before the next: only a
// PostgreSQL server has a second connection to hold it open (PGlite runs one statement at a time).
describe("an entry committed between two rounds of a catch-up, on postgres", () => {
  let database: Database;
  beforeAll(async () => {
    database = await createTestDatabase("postgres");
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);

  it("has a lower seq than where the round stopped and is sealed by the resumed rounds, after the entries that were visible before it", async () => {
    await resetAuditLog(database.db);
    let releaseOpen!: () => void;
    let written!: (seq: number) => void;
    const seqWritten = new Promise<number>((resolve) => (written = resolve));
    const open = database.db.transaction().execute(async (trx) => {
      const entry = await appendAudit(trx, writeEntry({ reason: "open while the round runs" }), systemClock);
      written(entry.seq);
      await new Promise<void>((resolve) => (releaseOpen = resolve));
    });
    const openSeq = await seqWritten;
    for (let i = 0; i < 30; i++) await appendAudit(database.db, writeEntry({ reason: `backlog ${i}` }), systemClock);
    const first = await sealRound(database.db, keys, { batchSize: 10 });
    expect(first.more).toBe(true);
    expect(first.resume!.afterSeq).toBeGreaterThan(openSeq);
    releaseOpen();
    await open;
    await sealPending(database.db, keys, { batchSize: 10, resume: first.resume });
    await expectSealedOnce(database, 31);
    // It became visible after the first round: chained after the ten that round took.
    const chain = await database.db.selectFrom("audit_seal").select(["chain_seq", "entry_seq"]).where("entry_seq", "=", openSeq).executeTakeFirstOrThrow();
    expect(chain.chain_seq).toBeGreaterThan(10);
  });
});
