import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemActor } from "../../src/actor.js";
import { chainLink, entryMac, GENESIS_HASH, sealedEntryHash, type EntryContent } from "../../src/audit/auditHash.js";
import { appendAudit, AuditEntryNotStorable } from "../../src/audit/auditLog.js";
import { AuditWriteFailed } from "../../src/audit/failClosed.js";
import { searchAudit } from "../../src/audit/auditQuery.js";
import { toAuditEntry } from "../../src/audit/auditRow.js";
import { checkpointSignatureValid } from "../../src/audit/checkpoints.js";
import { listUnresolvedIntents, recordIntent, recordOutcome } from "../../src/audit/operations.js";
import { sealPending } from "../../src/audit/sealer.js";
import { auditKeysFromSecret } from "../../src/audit/sealKey.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import { ManualClock } from "../../src/clock.js";
import type { Database } from "../../src/db/database.js";
import { TEST_AUDIT_KEYS as keys } from "../support/auditKeys.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { asSuperuser, HOOK_TIMEOUT, writeEntry } from "./fixtures.js";

describe("the audit MACs (known answers, checked against an independent HMAC/HKDF implementation)", () => {
  const fixed = auditKeysFromSecret("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  const content: EntryContent = {
    id: "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
    occurredAt: "2026-01-02T03:04:05.678Z",
    actor: { staffId: "stf_1", zendeskUserId: "42", email: "agent@example.test", panelRole: "support_full", system: null },
    action: "user.suspend",
    target: { type: "user", id: "usr_1", accountId: "acc_1" },
    ticketId: "1001",
    reason: "asked by phone — ünïcødé ✓",
    before: { status: "active" },
    after: { status: "suspended" },
    outcome: "succeeded",
    error: null,
    requestId: null,
    operationId: null,
  };

  it("entry MAC, sealed-entry hash and chain link of one fixed entry", () => {
    const mac = entryMac(fixed, content);
    expect(mac).toBe("c37ee77887b882a1e44ddafe247c28899d1409d859b4f332e2e8fcfa8d987c39");
    const entryHash = sealedEntryHash({ ...content, seq: 7, mac });
    expect(entryHash).toBe("fac19e2c6392a2f9d9355fd5a61d91f2a1b4da39de870559d02c1d587e5609f7");
    expect(chainLink(fixed, { chainSeq: 1, prevHash: GENESIS_HASH, entrySeq: 7, entryId: content.id, entryHash })).toBe("1ea748cfc9a939c12635d2595d35962259f0ba2902854990263e9e024d0ee67f");
    expect(fixed.keyId).toBe("018299866a146631");
    // Key order and another key change nothing / everything.
    expect(entryMac(fixed, { ...content, target: { accountId: "acc_1", id: "usr_1", type: "user" } })).toBe(mac);
    expect(entryMac(keys, content)).not.toBe(mac);
  });

  it("an entry with a ticket snapshot and an approval (migration 020): both covered, and a null one is left out", () => {
    const withTicket: EntryContent = {
      ...content,
      ticketSnapshot: {
        id: "1001",
        subject: "Gesperrt — bitte helfen",
        status: "open",
        requester: { id: "50001", email: "ann@example.test", externalId: "usr_1", organizationId: "9001", name: "Ann Ä" },
        assigneeId: "42",
        match: "override",
        overrideReason: "customer wrote from a private address",
        fetchedAt: "2026-01-02T03:04:05.000Z",
      },
      approval: { requestId: "apr_1", requestedBy: { staffId: "stf_1", email: "agent@example.test" }, approvedBy: { staffId: "stf_3", email: "ops@example.test" } },
    };
    // Cross-checked with a separate HMAC-SHA256 over the canonical JSON (Python's hmac module).
    expect(entryMac(fixed, withTicket)).toBe("15a04f014a13ebdcc234cfc8bd6f29a191821e35f778e28335c62dbdd409c9bb");
    // Entries written before migration 020 keep their MAC: null snapshot/approval are not serialised.
    expect(entryMac(fixed, { ...content, ticketSnapshot: null, approval: null })).toBe("c37ee77887b882a1e44ddafe247c28899d1409d859b4f332e2e8fcfa8d987c39");
  });
});

