import request from "supertest";
import { sql } from "kysely";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../../shared/audit.js";
import { AuditFilters, AuditPage } from "../../../shared/schemas/audit.js";
import type { TicketSnapshot } from "../../../shared/schemas/ticket.js";
import { createApp } from "../../src/app.js";
import { entryMac } from "../../src/audit/auditHash.js";
import { appendAudit, type AuditInput } from "../../src/audit/auditLog.js";
import { cursorBinding } from "../../src/audit/auditQuery.js";
import { recordIntent, recordOutcome } from "../../src/audit/operations.js";
import type { AppDeps } from "../../src/deps.js";
import type { ManualClock } from "../../src/clock.js";
import { TEST_AUDIT_KEYS } from "../support/auditKeys.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";
import { asSuperuser, HOOK_TIMEOUT } from "./fixtures.js";
import { bearerFor, demoActor, type DemoRole } from "./http.js";

const ACTORS: DemoRole[] = ["support_read_only", "support_full", "operations"];
const ACTIONS = ["user.suspend", "billing.credit_apply", "account.suspend", "user.password_reset"] as const;
const START = Date.parse("2026-03-01T00:00:00.000Z");
const MINUTE = 60_000;

/** The ticket snapshot the write path records once Zendesk confirmed the ticket's requester is the target. */
function checkedSnapshot(ticketId: string): TicketSnapshot {
  const requester = { id: "1", email: "owner@example.test", externalId: null, organizationId: null, name: "Owner" };
  return { id: ticketId, subject: "Help", status: "open", requester, assigneeId: null, match: "email", overrideReason: null, fetchedAt: "2026-03-01T00:00:00.000Z" };
}

/** Entry i of the dataset: each attribute cycles with its own period, so filters cut it differently. */
function datasetEntry(i: number): AuditInput {
  const odd = i === 13 ? 'He said "refund, now"\nthen hung up' : i === 14 ? '=HYPERLINK("http://evil.test")' : `case ${i}`;
  return {
    actor: demoActor(ACTORS[i % 3] ?? "support_full"),
    action: ACTIONS[i % 4] ?? "user.suspend",
    target: i % 2 === 0 ? { type: "user", id: `usr_t_${i % 6}`, accountId: `acc_t_${i % 5}` } : { type: "account", id: `acc_t_${i % 5}`, accountId: `acc_t_${i % 5}` },
    ticketId: String(2000 + (i % 7)),
    ticketSnapshot: checkedSnapshot(String(2000 + (i % 7))),
    reason: odd,
    before: { n: i },
    after: { n: i + 1 },
    outcome: i % 10 === 0 ? "failed" : "succeeded",
    error: i % 10 === 0 ? "provider said no" : null,
  };
}

