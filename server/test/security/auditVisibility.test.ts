import request from "supertest";
import { CompiledQuery, sql, type SqlBool } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../../shared/audit.js";
import { AuditPage } from "../../../shared/schemas/audit.js";
import { ConsolePage } from "../../../shared/schemas/console.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import { ACTED_ON_MATCHES, visible } from "../../src/audit/auditQuery.js";
import type { PanelRole } from "../../../shared/roles.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { act, sessionOf, useHarness } from "../actions/harness.js";
import { raisedBy } from "../support/tickets.js";
import { databaseKinds } from "../support/databases.js";
import { demoActor } from "../audit/http.js";

const staffIdOf = (role: PanelRole) => DEMO_AGENTS.find((a) => a.role === role)?.id as string;

describe.each(databaseKinds)("audit visibility by role on %s", (kind) => {
  const h = useHarness(kind);

  async function search(role: PanelRole): Promise<AuditEntry[]> {
    const res = await request(h.app).get("/api/audit?limit=200").set("Authorization", `Bearer ${await sessionOf(h, role)}`);
    expect(res.status).toBe(200);
    return res.body.entries as AuditEntry[];
  }

  async function exported(role: PanelRole): Promise<AuditEntry[]> {
    const res = await request(h.app).get("/api/audit/export?format=ndjson").set("Authorization", `Bearer ${await sessionOf(h, role)}`);
    expect(res.status).toBe(200);
    return res.text.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as AuditEntry);
  }

  const ticketsOf = (entries: AuditEntry[]) => new Set(entries.map((e) => e.ticketId));

  beforeAll(async () => {
    // support_full acts on ticket 2001; operations acts on 2001 too, and alone on 2002.
    expect((await act(h, "support_full", "user.lockout_clear", { target: { type: "user", id: "usr_demo_003_1" }, ticketId: await raisedBy(h.deps, { type: "account", id: "acc_demo_003" }, "2001") })).status).toBe(200);
    expect((await act(h, "operations", "user.sessions_revoke", { target: { type: "user", id: "usr_demo_003_2" }, ticketId: "2001" })).status).toBe(200);
    expect((await act(h, "operations", "user.sessions_revoke", { target: { type: "user", id: "usr_demo_004_2" }, ticketId: await raisedBy(h.deps, { type: "user", id: "usr_demo_004_2" }, "2002") })).status).toBe(200);
    // support_read_only's only entry: its own read of the log (audited), on no ticket.
    await search("support_read_only");
  });

  it("support_read_only sees only its own entries (it acted on no ticket)", async () => {
    for (const entries of [await search("support_read_only"), await exported("support_read_only")]) {
      expect(entries.length).toBeGreaterThan(0);
      expect(entries.filter((e) => e.actor.staffId !== staffIdOf("support_read_only")).map((e) => [e.action, e.actor, e.ticketId])).toEqual([]);
    }
  });

  it("support_full sees its own entries and everything on tickets it acted on, nothing else", async () => {
    // The tickets of its checked writes: 2001 from beforeAll, and any a test run before this one added.
    const actedOn = await h.deps.database.db
      .selectFrom("audit_log")
      .select("ticket_id")
      .distinct()
      .where("actor_staff_id", "=", staffIdOf("support_full"))
      .where(sql<string>`ticket_snapshot ->> 'match'`, "in", [...ACTED_ON_MATCHES])
      .where(sql<SqlBool>`(ticket_snapshot ->> 'id') = ticket_id`)
      .execute();
    const tickets = new Set(actedOn.map((r) => r.ticket_id));
    expect(tickets.has("2001") && !tickets.has("2002")).toBe(true);
    for (const entries of [await search("support_full"), await exported("support_full")]) {
      expect(entries.some((e) => e.ticketId === "2001" && e.actor.staffId === staffIdOf("operations"))).toBe(true);
      expect(entries.filter((e) => e.ticketId === "2002").map((e) => [e.action, e.actor, e.ticketId])).toEqual([]);
      expect(entries.filter((e) => e.actor.staffId !== staffIdOf("support_full") && !tickets.has(e.ticketId)).map((e) => [e.action, e.actor.staffId, e.ticketId])).toEqual([]);
    }
  });

  it("reading the log for a ticket (X-Ticket-Id) does not make it a ticket the reader acted on", async () => {
    // The read's own entry carries the ticket it was made for; counted as acting on it, any header would open that ticket's entries.
    const token = `Bearer ${await sessionOf(h, "support_read_only")}`;
    for (const path of ["/api/audit?ticketId=2002", "/api/audit/export?format=csv&ticketId=2002", "/api/console/entries?ticketId=2002", "/api/console/export?format=csv&ticketId=2002"]) {
      expect((await request(h.app).get(path).set("Authorization", token).set("X-Ticket-Id", "2002")).status, path).toBe(200);
    }
    for (const entries of [await search("support_read_only"), await exported("support_read_only")]) {
      expect(entries.filter((e) => e.actor.staffId !== staffIdOf("support_read_only")).map((e) => [e.action, e.actor.staffId, e.ticketId])).toEqual([]);
    }
    const console = await request(h.app).get("/api/console/entries?ticketId=2002&limit=200").set("Authorization", token).expect(200);
    expect((console.body.entries as AuditEntry[]).filter((e) => e.actor.staffId !== staffIdOf("support_read_only"))).toEqual([]);
  });

  it.each(["operations", "admin"] as const)("%s sees every entry, in search and export", async (role) => {
    for (const entries of [await search(role), await exported(role)]) {
      expect(ticketsOf(entries).has("2002")).toBe(true);
      expect(entries.some((e) => e.actor.staffId === staffIdOf("support_read_only"))).toBe(true);
    }
    const all = await h.deps.database.db.selectFrom("audit_log").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    expect((await exported(role)).length).toBeGreaterThanOrEqual(Number(all.n) - 1);
  });

  // Someone else's work on a ticket (an admin's write).
  const elsewhere = (ticketId: string) =>
    appendAudit(
      h.deps.database.db,
      { actor: demoActor("admin"), action: "user.unblock", target: { type: "user", id: "usr_x_1", accountId: "acc_x_1" }, ticketId, reason: "admin's work", outcome: "succeeded" },
      h.deps.clock,
    );
  const auditSeqs = async (auth: string, ticketId: string) =>
    AuditPage.parse((await request(h.app).get("/api/audit").query({ ticketId, limit: "200" }).set("Authorization", auth).expect(200)).body).entries.map((e) => e.seq);
  const consoleSeqs = async (auth: string, ticketId: string) =>
    ConsolePage.parse((await request(h.app).get("/api/console/entries").query({ ticketId, limit: "200" }).set("Authorization", auth).expect(200)).body).entries.map((e) => e.seq);

  // "Acted on" counts only tickets Steward checked against Zendesk for the reader's own writes.
  it("a lookup or a refused write naming a ticket does not open its history; a checked write does", async () => {
    const auth = `Bearer ${await sessionOf(h, "support_full")}`;
    const forged = await elsewhere("5001");
    const refused = await elsewhere("5003");
    const genuine = await elsewhere("5002");

    // Lookups carrying the ticket id the client chose (nobody checks X-Ticket-Id), and a read of the log.
    await request(h.app).get("/api/search").query({ q: "acme" }).set("Authorization", auth).set("X-Ticket-Id", "5001").expect(200);
    await request(h.app).get("/api/audit").set("Authorization", auth).set("X-Ticket-Id", "5001").expect(200);
    // A write refused because ticket 5003's requester is someone else: recorded with that ticket, but not checked in.
    await raisedBy(h.deps, { type: "user", id: "usr_demo_007_2" }, "5003");
    const mismatch = await act(h, "support_full", "user.suspend", { target: { type: "user", id: "usr_demo_026_1" }, ticketId: "5003" });
    expect(mismatch.status, JSON.stringify(mismatch.body)).toBe(403);

    for (const ticketId of ["5001", "5003"]) {
      const seen = [...(await auditSeqs(auth, ticketId)), ...(await consoleSeqs(auth, ticketId))];
      expect(seen).not.toContain(ticketId === "5001" ? forged.seq : refused.seq);
    }
    await request(h.app).get(`/api/console/entries/${forged.seq}`).set("Authorization", auth).expect(404);

    // A write on a ticket the target raised: checked against Zendesk, so the ticket's history opens.
    const ticketId = await raisedBy(h.deps, { type: "user", id: "usr_demo_026_1" }, "5002");
    const write = await act(h, "support_full", "user.suspend", { target: { type: "user", id: "usr_demo_026_1" }, ticketId });
    expect(write.status, JSON.stringify(write.body)).toBe(200);
    expect(await auditSeqs(auth, "5002")).toContain(genuine.seq);
    expect(await consoleSeqs(auth, "5002")).toContain(genuine.seq);
    await request(h.app).get(`/api/console/entries/${genuine.seq}`).set("Authorization", auth).expect(200);
    // Operations see every ticket regardless.
    const ops = `Bearer ${await sessionOf(h, "operations")}`;
    expect(await auditSeqs(ops, "5001")).toContain(forged.seq);
  });

  it("a write whose ticket snapshot names another ticket opens neither ticket's history", async () => {
    const auth = `Bearer ${await sessionOf(h, "support_full")}`;
    const [onEntry, onSnapshot] = [await elsewhere("5101"), await elsewhere("5102")];
    // The reader's own write on 5101, carrying a confirmed snapshot of ticket 5102.
    const requester = { id: "1", email: "owner@example.test", externalId: null, organizationId: null, name: "Owner" };
    const ticketSnapshot = { id: "5102", subject: "Help", status: "open", requester, assigneeId: null, match: "email" as const, overrideReason: null, fetchedAt: new Date(0).toISOString() };
    const own = await appendAudit(
      h.deps.database.db,
      { actor: demoActor("support_full"), action: "user.suspend", target: { type: "user", id: "usr_x_2", accountId: "acc_x_2" }, ticketId: "5101", ticketSnapshot, reason: "mismatched", outcome: "succeeded" },
      h.deps.clock,
    );
    for (const [ticketId, other] of [["5101", onEntry], ["5102", onSnapshot]] as const) {
      expect(await auditSeqs(auth, ticketId), ticketId).not.toContain(other.seq);
      expect(await consoleSeqs(auth, ticketId), ticketId).not.toContain(other.seq);
      await request(h.app).get(`/api/console/entries/${other.seq}`).set("Authorization", auth).expect(404);
    }
    const exportedSeqs = (await exported("support_full")).map((e) => e.seq);
    expect(exportedSeqs).not.toContain(onEntry.seq);
    expect(exportedSeqs).not.toContain(onSnapshot.seq);
    // Its own entry it still sees, and operations see all three.
    expect(await auditSeqs(auth, "5101")).toContain(own.seq);
    const ops = `Bearer ${await sessionOf(h, "operations")}`;
    expect([...(await auditSeqs(ops, "5101")), ...(await auditSeqs(ops, "5102"))]).toEqual(expect.arrayContaining([own.seq, onEntry.seq, onSnapshot.seq]));
  });

  it("migration 041's index holds exactly the checked matches of the entry's own ticket, and the acted-on lookup reads it", async () => {
    const { db } = h.deps.database;
    const { rows } = await sql<{ indexdef: string }>`select indexdef from pg_indexes where indexname = 'audit_log_acted_on_idx'`.execute(db);
    expect(rows).toHaveLength(1);
    const indexdef = rows[0]?.indexdef ?? "";
    const named = [...indexdef.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]).filter((m) => m !== "match" && m !== "id");
    expect(named.sort()).toEqual([...ACTED_ON_MATCHES].sort());

    const compiled = db
      .selectFrom("audit_log")
      .select("seq")
      .where((eb) => eb.and(visible(eb, { kind: "own", staffId: "stf_demo_full" })))
      .compile();
    // Both require the snapshot to be of the entry's own ticket.
    expect(indexdef).toMatch(/\(ticket_snapshot ->> 'id'::text\) = ticket_id/);
    expect(compiled.sql).toContain(`(mine.ticket_snapshot ->> 'id') = mine.ticket_id`);
    const plan = await db.transaction().execute(async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      return trx.executeQuery<{ "QUERY PLAN": string }>(CompiledQuery.raw(`explain ${compiled.sql}`, [...compiled.parameters]));
    });
    const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
    const copies = await sql<{ relname: string }>`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'audit_log_acted_on_idx'::regclass`.execute(db);
    expect(copies.rows.some((c) => text.includes(c.relname)), text).toBe(true);
  });
});
