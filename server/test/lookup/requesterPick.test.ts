import request from "supertest";
import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import { databaseKinds } from "../support/databases.js";
import { sessionOf, useHarness, type Harness } from "../actions/harness.js";

/**
 * The requester pick kept on the server per ticket (migration 033), on both databases: made by one
 * agent, it applies for every agent who opens the ticket, names who picked, holds only for the email
 * it was made for, and is forgotten on request; bad input is a 400 naming the field, storing nothing.
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

const picks = (h: Harness) => h.deps.database.db.selectFrom("ticket_requester_picks").selectAll().execute();

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

  it("answers bad input with 400 naming the field and an unknown user with 404, storing nothing", async () => {
    const bad = await pick(h, "support_full", { ticketId: "abc", email: "nope", userId: "usr_demo_shared_1" });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["body.email", "body.ticketId"]);
    const unknown = await pick(h, "support_full", { ticketId: "1010", email: EMAIL, userId: "usr_nope" });
    expect(unknown.status).toBe(404);
    expect(await picks(h)).toEqual([]);
  });
});