describe.each(databaseKinds)("appendAudit on %s", (kind) => {
  let database: Database;
  const clock = new ManualClock(new Date("2026-11-24T12:00:00.123Z"));
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);

  // The chain's first positions start at the genesis hash: on a database of its own, with a clock of its own,
  // so the other tests' entries (in whatever order they run) are not in it.
  describe("on an empty database", () => {
    let empty: Database;
    const ownClock = new ManualClock(new Date("2026-11-24T12:00:00.123Z"));
    beforeAll(async () => {
      empty = await createTestDatabase(kind);
    }, HOOK_TIMEOUT);
    afterAll(async () => {
      await empty.close();
    }, HOOK_TIMEOUT);

    it("writes each entry with its MAC; the sealer chains them from the genesis hash, as read back", async () => {
      const first = await appendAudit(empty.db, writeEntry(), ownClock);
      ownClock.advance(1);
      const second = await appendAudit(empty.db, writeEntry({ action: "user.unblock", ticketId: "1002" }), ownClock);
      ownClock.advance(1);
      const third = await appendAudit(empty.db, writeEntry({ actor: systemActor("sweeper"), action: "seats.expansion_expire", ticketId: null, reason: null }), ownClock);

      expect([first.seq, second.seq, third.seq]).toEqual([1, 2, 3]);
      expect([first.seal, second.seal, third.seal]).toEqual([null, null, null]);
      expect(third.actor).toEqual({ staffId: null, zendeskUserId: null, email: null, panelRole: null, system: "sweeper" });
      expect(first.occurredAt).toBe("2026-11-24T12:00:00.123Z");
      for (const entry of [first, second, third]) expect(entry.mac).toBe(entryMac(keys, entry));

      // What is stored reads back as exactly what was returned and MACed.
      const rows = await empty.db.selectFrom("audit_log").selectAll().orderBy("seq").execute();
      expect(rows.map((row) => toAuditEntry(row))).toEqual([first, second, third]);

      const sealed = await sealPending(empty.db, keys);
      expect(sealed.sealed).toBe(3);
      const seals = await empty.db.selectFrom("audit_seal").selectAll().orderBy("chain_seq").execute();
      expect(seals.map((s) => [s.chain_seq, s.entry_seq, s.entry_id])).toEqual([
        [1, 1, first.id],
        [2, 2, second.id],
        [3, 3, third.id],
      ]);
      expect(seals[0]?.prev_hash).toBe(GENESIS_HASH);
      expect(seals[1]?.prev_hash).toBe(seals[0]?.hash);
      expect(seals[2]?.prev_hash).toBe(seals[1]?.hash);
      expect(seals.map((s) => s.entry_hash)).toEqual(rows.map((row) => sealedEntryHash(toAuditEntry(row))));
      // The first round writes a signed checkpoint an auditor can check with the public key alone.
      expect(sealed.checkpoints).toHaveLength(1);
      expect(sealed.checkpoints[0]).toMatchObject({ chainSeq: 3, headHash: seals[2]?.hash, entryCount: 3, keyId: keys.keyId });
      expect(checkpointSignatureValid(keys.publicKey, sealed.checkpoints[0] ?? (undefined as never))).toBe(true);
      expect(checkpointSignatureValid(keys.publicKey, { ...(sealed.checkpoints[0] ?? (undefined as never)), entryCount: 4 })).toBe(false);
      // Sealing again seals nothing twice.
      expect((await sealPending(empty.db, keys)).sealed).toBe(0);
      expect(await verifyAuditChain(empty.db, keys, { mode: "full" })).toMatchObject({ ok: true, entries: 3, headSeq: 3, headHash: seals[2]?.hash, unsealed: 0 });
      // Search shows each entry with its seal.
      const page = await searchAudit(empty.db, {}, { limit: 10 });
      expect(page.entries.map((e) => [e.seq, e.seal?.chainSeq])).toEqual([
        [3, 3],
        [2, 2],
        [1, 1],
      ]);
    });
  });

  it("stores before/after as jsonb whose MAC holds after the round trip", async () => {
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
    expect(entryMac(keys, toAuditEntry(row))).toBe(entry.mac);
    await sealPending(database.db, keys);
    expect((await verifyAuditChain(database.db, keys, { mode: "full" })).ok).toBe(true);
  });

  it("MACs text in the canonical form it is stored in, so what is stored is what is authenticated", async () => {
    // A lone surrogate reaches the database as U+FFFD and NUL not at all: both are canonical before the MAC.
    const entry = await appendAudit(database.db, writeEntry({ reason: "half a pair \ud800", error: "nul \u0000 byte", after: { note: "\udfff" } }), clock);
    expect([entry.reason, entry.error, entry.after]).toEqual(["half a pair \ufffd", "nul  byte", { note: "\ufffd" }]);
    const row = await database.db.selectFrom("audit_log").selectAll().where("seq", "=", entry.seq).executeTakeFirstOrThrow();
    expect(entryMac(keys, toAuditEntry(row))).toBe(entry.mac);
    await sealPending(database.db, keys);
    expect((await verifyAuditChain(database.db, keys, { mode: "full" })).ok).toBe(true);
  });

  it("rolls back with the surrounding transaction, leaving no entry and no gap in the chain", async () => {
    const before = await database.db.selectFrom("audit_log").select("id").execute();
    await expect(
      database.db.transaction().execute(async (trx) => {
        await trx.updateTable("staff").set({ name: "x" }).where("id", "=", "nobody").execute();
        await appendAudit(trx, writeEntry({ reason: "this change is rolled back" }), clock);
        throw new Error("the state change failed after the audit entry was written");
      }),
    ).rejects.toThrow(/state change failed/);
    expect(await database.db.selectFrom("audit_log").select("id").execute()).toEqual(before);
    const next = await appendAudit(database.db, writeEntry(), clock);
    await sealPending(database.db, keys);
    const reasons = await database.db.selectFrom("audit_log").select("reason").execute();
    expect(reasons.map((r) => r.reason)).not.toContain("this change is rolled back");
    // seq may skip the rolled-back number; chain positions never do.
    const positions = await database.db.selectFrom("audit_seal").select(["chain_seq", "entry_seq"]).orderBy("chain_seq").execute();
    expect(positions.map((p) => p.chain_seq)).toEqual(Array.from({ length: before.length + 1 }, (_, i) => i + 1));
    expect(positions.at(-1)?.entry_seq).toBe(next.seq);
    expect((await verifyAuditChain(database.db, keys, { mode: "full" })).ok).toBe(true);
  });

  it("keeps each entry's own time when the clock steps back; search orders by time, then seq", async () => {
    const ahead = await appendAudit(database.db, writeEntry({ ticketId: "5001" }), clock);
    clock.advance(-3_600_000);
    const behind = await appendAudit(database.db, writeEntry({ ticketId: "5001" }), clock);
    const sameTime = await appendAudit(database.db, writeEntry({ ticketId: "5001" }), clock);
    clock.advance(3_600_000 + 5);
    expect(behind.seq).toBe(ahead.seq + 1);
    expect(Date.parse(behind.occurredAt)).toBe(Date.parse(ahead.occurredAt) - 3_600_000);
    const page = await searchAudit(database.db, { ticketId: "5001" }, { limit: 2 });
    expect(page.entries.map((e) => e.id)).toEqual([ahead.id, sameTime.id]);
    const rest = await searchAudit(database.db, { ticketId: "5001" }, { limit: 2, cursor: page.nextCursor ?? "" });
    expect(rest.entries.map((e) => e.id)).toEqual([behind.id]);
    expect(rest.nextCursor).toBeNull();
  });

  it("a page that holds the last match exactly has no next cursor", async () => {
    const ticketId = "5002";
    for (let i = 0; i < 3; i++) await appendAudit(database.db, writeEntry({ ticketId }), clock);
    const all = await searchAudit(database.db, { ticketId }, { limit: 3 });
    expect(all.entries).toHaveLength(3);
    expect(all.nextCursor).toBeNull();
    const first = await searchAudit(database.db, { ticketId }, { limit: 2 });
    expect(first.nextCursor).not.toBeNull();
  });

  it("shows a seal with the entry it names only: a seal whose entry id was changed is not this entry's", async () => {
    const ticketId = "5003";
    const entry = await appendAudit(database.db, writeEntry({ ticketId }), clock);
    await sealPending(database.db, keys);
    const [sealed] = (await searchAudit(database.db, { ticketId }, { limit: 1 })).entries;
    expect(sealed?.seal).not.toBeNull();
    const sealNames = (entryId: string) => asSuperuser(database.db, (su) => sql`update audit_seal set entry_id = ${entryId} where entry_seq = ${entry.seq}`.execute(su));
    await sealNames("00000000-0000-4000-8000-000000000000");
    try {
      const [shown] = (await searchAudit(database.db, { ticketId }, { limit: 1 })).entries;
      expect(shown?.id).toBe(entry.id);
      expect(shown?.seal).toBeNull();
    } finally {
      // The other tests here verify the whole chain of this database: put the seal back as the sealer wrote it.
      await sealNames(entry.id);
    }
    expect((await verifyAuditChain(database.db, keys, { mode: "full" })).ok).toBe(true);
  });

  it("refuses an entry the database would store other than as MACed, naming the field (the read-back tripwire)", async () => {
    // A column that changes what it is given, as a trigger (or a driver) might: the read-back differs from what was MACed.
    const tripwire = async (assignment: string, expected: string) => {
      await sql.raw(`create or replace function test_alter_audit() returns trigger language plpgsql as $$ begin ${assignment}; return new; end $$`).execute(database.db);
      await sql.raw("create trigger test_alter_audit before insert on audit_log for each row execute function test_alter_audit()").execute(database.db);
      try {
        const failed = await database.db
          .transaction()
          .execute(async (trx) => appendAudit(trx, writeEntry({ reason: "as sent" }), clock))
          .then(
            () => null,
            (err: unknown) => err,
          );
        expect(failed).toBeInstanceOf(AuditWriteFailed);
        expect((failed as AuditWriteFailed).cause).toEqual(new AuditEntryNotStorable(expected));
        expect((failed as AuditWriteFailed).message).toBe(`the audit entry could not be written: the audit entry's ${expected} would not be stored as given`);
      } finally {
        await sql.raw("drop trigger test_alter_audit on audit_log").execute(database.db);
        await sql.raw("drop function test_alter_audit()").execute(database.db);
      }
    };
    await tripwire("new.reason := new.reason || '!'", "reason");
    await tripwire("new.after := '{\"status\": \"active\"}'::jsonb", "after");
    // The content as sent, but another MAC: no field differs, the entry does.
    await tripwire("new.mac := repeat('0', 64)", "entry");
  });

  it("tries an entry once more only when its month's partition was missing; any other refusal fails it at once", async () => {
    // A refusal of the first insert only: tried again, the entry would be stored. Each looks like a missing
    // partition in one way only: its SQLSTATE (a check violation) or its message.
    const refusedOnce = async (message: string, errcode: string) => {
      await sql.raw("create sequence test_refusals").execute(database.db);
      await sql.raw(`create or replace function test_refuse_once() returns trigger language plpgsql as $$ begin if nextval('test_refusals') = 1 then raise exception '${message}' using errcode = '${errcode}'; end if; return new; end $$`).execute(database.db);
      await sql.raw("create trigger test_refuse_once before insert on audit_log for each row execute function test_refuse_once()").execute(database.db);
      try {
        const refused = await appendAudit(database.db, writeEntry({ reason: message }), clock).then(
          () => null,
          (err: unknown) => err,
        );
        expect(refused).toBeInstanceOf(AuditWriteFailed);
        expect(((refused as AuditWriteFailed).cause as Error).message).toBe(message);
        expect(await database.db.selectFrom("audit_log").select("id").where("reason", "=", message).execute()).toEqual([]);
      } finally {
        await sql.raw("drop trigger test_refuse_once on audit_log").execute(database.db);
        await sql.raw("drop function test_refuse_once()").execute(database.db);
        await sql.raw("drop sequence test_refusals").execute(database.db);
      }
    };
    await refusedOnce("refused once", "23514");
    await refusedOnce("no partition of relation audit_log found for row (a raised look-alike)", "P0001");
  });

  it("commits with the surrounding transaction", async () => {
    const entry = await database.db.transaction().execute(async (trx) => appendAudit(trx, writeEntry({ reason: "inside a caller's transaction" }), clock));
    const row = await database.db.selectFrom("audit_log").select(["reason", "mac"]).where("id", "=", entry.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ reason: "inside a caller's transaction", mac: entry.mac });
  });

  it("brackets external side effects with a pending intent and an outcome, and lists intents left without one", async () => {
    const succeeded = await recordIntent(database.db, writeEntry({ action: "user.password_reset", before: null, after: null }), clock);
    await recordOutcome(database.db, succeeded, { outcome: "succeeded", after: { ticket: "sent" } }, clock);
    const failed = await recordIntent(database.db, writeEntry({ action: "user.mfa_reset", before: null, after: { factors: 2 } }), clock);
    await recordOutcome(database.db, failed, { outcome: "failed", error: "auth0: 503" }, clock);
    const orphan = await recordIntent(database.db, writeEntry({ action: "user.block", before: null, after: null }), clock);
    clock.advance(1);
    const later = await recordIntent(database.db, writeEntry({ action: "user.unblock", before: null, after: null }), clock);
    clock.advance(60_000);

    expect(succeeded.entry.outcome).toBe("pending");
    // An absent before/after is SQL NULL, not a JSON null (a query for "no before" finds it).
    const nulls = await sql<{ before_null: boolean; after_null: boolean }>`select before is null as before_null, after is null as after_null from audit_log where seq = ${orphan.entry.seq}`.execute(database.db);
    expect(nulls.rows).toEqual([{ before_null: true, after_null: true }]);
    const outcomes = await database.db.selectFrom("audit_log").select(["outcome", "error", "ticket_id"]).where("operation_id", "=", failed.operationId).orderBy("seq").execute();
    expect(outcomes).toEqual([
      { outcome: "pending", error: null, ticket_id: "1001" },
      { outcome: "failed", error: "auth0: 503", ticket_id: "1001" },
    ]);
    // The outcome keeps the intent's after unless the result brings its own; only a failure has an error.
    const afterOf = async (operationId: string) => (await database.db.selectFrom("audit_log").select(["outcome", "after", "error", "action"]).where("operation_id", "=", operationId).orderBy("seq").execute()).at(-1);
    expect(await afterOf(failed.operationId)).toEqual({ outcome: "failed", after: { factors: 2 }, error: "auth0: 503", action: "user.mfa_reset" });
    expect(await afterOf(succeeded.operationId)).toEqual({ outcome: "succeeded", after: { ticket: "sent" }, error: null, action: "user.password_reset" });
    const unresolved = await listUnresolvedIntents(database.db, { olderThan: clock.now() });
    expect(unresolved.map((e) => e.operationId)).toEqual([orphan.operationId, later.operationId]);
    expect((await listUnresolvedIntents(database.db, { olderThan: clock.now(), limit: 1 })).map((e) => e.operationId)).toEqual([orphan.operationId]);
    expect((await listUnresolvedIntents(database.db)).map((e) => e.operationId)).toEqual([orphan.operationId, later.operationId]);
    expect((await listUnresolvedIntents(database.db, { olderThan: new Date(later.entry.occurredAt) })).map((e) => e.operationId)).toEqual([orphan.operationId]);
    expect(await listUnresolvedIntents(database.db, { olderThan: new Date(orphan.entry.occurredAt) })).toEqual([]);
  });
});
