import type { Server } from "node:http";
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExportLinkIssued, ExportLinkStatusView } from "../../../shared/schemas/console.js";
import { createApp } from "../../src/app.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import type { ManualClock } from "../../src/clock.js";
import { EXPORT_LINK_TTL_MS } from "../../src/console/exportLinks.js";
import type { AppDeps } from "../../src/deps.js";
import { HOOK_TIMEOUT } from "../audit/fixtures.js";
import { bearerFor, demoActor, parseCsv } from "../audit/http.js";
import { fillAuditLog } from "../support/auditFill.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";

/**
 * Console exports through single-use links: the browser downloads the file itself (no session header on a
 * navigation), so the link carries who asked and for what, works once, expires unused, and the staff
 * member's access and role are read again when it is used. The export is audited as the header route's is.
 */
describe.each(databaseKinds)("console export links on %s", (kind) => {
  let deps: AppDeps & { clock: ManualClock };
  let app: Express;
  let ops: string;
  let support: string;

  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: true });
    app = createApp(deps);
    ops = await bearerFor(deps, "operations");
    support = await bearerFor(deps, "support_full");
    // Ticket 7001: two entries by Sam (support_full), one by Olive (operations); the support agent sees only Sam's.
    for (const [role, reason] of [["support_full", "=HYPERLINK(1)"], ["support_full", "second"], ["operations", "ops only"]] as const) {
      await appendAudit(deps.database.db, { actor: demoActor(role), action: "user.suspend", target: { type: "user", id: "usr_link", accountId: "acc_link" }, ticketId: "7001", reason, outcome: "succeeded" }, deps.clock);
    }
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await deps?.database.close();
  }, HOOK_TIMEOUT);

  const issue = async (bearer: string, body: Record<string, string>, ticket?: string) => {
    const req = request(app).post("/api/console/export-links").set("Authorization", bearer);
    const res = await (ticket ? req.set("X-Ticket-Id", ticket) : req).send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return ExportLinkIssued.parse(res.body);
  };
  const status = async (bearer: string, id: string) => ExportLinkStatusView.parse((await request(app).get(`/api/console/export-links/${id}`).set("Authorization", bearer).expect(200)).body);
  const lastExportEntry = () => deps.database.db.selectFrom("audit_log").selectAll().where("action", "=", "audit.export").orderBy("seq", "desc").limit(1).executeTakeFirst();

  it("downloads the file once, without a session header, audited as the header export is, and says how it went", async () => {
    // X-Ticket-Id names the ticket the export is made for; the body's ticketId is a filter.
    const link = await issue(ops, { format: "csv", ticketId: "7001" }, "7002");
    expect(link.url).toMatch(/^\/api\/console\/export-downloads\/[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(link.expiresAt)).toBe(deps.clock.now().getTime() + EXPORT_LINK_TTL_MS);
    expect(await status(ops, link.id)).toEqual({ state: "waiting", total: null, rowsSent: 0, error: null });
    const head = await deps.database.db.selectFrom("audit_log").select("seq").orderBy("seq", "desc").limit(1).executeTakeFirstOrThrow();

    const res = await request(app).get(link.url).expect(200);
    expect(res.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(res.headers["content-disposition"]).toMatch(/^attachment; filename="steward-audit-[0-9T-]+Z\.csv"$/);
    expect(res.headers["cache-control"]).toBe("no-store");
    const [header, ...rows] = parseCsv(res.text);
    const reason = header?.indexOf("reason") ?? -1;
    expect(rows.map((r) => r[reason])).toEqual(["ops only", "second", "'=HYPERLINK(1)"]);

    // The same entry the header route writes (console, filters, format, snapshot head, total), for the staff member who asked.
    expect(await lastExportEntry()).toMatchObject({ seq: head.seq + 1, actor_staff_id: "stf_demo_ops", actor_role: "operations", ticket_id: "7002", outcome: "succeeded", after: { console: true, filters: { ticketId: "7001" }, format: "csv", throughSeq: head.seq, total: 3 } });
    expect(await status(ops, link.id)).toEqual({ state: "complete", total: 3, rowsSent: 3, error: null });

    // Used: a second visit is refused, and nothing more is exported or audited.
    const again = await request(app).get(link.url).expect(410);
    expect(again.headers["content-type"]).toContain("application/problem+json");
    expect(again.body).toMatchObject({ code: "export_link_used", status: 410 });
    expect((await lastExportEntry())?.seq).toBe(head.seq + 1);
  });

  it("gives the file to one of two requests racing for the same link", async () => {
    const link = await issue(ops, { format: "ndjson", ticketId: "7001" });
    const answers = await Promise.all([request(app).get(link.url), request(app).get(link.url), request(app).get(link.url)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 410, 410]);
  });

  it("refuses a link past its minute, and one Steward never made", async () => {
    const link = await issue(ops, { format: "csv" });
    deps.clock.advance(EXPORT_LINK_TTL_MS);
    const expired = await request(app).get(link.url).expect(410);
    expect(expired.body).toMatchObject({ code: "export_link_expired" });
    expect(expired.body.detail).toMatch(/expired unused/);
    expect(await status(ops, link.id)).toMatchObject({ state: "expired", rowsSent: 0 });

    // A token of the right shape that was never issued, one of another shape, and a link with a letter changed.
    const fresh = await issue(ops, { format: "csv" });
    const forged = fresh.url.slice(0, -1) + (fresh.url.endsWith("A") ? "B" : "A");
    for (const url of ["/api/console/export-downloads/" + "x".repeat(43), "/api/console/export-downloads/short", forged]) {
      const res = await request(app).get(url).expect(404);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.body).toMatchObject({ code: "export_link_unknown" });
    }
    // The real one still works: a forged try does not use it up.
    await request(app).get(fresh.url).expect(200);
  });

  it("exports with the role the staff member has when the link is used, not the one they had when it was made", async () => {
    const link = await issue(ops, { format: "csv", ticketId: "7001" });
    await deps.database.db.updateTable("staff").set({ panel_role: "support_full", updated_at: new Date() }).where("id", "=", "stf_demo_ops").execute();
    try {
      const res = await request(app).get(link.url).expect(200);
      // Olive, now a support agent, sees her own entries (her write, her exports on the ticket), not Sam's, which operations saw.
      const [header, ...rows] = parseCsv(res.text);
      const col = (name: string) => header?.indexOf(name) ?? -1;
      expect(rows.length).toBeGreaterThan(0);
      expect(new Set(rows.map((r) => r[col("actor_staff_id")]))).toEqual(new Set(["stf_demo_ops"]));
      expect(rows.map((r) => r[col("reason")])).toContain("ops only");
      expect(await lastExportEntry()).toMatchObject({ actor_staff_id: "stf_demo_ops", actor_role: "support_full", ticket_id: null, after: { total: rows.length } });
    } finally {
      await deps.database.db.updateTable("staff").set({ panel_role: "operations", updated_at: new Date() }).where("id", "=", "stf_demo_ops").execute();
    }
  });

  it("refuses a link whose staff member lost panel access since, and says why on the link's status", async () => {
    const link = await issue(support, { format: "csv" });
    const before = (await lastExportEntry())?.seq;
    await deps.database.db.updateTable("staff").set({ active: false, updated_at: new Date() }).where("id", "=", "stf_demo_full").execute();
    try {
      const res = await request(app).get(link.url).expect(403);
      expect(res.body).toMatchObject({ code: "staff_inactive" });
      expect((await lastExportEntry())?.seq).toBe(before);
    } finally {
      await deps.database.db.updateTable("staff").set({ active: true, updated_at: new Date() }).where("id", "=", "stf_demo_full").execute();
    }
    expect(await status(support, link.id)).toMatchObject({ state: "incomplete", rowsSent: 0, error: expect.stringMatching(/^staff_inactive: /) });
  });

  it("says on the link's status that a download the browser dropped midway is incomplete, with how many entries went out", async () => {
    await fillAuditLog(deps.database.db, 20_000, { start: new Date(deps.clock.now().getTime() - 86_400_000), stepMs: 1_000, offset: 1_000_000 });
    const server: Server = app.listen(0, "127.0.0.1");
    await new Promise<void>((ready) => server.once("listening", () => ready()));
    try {
      const address = server.address();
      const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
      const link = await issue(ops, { format: "ndjson" });
      const abort = new AbortController();
      const res = await fetch(`${base}${link.url}`, { signal: abort.signal });
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      for (let bytes = 0; bytes < 100_000; ) bytes += (await reader.read()).value?.length ?? Infinity;
      abort.abort();
      let seen = await status(ops, link.id);
      for (let i = 0; i < 100 && seen.state === "streaming"; i++) {
        await new Promise((r) => setTimeout(r, 100));
        seen = await status(ops, link.id);
      }
      expect(seen).toMatchObject({ state: "incomplete", error: expect.stringMatching(/^export_incomplete: the client went away after \d+ entries/) });
      expect(seen.rowsSent).toBeLessThan(seen.total ?? 0);
    } finally {
      await new Promise<void>((done) => server.close(() => done()));
    }
  });

  it("refuses bad filters naming the field, links without a session, and another staff member's link status", async () => {
    const bad = await request(app).post("/api/console/export-links").set("Authorization", ops).send({ format: "csv", from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z" }).expect(400);
    expect(bad.headers["content-type"]).toContain("application/problem+json");
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: "body.from", reason: "must not be after to" })]);
    const noFormat = await request(app).post("/api/console/export-links").set("Authorization", ops).send({ format: "xlsx" }).expect(400);
    expect(noFormat.body.errors[0].field).toBe("body.format");
    await request(app).post("/api/console/export-links").send({ format: "csv" }).expect(401);

    const link = await issue(ops, { format: "csv" });
    await request(app).get(`/api/console/export-links/${link.id}`).set("Authorization", support).expect(404);
    await request(app).get(`/api/console/export-links/${link.id}`).expect(401);
  });
});
