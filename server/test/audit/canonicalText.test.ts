import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StaffActor } from "../../src/actor.js";
import { appendAudit, type AuditInput } from "../../src/audit/auditLog.js";
import { canonicalJsonValue, canonicalText, textFault } from "../../src/audit/canonicalText.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import { zafAgentOf } from "../../src/auth/zafToken.js";
import { ManualClock } from "../../src/clock.js";
import type { Database } from "../../src/db/database.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { HOOK_TIMEOUT, writeEntry } from "./fixtures.js";

/** Any UTF-16 code unit (lone surrogates included), any astral code point, and the troublemakers often. */
const anyUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
  fc.constantFrom("\u0000", "\ud800", "\udbff", "\udc00", "\udfff", "\ufffd", "\ud83d\ude00"),
);
const anyText = fc.string({ unit: anyUnit, maxLength: 40 });
const anyJson = fc.jsonValue({ stringUnit: anyUnit, maxDepth: 3 });

describe("canonicalText", () => {
  it("replaces unpaired surrogates with U+FFFD and removes NUL, keeping pairs", () => {
    expect(canonicalText("a\ud800b")).toBe("a\ufffdb");
    expect(canonicalText("\udc00\ud83d\ude00\ud83d")).toBe("\ufffd\ud83d\ude00\ufffd");
    expect(canonicalText("\ud800\u0000\udc00")).toBe("\ufffd\ufffd");
    expect(canonicalText("n\u0000ul")).toBe("nul");
    expect(canonicalText("plain ü 😀")).toBe("plain ü 😀");
  });

  it("is idempotent and always gives text that can be stored as is", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const once = canonicalText(text);
        expect(textFault(once)).toBeNull();
        expect(canonicalText(once)).toBe(once);
        // What a database would do to it (UTF-8 encode/decode) changes nothing more.
        expect(Buffer.from(once, "utf8").toString("utf8")).toBe(once);
      }),
    );
  });

  it("makes the agent's name and email from a ZAF token canonical, also where the length cut splits a pair", () => {
    const agent = zafAgentOf({ sub: "42", name: `${"n".repeat(319)}\ud83d\ude00`, email: "a\u0000@example.com" });
    expect(agent.name).toBe(`${"n".repeat(319)}\ufffd`);
    expect(agent.email).toBe("a@example.com");
  });

  it("canonicalises keys and values at every depth, keeping a __proto__ key as a key", () => {
    const value = JSON.parse('{"__proto__":{"k\\u0000":"\\ud800"},"list":["\\udc00",1,null]}') as unknown;
    expect(JSON.stringify(canonicalJsonValue(value))).toBe('{"__proto__":{"k":"\ufffd"},"list":["\ufffd",1,null]}');
  });
});

describe.each(databaseKinds)("arbitrary text in every text field of an entry, on %s", (kind) => {
  let database: Database;
  const clock = new ManualClock(new Date("2026-11-24T12:00:00.000Z"));
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);

  it("is stored as its canonical form, reads back, hashes and verifies", async () => {
    let appended = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({ staffId: anyText, zendeskUserId: anyText, email: anyText, name: anyText }),
        fc.record({ targetId: anyText, accountId: anyText, ticketId: anyText, reason: anyText, error: anyText, requestId: anyText, operationId: anyText }),
        anyJson,
        anyJson,
        async (who, text, before, after) => {
          const actor: StaffActor = { kind: "staff", ...who, panelRole: "support_full" };
          const input: AuditInput = writeEntry({
            actor,
            target: { type: "user", id: text.targetId, accountId: text.accountId },
            ticketId: text.ticketId,
            reason: text.reason,
            error: text.error,
            requestId: text.requestId,
            operationId: text.operationId,
            before,
            after,
            outcome: "failed",
          });
          clock.advance(1);
          const entry = await appendAudit(database.db, input, clock);
          appended++;
          const row = await database.db.selectFrom("audit_log").selectAll().where("id", "=", entry.id).executeTakeFirstOrThrow();
          expect({
            staffId: row.actor_staff_id,
            zendeskUserId: row.actor_zendesk_user_id,
            email: row.actor_email,
            targetId: row.target_id,
            accountId: row.target_account_id,
            ticketId: row.ticket_id,
            reason: row.reason,
            error: row.error,
            requestId: row.request_id,
            operationId: row.operation_id,
          }).toEqual({
            staffId: canonicalText(who.staffId),
            zendeskUserId: canonicalText(who.zendeskUserId),
            email: canonicalText(who.email),
            ...Object.fromEntries(Object.entries(text).map(([k, v]) => [k, canonicalText(v)])),
          });
          const json = (v: unknown) => JSON.parse(JSON.stringify(v ?? null)) as unknown;
          expect(row.before ?? null).toEqual(canonicalJsonValue(json(before)));
          expect(row.after ?? null).toEqual(canonicalJsonValue(json(after)));
          // Verify re-hashes every entry as read back: a stored byte that differs from a hashed one breaks it.
          const verification = await verifyAuditChain(database.db);
          expect(verification).toMatchObject({ ok: true, entries: appended });
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);
});
