import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemActor } from "../../src/actor.js";
import { GENESIS_HASH } from "../../src/audit/auditHash.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import { toAuditEntry } from "../../src/audit/auditRow.js";
import { listUnresolvedIntents, recordIntent, recordOutcome } from "../../src/audit/operations.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import { ManualClock } from "../../src/clock.js";
import type { Database } from "../../src/db/database.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { expectedAuditHash, HOOK_TIMEOUT, seqs, writeEntry } from "./fixtures.js";

describe.each(databaseKinds)("appendAudit on %s", (kind) => {
  let database: Database;
  const clock = new ManualClock(new Date("2026-11-24T12:00:00.123Z"));
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);

  it("chains each entry to the one before, from the genesis hash", async () => {
    const first = await appendAudit(database.db, writeEntry(), clock);
    clock.advance(1);
    const second = await appendAudit(database.db, writeEntry({ action: "user.unblock", ticketId: "1002" }), clock);
    clock.advance(1);
    const third = await appendAudit(database.db, writeEntry({ actor: systemActor("sweeper"), action: "seats.expansion_expire", ticketId: null, reason: null }), clock);

    expect([first.seq, second.seq, third.seq]).toEqual([1, 2, 3]);
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(second.prevHash).toBe(first.hash);
    expect(third.prevHash).toBe(second.hash);
    expect(third.actor).toEqual({ staffId: null, zendeskUserId: null, email: null, panelRole: null, system: "sweeper" });
    expect(first.occurredAt).toBe("2026-11-24T12:00:00.123Z");

    // What is stored reads back as exactly what was hashed.
    const rows = await database.db.selectFrom("audit_log").selectAll().orderBy("seq").execute();
    const stored = rows.map(toAuditEntry);
    expect(stored).toEqual([first, second, third]);
    for (const entry of stored) expect(entry.hash).toBe(expectedAuditHash(entry));
    expect(await verifyAuditChain(database.db)).toEqual({ ok: true, entries: 3, headSeq: 3, headHash: third.hash });
  });

  it("stores before/after as jsonb that hashes the same after the round trip", async () => {
    const awkward = {
      z: 1,
      a: { nested: [3, 1, { y: null, b: "ünïcødé ✓ \"quoted\"" }], when: new Date("2026-01-02T03:04:05.678Z") },
      n: 0.1 + 0.2,
      big: 1e21,
      tiny: 1e-7,
      dropped: undefined,
    };
    const entry = await appendAudit(database.db, writeEntry({ before: awkward, after: [] }), clock);
    expect(entry.before).toEqual({ z: 1, a: { nested: [3, 1, { y: null, b: "ünïcødé ✓ \"quoted\"" }], when: "2026-01-02T03:04:05.678Z" }, n: 0.30000000000000004, big: 1e21, tiny: 1e-7 });
    const row = await database.db.selectFrom("audit_log").selectAll().where("seq", "=", entry.seq).executeTakeFirstOrThrow();
    expect(entry.hash).toBe(expectedAuditHash(toAuditEntry(row)));
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  it("rolls back with the surrounding transaction, leaving no entry and no gap", async () => {
    const before = await seqs(database.db);
    await expect(
      database.db.transaction().execute(async (trx) => {
        await trx.updateTable("staff").set({ name: "x" }).where("id", "=", "nobody").execute();
        await appendAudit(trx, writeEntry({ reason: "this change is rolled back" }), clock);
        throw new Error("the state change failed after the audit entry was written");
      }),
    ).rejects.toThrow(/state change failed/);
    expect(await seqs(database.db)).toEqual(before);
    const next = await appendAudit(database.db, writeEntry(), clock);
    expect(next.seq).toBe(before.length + 1);
    const reasons = await database.db.selectFrom("audit_log").select("reason").execute();
    expect(reasons.map((r) => r.reason)).not.toContain("this change is rolled back");
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  it("keeps occurred_at in seq order when the clock steps back", async () => {
    const ahead = await appendAudit(database.db, writeEntry(), clock);
    clock.advance(-3_600_000);
    const behind = await appendAudit(database.db, writeEntry(), clock);
    expect(behind.seq).toBe(ahead.seq + 1);
    expect(behind.occurredAt).toBe(ahead.occurredAt);
    clock.advance(3_600_000 + 5);
    const later = await appendAudit(database.db, writeEntry(), clock);
    expect(Date.parse(later.occurredAt)).toBe(Date.parse(ahead.occurredAt) + 5);
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  it("commits with the surrounding transaction", async () => {
    const entry = await database.db.transaction().execute(async (trx) => appendAudit(trx, writeEntry({ reason: "inside a caller's transaction" }), clock));
    const row = await database.db.selectFrom("audit_log").select(["reason", "hash"]).where("id", "=", entry.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ reason: "inside a caller's transaction", hash: entry.hash });
  });

  it("brackets external side effects with a pending intent and an outcome, and lists intents left without one", async () => {
    const succeeded = await recordIntent(database.db, writeEntry({ action: "user.password_reset", before: null, after: null }), clock);
    await recordOutcome(database.db, succeeded, { outcome: "succeeded", after: { ticket: "sent" } }, clock);
    const failed = await recordIntent(database.db, writeEntry({ action: "user.mfa_reset", before: null, after: null }), clock);
    await recordOutcome(database.db, failed, { outcome: "failed", error: "auth0: 503" }, clock);
    const orphan = await recordIntent(database.db, writeEntry({ action: "user.block", before: null, after: null }), clock);
    clock.advance(60_000);

    expect(succeeded.entry.outcome).toBe("pending");
    const outcomes = await database.db.selectFrom("audit_log").select(["outcome", "error", "ticket_id"]).where("operation_id", "=", failed.operationId).orderBy("seq").execute();
    expect(outcomes).toEqual([
      { outcome: "pending", error: null, ticket_id: "1001" },
      { outcome: "failed", error: "auth0: 503", ticket_id: "1001" },
    ]);
    const unresolved = await listUnresolvedIntents(database.db, { olderThan: clock.now() });
    expect(unresolved.map((e) => e.operationId)).toEqual([orphan.operationId]);
    expect(await listUnresolvedIntents(database.db, { olderThan: new Date(orphan.entry.occurredAt) })).toEqual([]);
  });
});
