import request from "supertest";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../../shared/audit.js";
import type { PanelRole } from "../../../shared/roles.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { act, sessionOf, useHarness } from "../actions/harness.js";
import { raisedBy } from "../support/tickets.js";
import { databaseKinds } from "../support/databases.js";

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
    for (const entries of [await search("support_full"), await exported("support_full")]) {
      expect(entries.some((e) => e.ticketId === "2001" && e.actor.staffId === staffIdOf("operations"))).toBe(true);
      expect(entries.filter((e) => e.ticketId === "2002").map((e) => [e.action, e.actor, e.ticketId])).toEqual([]);
      expect(entries.every((e) => e.actor.staffId === staffIdOf("support_full") || e.ticketId === "2001")).toBe(true);
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
});
