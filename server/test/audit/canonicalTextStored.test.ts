import fc from "fast-check";
import { sealAndVerify } from "../support/auditKeys.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StaffActor } from "../../src/actor.js";
import { appendAudit, type AuditInput } from "../../src/audit/auditLog.js";
import { canonicalJsonValue, canonicalText } from "../../src/audit/canonicalText.js";
import { ManualClock } from "../../src/clock.js";
import type { Database } from "../../src/db/database.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { anyJson, anyText } from "./arbitraryText.js";
import { HOOK_TIMEOUT, writeEntry } from "./fixtures.js";

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
          const verification = await sealAndVerify(database.db);
          expect(verification).toMatchObject({ ok: true, entries: appended });
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);
});
