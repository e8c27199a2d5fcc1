import request from "supertest";
import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import { databaseKinds } from "../support/databases.js";
import { sessionOf, useHarness, type Harness } from "../actions/harness.js";
import { addUser } from "./fixtures.js";

/**
 * The requester pick kept on the server per ticket (migration 033), on both databases: made by one
 * agent, it applies for every agent who opens the ticket, names who picked, holds only for the email
 * it was made for, and is forgotten on request; each pick and forget is audited (context.pick) with the
 * ticket; bad input is a 400 naming the field, storing nothing.
 */
const EMAIL = "casey.consultant@freelance.example";

async function pick(h: Harness, role: PanelRole, body: Record<string, unknown>) {
  return request(h.app).post("/api/context/pick").set("Authorization", `Bearer ${await sessionOf(h, role)}`).send(body);
}

async function context(h: Harness, role: PanelRole, email: string, ticketId?: string) {
  const req = request(h.app).get("/api/context").query({ email }).set("Authorization", `Bearer ${await sessionOf(h, role)}`);
  if (ticketId) req.set("X-Ticket-Id", ticketId);
  const res = await req;
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { match: string; user: { id: string } | null; pick?: { userId: string; pickedBy: string; pickedAt: string } | null };
}

/** The picks on the tickets these tests pick for one by one (the concurrent test keeps to tickets of its own). */
const picks = (h: Harness) => h.deps.database.db.selectFrom("ticket_requester_picks").selectAll().where("ticket_id", "in", ["1010", "1011"]).execute();
/** The log is kept across a file's tests: each test reads the entries after the last one before it. */
const lastSeq = async (h: Harness) => Number((await h.deps.database.db.selectFrom("audit_log").select((eb) => eb.fn.max("seq").as("seq")).executeTakeFirst())?.seq ?? 0);
const pickEntries = (h: Harness, after: number) =>
  h.deps.database.db
    .selectFrom("audit_log")
    .select(["action", "actor_email", "actor_role", "target_type", "target_id", "target_account_id", "ticket_id", "before", "after", "outcome"])
    .where("action", "=", "context.pick")
    .where("seq", ">", after)
    .orderBy("seq")
    .execute();