describe.each(databaseKinds)("audit API on %s", (kind) => {
  let deps: AppDeps & { clock: ManualClock };
  let app: Express;
  let admin: string;
  let reader: string;
  let ops: string;
  const dataset: AuditEntry[] = [];

  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: true });
    app = createApp(deps);
    await deps.database.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 60; i++) {
        deps.clock.set(new Date(START + i * MINUTE));
        dataset.push(await appendAudit(trx, datasetEntry(i), deps.clock));
      }
    });
    deps.clock.set("2026-06-01T09:00:00.000Z");
    [admin, reader, ops] = await Promise.all([bearerFor(deps, "admin"), bearerFor(deps, "support_read_only"), bearerFor(deps, "operations")]);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await deps.database.close();
  }, HOOK_TIMEOUT);

  const newestFirst = (entries: AuditEntry[]) => [...entries].sort((a, b) => b.seq - a.seq).map((e) => e.seq);
  const search = async (query: Record<string, string>, auth = admin) => {
    const res = await request(app).get("/api/audit").query({ limit: "200", ...query }).set("Authorization", auth).expect(200);
    return AuditPage.parse(res.body);
  };

  it("needs a session for every audit route", async () => {
    for (const path of ["/api/audit", "/api/audit/export?format=csv", "/api/audit/verify"]) {
      const res = await request(app).get(path).expect(401);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.body.code).toBe("session_missing");
    }
  });

  it("filters by each field, newest first", async () => {
    const email = demoActor("operations").email ?? "";
    const cases: [Record<string, string>, (e: AuditEntry) => boolean][] = [
      [{ actor: "stf_demo_full" }, (e) => e.actor.staffId === "stf_demo_full"],
      [{ actor: email.toUpperCase() }, (e) => e.actor.email === email],
      [{ action: "billing.credit_apply" }, (e) => e.action === "billing.credit_apply"],
      [{ targetAccountId: "acc_t_3" }, (e) => e.target.accountId === "acc_t_3"],
      [{ targetUserId: "usr_t_4" }, (e) => e.target.type === "user" && e.target.id === "usr_t_4"],
      [{ ticketId: "2005" }, (e) => e.ticketId === "2005"],
      [{ outcome: "failed" }, (e) => e.outcome === "failed"],
      [{ from: new Date(START + 10 * MINUTE).toISOString(), to: new Date(START + 20 * MINUTE).toISOString() }, (e) => e.seq >= 11 && e.seq <= 20],
      [
        { action: "user.suspend", actor: "stf_demo_read", from: new Date(START + 30 * MINUTE).toISOString() },
        (e) => e.action === "user.suspend" && e.actor.staffId === "stf_demo_read" && Date.parse(e.occurredAt) >= START + 30 * MINUTE,
      ],
    ];
    for (const [query, keep] of cases) {
      // Bounded to the dataset's hour unless the case sets its own window: other tests write later entries.
      const page = await search({ to: new Date(START + 60 * MINUTE).toISOString(), ...query });
      const expected = newestFirst(dataset.filter(keep));
      expect(expected.length, JSON.stringify(query)).toBeGreaterThan(0);
      expect(page.entries.map((e) => e.seq), JSON.stringify(query)).toEqual(expected);
      expect(page.nextCursor).toBeNull();
    }
    // Windows with nothing in them, before and after the log.
    expect((await search({ to: new Date(START).toISOString() })).entries).toEqual([]);
    expect((await search({ from: "2030-01-01T00:00:00Z" })).entries).toEqual([]);
    const edge = await search({ from: new Date(START + 59 * MINUTE).toISOString(), to: new Date(START + 59 * MINUTE + 1).toISOString() });
    expect(edge.entries.map((e) => e.seq)).toEqual([60]);
    // Entries come back exactly as stored and hashed.
    const one = (await search({ ticketId: "2003", action: "user.password_reset" })).entries[0];
    // (Sealed or not yet, as the tests that ran before left it: the verify route seals first.)
    expect({ ...one, seal: null }).toEqual(dataset.find((e) => e.seq === one?.seq));
  });

  it("pages with an opaque cursor and never repeats or skips an entry while others are written", async () => {
    const matching = newestFirst(dataset.filter((e) => e.action === "account.suspend"));
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing && n < 200) {
        await appendAudit(deps.database.db, { ...datasetEntry(2), reason: `concurrent ${n++}` }, deps.clock);
      }
      return n;
    })();
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { entries: AuditEntry[]; nextCursor: string | null } = await search({ action: "account.suspend", limit: "4", ...(cursor ? { cursor } : {}) });
      expect(page.entries.length).toBeLessThanOrEqual(4);
      seen.push(...page.entries.map((e) => e.seq));
      cursor = page.nextCursor;
      pages++;
      expect(cursor ?? "").not.toMatch(/^\d+$/);
    } while (cursor);
    writing = false;
    const written = await writer;
    expect(written).toBeGreaterThan(0);
    // Strictly descending: no duplicates; every entry that existed before paging is there.
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((s) => s <= 60)).toEqual(matching);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(matching.length / 4));
    // The newest first page shows the entries written meanwhile.
    const fresh = await search({ action: "account.suspend", limit: "1" });
    expect(fresh.entries[0]?.seq).toBeGreaterThan(60);
  });

  it("lists as pending only intents whose outcome is not recorded yet, in the audit search and the console", async () => {
    const intent = (id: string) => recordIntent(deps.database.db, { actor: demoActor("operations"), action: "user.block", target: { type: "user", id, accountId: "acc_pending" }, ticketId: "2100", reason: "pending filter" }, deps.clock);
    const settled = await intent("usr_p_1");
    await recordOutcome(deps.database.db, settled, { outcome: "succeeded" }, deps.clock);
    const open = await intent("usr_p_2");
    const seqs = (body: unknown) => AuditPage.parse(body).entries.map((e) => e.seq);
    for (const path of ["/api/audit", "/api/console/entries"]) {
      const pending = await request(app).get(path).query({ targetAccountId: "acc_pending", outcome: "pending" }).set("Authorization", admin).expect(200);
      expect(seqs(pending.body), path).toEqual([open.entry.seq]);
      // The settled intent is still in the log, under no filter.
      const all = await request(app).get(path).query({ targetAccountId: "acc_pending" }).set("Authorization", admin).expect(200);
      expect(seqs(all.body), path).toContain(settled.entry.seq);
    }
  });

  it("refuses a cursor reused with other filters, and records nothing", async () => {
    const first = await search({ action: "account.suspend", limit: "4" });
    const cursor = first.nextCursor ?? "";
    expect(cursor).not.toBe("");
    const count = async () => Number((await deps.database.db.selectFrom("audit_log").select(({ fn }) => fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);
    const before = await count();
    for (const query of [{ action: "user.suspend" }, {}, { action: "account.suspend", ticketId: "2001" }, { action: "account.suspend", to: "2030-01-01T00:00:00.000Z" }]) {
      const res = await request(app).get("/api/audit").query({ ...query, cursor }).set("Authorization", admin).expect(400);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.body.errors, JSON.stringify(query)).toEqual([{ field: "query.cursor", reason: expect.stringContaining("another query") }]);
    }
    // Nor does the console take the audit search's cursor.
    expect((await request(app).get("/api/console/entries").query({ cursor }).set("Authorization", admin).expect(400)).body.errors[0].field).toBe("query.cursor");
    expect(await count()).toBe(before);
    // The same filters with another page size go on below the first page.
    const next = await search({ action: "account.suspend", limit: "2", cursor });
    expect(next.entries[0]?.seq).toBeLessThan(first.entries.at(-1)?.seq ?? 0);
  });

  it("goes on with a cursor when the next page spells the filters differently but compares the same", async () => {
    // The email matches case-insensitively and the window bounds as instants: the cursor must agree with that.
    const email = demoActor("operations").email ?? "";
    const window = { from: new Date(START).toISOString(), to: new Date(START + 60 * MINUTE).toISOString() };
    const expected = newestFirst(dataset.filter((e) => e.actor.email === email));
    const first = await search({ actor: email.toLowerCase(), ...window, limit: "4" });
    expect(first.entries.map((e) => e.seq)).toEqual(expected.slice(0, 4));
    const cursor = first.nextCursor ?? "";
    expect(cursor).not.toBe("");
    // Same instants in another offset, email in other case: the next page, not a refusal.
    const next = await search({ actor: email.toUpperCase(), from: "2026-03-01T01:00:00+01:00", to: "2026-03-01T00:00:00.000-01:00", limit: "4", cursor });
    expect(next.entries.map((e) => e.seq)).toEqual(expected.slice(4, 8));
    // A staff id is compared exactly, so another case is another query; so is another instant.
    const staffId = demoActor("operations").staffId;
    for (const query of [{ actor: staffId.toUpperCase(), ...window }, { actor: staffId, ...window }, { actor: email, ...window, from: new Date(START + 1).toISOString() }]) {
      const res = await request(app).get("/api/audit").query({ ...query, cursor }).set("Authorization", admin).expect(400);
      expect(res.body.errors, JSON.stringify(query)).toEqual([{ field: "query.cursor", reason: expect.stringContaining("another query") }]);
    }
  });

  it("rejects bad queries naming the field", async () => {
    const unfiltered = cursorBinding("audit", "desc", {}, Object.keys(AuditFilters.shape));
    const bad: [Record<string, string>, string][] = [
      [{ limit: "201" }, "query.limit"],
      [{ limit: "0" }, "query.limit"],
      [{ cursor: "not-a-cursor" }, "query.cursor"],
      [{ action: "user.teleport" }, "query.action"],
      [{ outcome: "maybe" }, "query.outcome"],
      [{ ticketId: "abc" }, "query.ticketId"],
      [{ from: "yesterday" }, "query.from"],
      [{ from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z" }, "query.from"],
      // Valid ISO text whose instant lies outside years 0001–9999 UTC (PGlite refused it: a 500).
      [{ from: "0000-01-01T00:00:00+01:00" }, "query.from"],
      [{ to: "9999-12-31T23:59:59-12:00" }, "query.to"],
      // Cursors well-formed, bound to this query, but for an instant no database stores (refused by the database: a 500).
      [{ cursor: Buffer.from(`at2:-271821-04-20T00:00:00.000Z|1|${unfiltered}`).toString("base64url") }, "query.cursor"],
      [{ cursor: Buffer.from(`at2:+275760-09-13T00:00:00.000Z|1|${unfiltered}`).toString("base64url") }, "query.cursor"],
      [{ cursor: Buffer.from(`at2:-000100-01-01T00:00:00.000Z|1|${unfiltered}`).toString("base64url") }, "query.cursor"],
    ];
    for (const [query, field] of bad) {
      const res = await request(app).get("/api/audit").query(query).set("Authorization", admin).expect(400);
      expect(res.body.errors.map((e: { field: string }) => e.field), JSON.stringify(query)).toContain(field);
    }
    for (const query of [{ from: "0001-01-01T00:30:00+01:00" }, { to: "9999-12-31T23:30:00-01:00" }]) {
      const res = await request(app).get("/api/audit/export").query({ format: "csv", ...query }).set("Authorization", admin).expect(400);
      expect(res.headers["content-type"], JSON.stringify(query)).toContain("application/problem+json");
    }
  });

  it("refuses a filter it does not know (a misspelling, a bracketed name) instead of answering unfiltered, and records nothing", async () => {
    const before = await deps.database.db.selectFrom("audit_log").select(({ fn }) => fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
    for (const [path, key] of [
      ["/api/audit?ticket=2001", "ticket"],
      ["/api/audit?actor%5Bid%5D=stf_demo_full", "actor[id]"],
      ["/api/audit/export?format=csv&account=acc_t_1", "account"],
      ["/api/audit/verify?ful=true", "ful"],
    ] as const) {
      const res = await request(app).get(path).set("Authorization", admin).expect(400);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.body.errors, path).toEqual([expect.objectContaining({ field: "query", code: "unrecognized_keys", params: { keys: key } })]);
    }
    const after = await deps.database.db.selectFrom("audit_log").select(({ fn }) => fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it("shows support agents their own entries and those of tickets they acted on; operations and admins see all", async () => {
    // An admin's entry on a ticket no support agent touched (no dataset filter above matches it).
    const elsewhere = await appendAudit(
      deps.database.db,
      { actor: demoActor("admin"), action: "user.unblock", target: { type: "user", id: "usr_x_1", accountId: "acc_x_1" }, ticketId: "2999", reason: "elsewhere", outcome: "succeeded" },
      deps.clock,
    );
    const full = await bearerFor(deps, "support_full");
    for (const auth of [reader, full]) {
      expect((await search({ ticketId: "2999" }, auth)).entries).toEqual([]);
      const csv = await request(app).get("/api/audit/export").query({ format: "ndjson", ticketId: "2999" }).set("Authorization", auth).expect(200);
      expect(csv.text).toBe("");
      // A ticket they acted on shows every entry on it, whoever wrote it (here by each of the three roles).
      const onTicket = newestFirst(dataset.filter((e) => e.ticketId === "2000" && e.action === "user.suspend"));
      expect(new Set(dataset.filter((e) => onTicket.includes(e.seq)).map((e) => e.actor.staffId)).size).toBe(3);
      expect((await search({ ticketId: "2000", action: "user.suspend" }, auth)).entries.map((e) => e.seq)).toEqual(onTicket);
    }
    for (const auth of [ops, admin]) expect((await search({ ticketId: "2999" }, auth)).entries.map((e) => e.seq)).toEqual([elsewhere.seq]);
  });

  it("records one audit.search entry per search, with the ticket and the filters", async () => {
    const res = await request(app)
      .get("/api/audit")
      .query({ ticketId: "2001", limit: "2" })
      .set("Authorization", reader)
      .set("X-Ticket-Id", "1007")
      .set("X-Request-Id", "req-audit-search-1")
      .expect(200);
    expect(res.body.entries.length).toBe(2);
    const own = await deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", "req-audit-search-1").execute();
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({
      action: "audit.search",
      actor_staff_id: "stf_demo_read",
      actor_role: "support_read_only",
      ticket_id: "1007",
      target_type: "audit",
      outcome: "succeeded",
      after: { filters: { ticketId: "2001" }, cursor: null, returned: 2 },
    });
    // Reading the log does not add entries about reading the log beyond that one.
    const after = await deps.database.db.selectFrom("audit_log").select(({ fn }) => fn.countAll<number>().as("n")).where("request_id", "=", "req-audit-search-1").executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(1);
  });

  it("exports CSV, streamed, with the file name and safe cells", async () => {
    const res = await request(app).get("/api/audit/export").query({ format: "csv", to: new Date(START + 60 * MINUTE).toISOString() }).set("Authorization", reader).expect(200);
    expect(res.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(res.headers["content-disposition"]).toMatch(/^attachment; filename="steward-audit-[0-9T-]+Z\.csv"$/);
    expect(res.headers["transfer-encoding"]).toBe("chunked");
    const { parseCsv } = await import("./http.js");
    const [header, ...rows] = parseCsv(res.text);
    expect(header?.slice(0, 3)).toEqual(["seq", "id", "occurred_at"]);
    expect(header).toEqual([
      ...["seq", "id", "occurred_at", "actor_staff_id", "actor_zendesk_user_id", "actor_email", "actor_role", "actor_system", "action"],
      ...["target_type", "target_id", "target_account_id", "ticket_id", "reason", "outcome", "error", "request_id", "operation_id"],
      ...["before", "after", "ticket_snapshot", "approval", "mac", "chain_seq", "chain_prev_hash", "chain_hash", "chain_entry_hash"],
    ]);
    expect(rows.map((r) => Number(r[0]))).toEqual(newestFirst(dataset));
    const col = (name: string) => header?.indexOf(name) ?? -1;
    const row13 = rows.find((r) => r[0] === "14");
    expect(row13?.[col("reason")]).toBe('He said "refund, now"\nthen hung up');
    expect(row13?.[col("before")]).toBe('{"n":13}');
    expect(rows.find((r) => r[0] === "15")?.[col("reason")]).toBe(`'=HYPERLINK("http://evil.test")`);
    expect(rows.find((r) => r[0] === "1")?.[col("mac")]).toBe(dataset[0]?.mac);
  });

  it("exports NDJSON that verifies line by line, as a snapshot without its own entry", async () => {
    const head = await deps.database.db.selectFrom("audit_log").select("seq").orderBy("seq", "desc").limit(1).executeTakeFirstOrThrow();
    const res = await request(app).get("/api/audit/export").query({ format: "ndjson" }).set("Authorization", ops).set("X-Ticket-Id", "1003").expect(200);
    expect(res.headers["content-type"]).toBe("application/x-ndjson; charset=utf-8");
    expect(res.headers["content-disposition"]).toMatch(/filename="steward-audit-.+\.ndjson"/);
    const lines = res.text.trimEnd().split("\n").map((l) => JSON.parse(l) as AuditEntry);
    expect(lines.map((e) => e.seq)).toEqual(Array.from({ length: head.seq }, (_, i) => head.seq - i));
    for (const entry of lines) expect(entryMac(TEST_AUDIT_KEYS, entry)).toBe(entry.mac);
    const own = await deps.database.db.selectFrom("audit_log").selectAll().where("action", "=", "audit.export").orderBy("seq", "desc").limit(1).executeTakeFirstOrThrow();
    expect(own).toMatchObject({ seq: head.seq + 1, actor_staff_id: "stf_demo_ops", ticket_id: "1003", after: { filters: {}, format: "ndjson", throughSeq: head.seq } });
  });

  it("streams an export larger than one batch", { timeout: 120_000 }, async () => {
    await deps.database.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 2100; i++) await appendAudit(trx, { ...datasetEntry(i), action: "seats.reclaim", reason: `bulk ${i}` }, deps.clock);
    });
    const res = await request(app).get("/api/audit/export").query({ format: "ndjson", action: "seats.reclaim" }).set("Authorization", admin).expect(200);
    const lines = res.text.trimEnd().split("\n");
    expect(lines).toHaveLength(2100);
    expect(new Set(lines.map((l) => (JSON.parse(l) as AuditEntry).seq)).size).toBe(2100);
  });

  it("documents the audit routes in the OpenAPI document", async () => {
    const doc = (await request(app).get("/api/openapi.json").expect(200)).body as { paths: Record<string, Record<string, { parameters: { name: string }[]; responses: Record<string, { content?: Record<string, unknown> }> }>> };
    const names = doc.paths["/api/audit"]?.get?.parameters.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(["actor", "action", "targetAccountId", "targetUserId", "ticketId", "outcome", "from", "to", "cursor", "limit", "X-Ticket-Id"]));
    expect(Object.keys(doc.paths["/api/audit/export"]?.get?.responses["200"]?.content ?? {})).toEqual(["text/csv", "application/x-ndjson"]);
    expect(doc.paths["/api/audit/verify"]?.get?.responses["403"]).toBeDefined();
  });

  it("needs format for export", async () => {
    const res = await request(app).get("/api/audit/export").set("Authorization", admin).expect(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain("query.format");
  });

  it("lets only admins verify; a refusal names the role and is audited as denied", async () => {
    const refused = await request(app).get("/api/audit/verify").set("Authorization", ops).set("X-Request-Id", "req-verify-denied").expect(403);
    expect(JSON.stringify(refused.body)).toContain("audit.verify");
    expect(JSON.stringify(refused.body)).toContain("admin");
    const denied = await deps.database.db.selectFrom("audit_log").selectAll().where("request_id", "=", "req-verify-denied").execute();
    expect(denied).toMatchObject([{ action: "audit.verify", outcome: "denied", actor_staff_id: "stf_demo_ops" }]);

    const ok = await request(app).get("/api/audit/verify").query({ full: "true" }).set("Authorization", admin).expect(200);
    expect(ok.body).toMatchObject({ ok: true, mode: "full", unsealed: 0, breaks: [] });
    expect(ok.body.entries).toBeGreaterThanOrEqual(dataset.length);
    // The next one starts from the head that one recorded.
    const incremental = await request(app).get("/api/audit/verify").set("Authorization", admin).expect(200);
    expect(incremental.body).toMatchObject({ ok: true, mode: "incremental", fromSeq: ok.body.headSeq });

    await asSuperuser(deps.database.db, (db) => sql`update audit_log set ticket_id = '9999' where seq = 42`.execute(db));
    await asSuperuser(deps.database.db, (db) => sql`update audit_log set reason = 'quietly' where seq = 7`.execute(db));
    try {
      const broken = await request(app).get("/api/audit/verify").query({ full: "true" }).set("Authorization", admin).expect(200);
      expect(broken.body).toMatchObject({ ok: false, breaks: [{ brokenAt: 7, reason: "changed" }, { brokenAt: 42, reason: "changed" }] });
      expect(broken.body.breaks[1].entryId).toBe(dataset[41]?.id);
    } finally {
      // The dataset as it was, for the tests that run after this one.
      await asSuperuser(deps.database.db, (db) => sql`update audit_log set ticket_id = ${dataset[41]!.ticketId} where seq = 42`.execute(db));
      await asSuperuser(deps.database.db, (db) => sql`update audit_log set reason = ${dataset[6]!.reason} where seq = 7`.execute(db));
    }
    const own = await deps.database.db.selectFrom("audit_log").select("after").where("action", "=", "audit.verify").where("outcome", "=", "succeeded").orderBy("seq", "desc").limit(1).executeTakeFirstOrThrow();
    expect(own.after).toMatchObject({ result: { ok: false, breaks: 2, brokenAt: 7, reason: "changed" } });
  });
});
