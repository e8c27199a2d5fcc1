import { afterAll, describe, expect, it } from "vitest";
import { enqueueTicketNote, deliverDueNotes, noteMarker, NOTE_RECHECK_MS } from "../../src/zendesk/ticketNotes.js";
import { createZendeskClient } from "../../src/zendesk/zendeskClient.js";
import { auditOf, useHarness } from "../actions/harness.js";
import { ZendeskCommentsFake as ZendeskFake } from "../fakes/zendeskCommentsFake.js";
import { sealAndVerify } from "../support/auditKeys.js";
import { databaseKinds } from "../support/databases.js";

/**
 * An internal note whose Zendesk call timed out (or was answered 5xx) is `unknown`: ticket updates
 * take no idempotency key, so it is not blindly sent again. The next pass after NOTE_RECHECK_MS
 * re-reads the ticket's comments for the note's marker: found → sent (audited succeeded), absent →
 * sent again, once (audited failed, then succeeded). Never two copies on the ticket.
 */
describe.each(databaseKinds)("internal notes whose answer was lost (%s)", (kind) => {
  const zendesk = new ZendeskFake([5001, 5002, 5003]);
  const h = useHarness(kind, {
    arrange: async () => {
      await zendesk.start();
    },
  });
  afterAll(() => zendesk.close());
  const client = () => createZendeskClient({ ...h.deps.config, zendeskApiUrl: `${zendesk.url}/api/v2` }, { timeoutMs: 300 });
  const note = async (ticketId: string, body: string) => (await enqueueTicketNote(h.deps.database.db, { ticketId, body, kind: "impersonation_started", sessionId: null, operationId: null }, h.deps.clock.now())).id;
  const entriesOf = async (id: string) => (await auditOf(h.deps, "zendesk.note_add", id)).map((e) => e.outcome);
  const statusOf = async (id: string) => (await h.deps.database.db.selectFrom("ticket_notes").select("status").where("id", "=", id).executeTakeFirstOrThrow()).status;

  it("a note Zendesk added but whose answer timed out: unknown, then found on the ticket by the re-read and closed sent — one copy", async () => {
    const id = await note("5001", "Session started (timeout after apply)");
    zendesk.delayAfterApply(3_000, 1, { method: "PUT" });
    expect(await deliverDueNotes(h.deps, { client: client() })).toMatchObject({ unknown: 1, sent: 0 });
    expect(await statusOf(id)).toBe("unknown");
    expect(zendesk.commentsContaining(5001, noteMarker(id))).toHaveLength(1);
    zendesk.clearFaults();
    // Not re-read before the settle delay: the update may still be in Zendesk's hands.
    expect(await deliverDueNotes(h.deps, { client: client() })).toMatchObject({ foundOnTicket: 0, resent: 0 });
    h.deps.clock.advance(NOTE_RECHECK_MS);
    expect(await deliverDueNotes(h.deps, { client: client() })).toMatchObject({ foundOnTicket: 1, resent: 0, sent: 0 });
    expect(await statusOf(id)).toBe("sent");
    expect(zendesk.commentsContaining(5001, noteMarker(id))).toHaveLength(1);
    expect(zendesk.requestsTo("PUT", "/api/v2/tickets/5001.json")).toHaveLength(1);
    expect(await entriesOf(id)).toEqual(["unknown", "succeeded"]);
    const closing = (await auditOf(h.deps, "zendesk.note_add", id)).at(-1)!;
    expect(closing.after).toMatchObject({ status: "sent", settledBy: expect.stringContaining("re-read") });
  });

  it("a note answered 503 without being added: unknown, then not found by the re-read and sent again, once", async () => {
    const id = await note("5002", "Session ended (503 before apply)");
    zendesk.failNext(1, 503, { method: "PUT" });
    expect(await deliverDueNotes(h.deps, { client: client() })).toMatchObject({ unknown: 1 });
    expect(zendesk.commentsContaining(5002, noteMarker(id))).toHaveLength(0);
    h.deps.clock.advance(NOTE_RECHECK_MS);
    expect(await deliverDueNotes(h.deps, { client: client() })).toMatchObject({ resent: 1, sent: 1 });
    expect(await statusOf(id)).toBe("sent");
    expect(zendesk.commentsContaining(5002, noteMarker(id))).toHaveLength(1);
    expect(await entriesOf(id)).toEqual(["unknown", "failed", "succeeded"]);
    expect((await sealAndVerify(h.deps.database.db)).ok).toBe(true);
  });

  it("while the re-read itself fails, the note stays unknown and is checked again later; nothing is sent blindly", async () => {
    const id = await note("5003", "Session started (re-read fails)");
    zendesk.delayAfterApply(3_000, 1, { method: "PUT" });
    await deliverDueNotes(h.deps, { client: client() });
    zendesk.clearFaults();
    zendesk.failNext(1, 500, { method: "GET" });
    h.deps.clock.advance(NOTE_RECHECK_MS);
    expect(await deliverDueNotes(h.deps, { client: client() })).toMatchObject({ foundOnTicket: 0, resent: 0 });
    expect(await statusOf(id)).toBe("unknown");
    expect(zendesk.requestsTo("PUT", "/api/v2/tickets/5003.json")).toHaveLength(1);
    h.deps.clock.advance(3_600_000);
    expect(await deliverDueNotes(h.deps, { client: client() })).toMatchObject({ foundOnTicket: 1 });
    expect(await statusOf(id)).toBe("sent");
    expect(zendesk.commentsContaining(5003, noteMarker(id))).toHaveLength(1);
  });
});
