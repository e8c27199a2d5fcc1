import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { appendAudit } from "../../src/audit/auditLog.js";
import { AUDIT_SEALER_LOCK, sealPending, sealRound, unsealedQuery } from "../../src/audit/sealer.js";
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

  it("seals a round larger than one INSERT of seals (1,000) in chunks, each seal once", async () => {
    // Appended 100 at a time (they share INSERTs): 1,001 entries are more than one chunk of seals.
    for (let from = 0; from < 1001; from += 100) {
      await Promise.all(Array.from({ length: Math.min(100, 1001 - from) }, (_, i) => appendAudit(database.db, writeEntry({ reason: `chunk ${from + i}` }), systemClock)));
    }
    expect(await sealRound(database.db, keys)).toMatchObject({ leader: true, sealed: 1001, headSeq: 1001, more: false });
    await expectSealedOnce(database, 1001);
  });

  it("writes a checkpoint on the first round, then after checkpointEvery entries or checkpointIntervalMs if the chain grew since the last", async () => {
    const t0 = Date.parse("2026-11-24T12:00:00.000Z");
    const append = async (n: number) => {
      for (let i = 0; i < n; i++) await appendAudit(database.db, writeEntry({ reason: `cadence ${i}` }), systemClock);
    };
    const round = async (atMs: number, options: { checkpointEvery?: number; checkpointIntervalMs?: number } = {}) => (await sealRound(database.db, keys, { now: () => new Date(t0 + atMs), ...options })).checkpoint;
    expect(await round(0)).toBeNull();
    await append(3);
    expect(await round(0, { checkpointEvery: 5, checkpointIntervalMs: 1000 })).toMatchObject({ chainSeq: 3, entryCount: 3, createdAt: "2026-11-24T12:00:00.000Z" });
    await append(4);
    expect(await round(999, { checkpointEvery: 5, checkpointIntervalMs: 1000 })).toBeNull();
    await append(1);
    expect(await round(999, { checkpointEvery: 5, checkpointIntervalMs: 1000 })).toMatchObject({ chainSeq: 8, entryCount: 8 });
    await append(1);
    expect(await round(1998, { checkpointEvery: 5, checkpointIntervalMs: 1000 })).toBeNull();
    // Time is up with nothing sealed in this round: the chain grew since the last checkpoint, so it gets one.
    expect(await round(1999, { checkpointEvery: 5, checkpointIntervalMs: 1000 })).toMatchObject({ chainSeq: 9, createdAt: "2026-11-24T12:00:01.999Z" });
    expect(await round(5000, { checkpointEvery: 5, checkpointIntervalMs: 1000 })).toBeNull();
    // The defaults: every 10,000 entries or a minute after the last checkpoint.
    await append(1);
    expect(await round(1999 + 59_999)).toBeNull();
    expect(await round(1999 + 60_000)).toMatchObject({ chainSeq: 10 });
    const stored = await database.db.selectFrom("audit_checkpoint").select(["chain_seq", "entry_count"]).orderBy("chain_seq").execute();
    expect(stored).toEqual([3, 8, 9, 10].map((n) => ({ chain_seq: n, entry_count: n })));
  });

  it("a resumed round whose window holds only sealed entries says more and reads on after them, and the new ones further on are sealed once", async () => {
    for (let i = 0; i < 12; i++) await appendAudit(database.db, writeEntry({ reason: `sealed already ${i}` }), systemClock);
    const done = await sealRound(database.db, keys, { batchSize: 50 });
    const seqs = (await database.db.selectFrom("audit_log").select("seq").orderBy("seq").execute()).map((r) => r.seq);
    for (let i = 0; i < 3; i++) await appendAudit(database.db, writeEntry({ reason: `new ${i}` }), systemClock);
    // As if the last round had stopped at the first entry: the next five are all sealed.
    const round = await sealRound(database.db, keys, { batchSize: 5, resume: { afterSeq: seqs[0] ?? 0, xmin: done.resume?.xmin ?? "0" } });
    expect(round).toMatchObject({ leader: true, sealed: 0, more: true, resume: { afterSeq: seqs[5] } });
    expect((await sealPending(database.db, keys, { batchSize: 5, resume: round.resume })).sealed).toBe(3);
    await expectSealedOnce(database, 15);
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

  // tx order differs from seq order when a transaction that started first writes its entry last; a round that
  // reads its entries through the tx index must still chain them by seq.
  it("entries whose transaction ids run against their seqs are chained in seq order within a round", async () => {
    await resetAuditLog(database.db);
    await sealPending(database.db, keys);
    let written!: () => void;
    let go!: () => void;
    const hasXid = new Promise<void>((resolve) => (written = resolve));
    const proceed = new Promise<void>((resolve) => (go = resolve));
    const older = database.db.transaction().execute(async (trx) => {
      await sql`select pg_current_xact_id()`.execute(trx);
      written();
      await proceed;
      return appendAudit(trx, writeEntry({ reason: "older transaction, later seq" }), systemClock);
    });
    await hasXid;
    const younger = await appendAudit(database.db, writeEntry({ reason: "younger transaction, earlier seq" }), systemClock);
    go();
    const late = await older;
    expect(late.seq).toBeGreaterThan(younger.seq);
    const round = await sealRound(database.db, keys);
    expect(round.sealed).toBe(2);
    const chain = await database.db.selectFrom("audit_seal").select(["entry_seq"]).orderBy("chain_seq").execute();
    expect(chain.map((c) => c.entry_seq)).toEqual([younger.seq, late.seq]);
  });

  // Below ~150,000 the planner already picks the tx index for this read in either order; at 200,000 the seq order walks the month.
  const OLDER = 200_000;
  it("a month never analyzed: the round's read of new entries goes through the tx index, not a walk of the month", { timeout: 60_000 }, async () => {
    await resetAuditLog(database.db);
    // Older entries, all sealed (not MACed: only the read's plan is looked at), then the horizon, then three new ones.
    await sql`insert into audit_log (id, occurred_at, actor_system, action, target_type, outcome, mac)
      select gen_random_uuid(), now(), 'test', 'audit.verify', 'account', 'succeeded', repeat('a', 64) from generate_series(1, ${OLDER})`.execute(database.db);
    await sql`insert into audit_seal (chain_seq, entry_seq, entry_id, occurred_at, entry_hash, prev_hash, hash)
      select row_number() over (order by seq), seq, id, occurred_at, repeat('b', 64), repeat('b', 64), repeat('b', 64) from audit_log`.execute(database.db);
    const { rows } = await sql<{ horizon: string }>`select pg_snapshot_xmin(pg_current_snapshot())::text as horizon`.execute(database.db);
    for (let i = 0; i < 3; i++) await appendAudit(database.db, writeEntry({ reason: `new ${i}` }), systemClock);
    const stats = await sql<{ n: number }>`select count(*)::int as n from pg_stats where tablename like 'audit_log%'`.execute(database.db);
    expect(stats.rows[0]?.n).toBe(0);
    const plan = await database.db.transaction().execute(async (trx) => {
      // As the round sets them (sealer.ts).
      await sql`select set_config('enable_seqscan', 'off', true), set_config('max_parallel_workers_per_gather', '0', true), set_config('jit', 'off', true)`.execute(trx);
      const compiled = unsealedQuery(trx, { horizon: rows[0]!.horizon, batchSize: 5000, order: "tx" }).compile();
      const explained = await trx.executeQuery<{ "QUERY PLAN": unknown }>({ ...compiled, sql: `explain (analyze, format json) ${compiled.sql}` });
      return JSON.stringify(explained.rows[0]?.["QUERY PLAN"]);
    });
    const removed = [...plan.matchAll(/"Rows Removed by Filter":(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(removed).toBeLessThan(100);
    expect(plan).toMatch(/_tx_idx/);
  });

  it("a round while another sealer holds the lock does nothing, and says it was not the leader", async () => {
    await resetAuditLog(database.db);
    await appendAudit(database.db, writeEntry({ reason: "waits for the leader" }), systemClock);
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const leader = database.db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${AUDIT_SEALER_LOCK})`.execute(trx);
      locked();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await isLocked;
    try {
      expect(await sealRound(database.db, keys)).toEqual({ leader: false, sealed: 0, headSeq: 0, more: false, checkpoint: null });
      expect(await sealPending(database.db, keys)).toEqual({ leader: false, sealed: 0, checkpoints: [] });
    } finally {
      release();
      await leader;
    }
    expect(await sealPending(database.db, keys)).toMatchObject({ leader: true, sealed: 1 });
  });

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

  it("more late entries than a batch: the round takes a batch of them, the next reads on from there, and every entry is sealed once", async () => {
    await resetAuditLog(database.db);
    let releaseOpen!: () => void;
    let written!: () => void;
    const wrote = new Promise<void>((resolve) => (written = resolve));
    const open = database.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 7; i++) await appendAudit(trx, writeEntry({ reason: `late ${i}` }), systemClock);
      written();
      await new Promise<void>((resolve) => (releaseOpen = resolve));
    });
    await wrote;
    for (let i = 0; i < 30; i++) await appendAudit(database.db, writeEntry({ reason: `backlog ${i}` }), systemClock);
    const first = await sealRound(database.db, keys, { batchSize: 10 });
    releaseOpen();
    await open;
    const next = await sealRound(database.db, keys, { batchSize: 5, resume: first.resume });
    expect(next).toMatchObject({ sealed: 5, more: true });
    // Five of the seven late ones, all below where the first round stopped: the next round reads on from the fifth.
    expect(next.resume!.afterSeq).toBeLessThan(first.resume!.afterSeq);
    await sealPending(database.db, keys, { batchSize: 5, resume: next.resume });
    await expectSealedOnce(database, 37);
  });
});