describe.each(databaseKinds)("requester pick per ticket (%s)", (kind) => {
  const h = useHarness(kind);

  it("one agent's pick applies for every agent on the ticket, with who picked; only for its email; forgotten on request", async () => {
    expect((await context(h, "operations", EMAIL, "1010")).match).toBe("ambiguous");
    const made = await pick(h, "support_full", { ticketId: "1010", email: EMAIL, userId: "usr_demo_shared_2" });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    expect(made.body.pick).toEqual({ userId: "usr_demo_shared_2", pickedBy: "Sam Support", pickedAt: h.deps.clock.now().toISOString() });

    const seen = await context(h, "operations", EMAIL.toUpperCase(), "1010");
    expect(seen.user?.id).toBe("usr_demo_shared_2");
    expect(seen.pick).toEqual(made.body.pick);
    // Another ticket, or no ticket: the pick is not this one's.
    expect((await context(h, "operations", EMAIL, "1011")).match).toBe("ambiguous");
    expect((await context(h, "operations", EMAIL)).pick ?? null).toBeNull();
    // The ticket's requester changed: the pick was for the old email.
    const other = await context(h, "operations", "omar.garcia@acme.example", "1010");
    expect(other.pick ?? null).toBeNull();

    expect((await pick(h, "support_read_only", { ticketId: "1010", email: EMAIL, userId: null })).status).toBe(200);
    expect(await picks(h)).toEqual([]);
    expect((await context(h, "support_full", EMAIL, "1010")).match).toBe("ambiguous");
  });

  it("audits every pick, change and forget with the agent, the ticket and the user before and after", async () => {
    const db = h.deps.database.db;
    const accountOf = async (id: string) => (await db.selectFrom("users").select("account_id").where("id", "=", id).executeTakeFirstOrThrow()).account_id;
    const since = await lastSeq(h);
    expect((await pick(h, "support_full", { ticketId: "1010", email: EMAIL, userId: "usr_demo_shared_1" })).status).toBe(200);
    expect((await pick(h, "operations", { ticketId: "1010", email: EMAIL, userId: "usr_demo_shared_2" })).status).toBe(200);
    expect((await pick(h, "support_read_only", { ticketId: "1010", email: EMAIL, userId: null })).status).toBe(200);
    // Forgetting a ticket that has no pick is still the agent's act on that ticket: recorded, about no one.
    expect((await pick(h, "support_read_only", { ticketId: "1011", email: EMAIL, userId: null })).status).toBe(200);

    const entries = await pickEntries(h, since);
    const lower = EMAIL.toLowerCase();
    expect(entries).toEqual([
      { action: "context.pick", actor_email: expect.any(String), actor_role: "support_full", target_type: "user", target_id: "usr_demo_shared_1", target_account_id: await accountOf("usr_demo_shared_1"), ticket_id: "1010", before: null, after: { userId: "usr_demo_shared_1", requesterEmail: lower }, outcome: "succeeded" },
      { action: "context.pick", actor_email: expect.any(String), actor_role: "operations", target_type: "user", target_id: "usr_demo_shared_2", target_account_id: await accountOf("usr_demo_shared_2"), ticket_id: "1010", before: { userId: "usr_demo_shared_1", requesterEmail: lower }, after: { userId: "usr_demo_shared_2", requesterEmail: lower }, outcome: "succeeded" },
      { action: "context.pick", actor_email: expect.any(String), actor_role: "support_read_only", target_type: "user", target_id: "usr_demo_shared_2", target_account_id: await accountOf("usr_demo_shared_2"), ticket_id: "1010", before: { userId: "usr_demo_shared_2", requesterEmail: lower }, after: null, outcome: "succeeded" },
      { action: "context.pick", actor_email: expect.any(String), actor_role: "support_read_only", target_type: "user", target_id: null, target_account_id: null, ticket_id: "1011", before: null, after: null, outcome: "succeeded" },
    ]);
    // Three different agents: each entry names the one who acted.
    expect(new Set(entries.slice(0, 3).map((e) => e.actor_email)).size).toBe(3);
  });

  it("answers bad input with 400 naming the field and an unknown user with 404, storing nothing", async () => {
    const since = await lastSeq(h);
    const bad = await pick(h, "support_full", { ticketId: "abc", email: "nope", userId: "usr_demo_shared_1" });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["body.email", "body.ticketId"]);
    const unknown = await pick(h, "support_full", { ticketId: "1010", email: EMAIL, userId: "usr_nope" });
    expect(unknown.status).toBe(404);
    expect(await picks(h)).toEqual([]);
    expect(await pickEntries(h, since)).toEqual([]);
  });

  it("picks for an internationalised requester email: kept in one spelling (NFC, lower case), applied to any spelling of it; NUL or a lone surrogate refused", async () => {
    const db = h.deps.database.db;
    for (const [id, account] of [["usr_t_idn_1", "acc_demo_001"], ["usr_t_idn_2", "acc_demo_008"]] as const) {
      await addUser(db, { id, account_id: account, email: "Ünal.Öztürk@Bücher.example", name: "Ünal Öztürk" });
    }
    const made = await pick(h, "support_full", { ticketId: "1011", email: "u\u0308nal.o\u0308ztu\u0308rk@bu\u0308cher.example", userId: "usr_t_idn_2" });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    expect(made.body.pick).toMatchObject({ userId: "usr_t_idn_2" });
    expect((await picks(h)).map((p) => p.requester_email)).toEqual(["ünal.öztürk@bücher.example"]);
    expect((await context(h, "operations", "ÜNAL.ÖZTÜRK@BÜCHER.EXAMPLE", "1011")).user?.id).toBe("usr_t_idn_2");
    expect((await context(h, "operations", "ünal.öztürk@bücher.example")).match).toBe("ambiguous");

    const since = await lastSeq(h);
    for (const email of ["ünal\u0000@bücher.example", "ünal\ud800@bücher.example"]) {
      const bad = await pick(h, "support_full", { ticketId: "1011", email, userId: "usr_t_idn_1" });
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.email"]);
    }
    expect(await pickEntries(h, since)).toEqual([]);
    expect((await pick(h, "support_full", { ticketId: "1011", email: "x@y.example", userId: null })).status).toBe(200);
  });

  it("a pick whose user was deleted since is passed over: the email decides as if there were none, the response has no pick, and the stored pick stays", async () => {
    const db = h.deps.database.db;
    const email = "robin.stale@pick.example";
    await addUser(db, { id: "usr_t_stale_live", account_id: "acc_demo_001", email, name: "Robin Stale" });
    await addUser(db, { id: "usr_t_stale_picked", account_id: "acc_demo_008", email: email.toUpperCase(), name: "Robin Stale" });
    expect((await pick(h, "support_full", { ticketId: "1012", email, userId: "usr_t_stale_picked" })).status).toBe(200);
    expect((await context(h, "operations", email, "1012")).user?.id).toBe("usr_t_stale_picked");
    const stored = await db.selectFrom("ticket_requester_picks").selectAll().where("ticket_id", "=", "1012").execute();

    // Deleted since (as a deletion leaves the row: status deleted): never the requester, so the one left with the email is.
    await db.updateTable("users").set({ status: "deleted" }).where("id", "=", "usr_t_stale_picked").execute();
    const res = await request(h.app).get("/api/context").query({ email }).set("Authorization", `Bearer ${await sessionOf(h, "operations")}`).set("X-Ticket-Id", "1012").set("X-Request-Id", `req-stale-pick-${kind}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ match: "exact", user: { id: "usr_t_stale_live" }, candidates: [], pick: null });
    // The view's entry is about the user shown, found by email (no pick applied).
    const entry = await db.selectFrom("audit_log").select(["target_id", "after", "outcome"]).where("request_id", "=", `req-stale-pick-${kind}`).executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ target_id: "usr_t_stale_live", after: { requester: { email, userId: null }, match: "exact" }, outcome: "succeeded" });
    // A read changes nothing: the pick is still stored, for an agent to replace or forget.
    expect(await db.selectFrom("ticket_requester_picks").selectAll().where("ticket_id", "=", "1012").execute()).toEqual(stored);

    // A pick naming a user that is not there at all: the same.
    await db.updateTable("ticket_requester_picks").set({ user_id: "usr_t_never_was" }).where("ticket_id", "=", "1012").execute();
    expect(await context(h, "operations", email, "1012")).toMatchObject({ match: "exact", user: { id: "usr_t_stale_live" }, pick: null });
    await db.deleteFrom("ticket_requester_picks").where("ticket_id", "=", "1012").execute();
  });

  it("two agents picking on one ticket at once: each entry's before is the pick it replaced, so the entries chain", async () => {
    const db = h.deps.database.db;
    const [full, ops] = [await sessionOf(h, "support_full"), await sessionOf(h, "operations")];
    const send = (token: string, ticketId: string, userId: string) => request(h.app).post("/api/context/pick").set("Authorization", `Bearer ${token}`).send({ ticketId, email: EMAIL, userId });
    const tickets = Array.from({ length: 8 }, (_, i) => String(2100 + i));
    const since = await lastSeq(h);
    for (const ticketId of tickets) {
      const answers = await Promise.all([send(full, ticketId, "usr_demo_shared_1"), send(ops, ticketId, "usr_demo_shared_2")]);
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
    }
    for (const ticketId of tickets) {
      const entries = await db.selectFrom("audit_log").select(["before", "after"]).where("action", "=", "context.pick").where("ticket_id", "=", ticketId).where("seq", ">", since).orderBy("seq").execute();
      const stored = await db.selectFrom("ticket_requester_picks").select("user_id").where("ticket_id", "=", ticketId).executeTakeFirstOrThrow();
      expect(entries, ticketId).toHaveLength(2);
      expect(entries[0]?.before, ticketId).toBeNull();
      expect(entries[1]?.before, ticketId).toEqual(entries[0]?.after);
      // The pick that stands is the one the last entry records.
      expect((entries[1]?.after as { userId: string }).userId).toBe(stored.user_id);
    }
  });
});
