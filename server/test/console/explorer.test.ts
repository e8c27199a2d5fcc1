import { sql } from "kysely";
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlagId } from "../../../shared/flags.js";
import { ConsoleEntryView, ConsoleFilters, ConsoleOverview, ConsolePage, type FlaggedEntry } from "../../../shared/schemas/console.js";
import type { TicketSnapshot } from "../../../shared/schemas/ticket.js";
import { createApp } from "../../src/app.js";
import { appendAudit, type AuditInput } from "../../src/audit/auditLog.js";
import { cursorBinding } from "../../src/audit/auditQuery.js";
import { sealPending } from "../../src/audit/sealer.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import type { ManualClock } from "../../src/clock.js";
import { explorerPage } from "../../src/console/explorer.js";
import { flagPending } from "../../src/console/flagger.js";
import { parseWorkingHours } from "../../src/console/workingHours.js";
import type { AppDeps } from "../../src/deps.js";
import { agent, asSuperuser, HOOK_TIMEOUT } from "../audit/fixtures.js";
import { bearerFor, demoActor, parseCsv, type DemoRole } from "../audit/http.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";

const ACTORS: DemoRole[] = ["support_read_only", "support_full", "operations"];
const ACTIONS = ["user.suspend", "billing.credit_apply", "account.suspend", "context.view", "seats.expand_temporarily"] as const;
const OUTCOMES = ["succeeded", "failed", "denied", "unknown", "pending"] as const;
const START = Date.parse("2026-03-02T09:00:00.000Z"); // a Monday, inside the default working hours
const MINUTE = 60_000;

/** The ticket snapshot the write path records once Zendesk confirmed the ticket's requester is the target. */
function checkedSnapshot(ticketId: string): TicketSnapshot {
  const requester = { id: "1", email: "owner@example.test", externalId: null, organizationId: null, name: "Owner" };
  return { id: ticketId, subject: "Help", status: "open", requester, assigneeId: null, match: "email", overrideReason: null, fetchedAt: "2026-03-01T00:00:00.000Z" };
}

function datasetEntry(i: number): AuditInput {
  return {
    actor: demoActor(ACTORS[i % 3] ?? "support_full"),
    action: ACTIONS[i % 5] ?? "user.suspend",
    target: i % 2 === 0 ? { type: "user", id: `usr_c_${i % 6}`, accountId: `acc_c_${i % 4}` } : { type: "account", id: `acc_c_${i % 4}`, accountId: `acc_c_${i % 4}` },
    ticketId: String(3000 + (i % 7)),
    // Writes carry the snapshot of their checked ticket; lookups only the ticket id the client sent.
    ...(ACTIONS[i % 5] === "context.view" ? {} : { ticketSnapshot: checkedSnapshot(String(3000 + (i % 7))) }),
    reason: `case ${i}`,
    before: { status: "active", n: i, nested: { keep: 1, gone: true } },
    after: { status: "suspended", n: i, nested: { keep: 1, added: "x" } },
    outcome: OUTCOMES[i % 5] ?? "succeeded",
  };
}

describe.each(databaseKinds)("console explorer API on %s", (kind) => {
  let deps: AppDeps & { clock: ManualClock };
  let app: Express;
  let admin: string;
  let reader: string;
  const dataset: FlaggedEntry[] = [];

  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: true });
    app = createApp(deps);
    await deps.database.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 50; i++) {
        deps.clock.set(new Date(START + i * MINUTE));
        dataset.push({ ...(await appendAudit(trx, datasetEntry(i), deps.clock)), flags: [] });
      }
    });
    deps.clock.set(new Date(START + 100 * MINUTE));
    [admin, reader] = await Promise.all([bearerFor(deps, "admin"), bearerFor(deps, "support_read_only")]);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await deps.database.close();
  }, HOOK_TIMEOUT);

  const newestFirst = (entries: { seq: number }[]) => [...entries].sort((a, b) => b.seq - a.seq).map((e) => e.seq);
  const list = async (query: Record<string, string>, auth = admin) => {
    const res = await request(app).get("/api/console/entries").query({ limit: "200", ...query }).set("Authorization", auth).expect(200);
    return ConsolePage.parse(res.body);
  };
  // Every page of a filter: other tests write newer entries that would push the data set off a first page.
  const listAll = async (query: Record<string, string>, auth = admin) => {
    const entries: ConsolePage["entries"] = [];
    let cursor: string | null = null;
    do {
      const page: ConsolePage = await list({ ...query, ...(cursor ? { cursor } : {}) }, auth);
      entries.push(...page.entries);
      cursor = page.nextCursor;
    } while (cursor);
    return { entries };
  };
  const inDataset = (page: { entries: { seq: number }[] }) => page.entries.filter((e) => e.seq <= 50).map((e) => e.seq);

  it("filters by agent, action, action group, every outcome, ticket, account, user and date range", async () => {
    const cases: [Record<string, string>, (e: FlaggedEntry) => boolean][] = [
      [{ actor: "stf_demo_full" }, (e) => e.actor.staffId === "stf_demo_full"],
      [{ actor: (demoActor("operations").email ?? "").toUpperCase() }, (e) => e.actor.staffId === demoActor("operations").staffId],
      [{ action: "billing.credit_apply" }, (e) => e.action === "billing.credit_apply"],
      [{ group: "user" }, (e) => e.action.startsWith("user.")],
      [{ group: "seats" }, (e) => e.action.startsWith("seats.")],
      ...OUTCOMES.map((o): [Record<string, string>, (e: FlaggedEntry) => boolean] => [{ outcome: o }, (e) => e.outcome === o]),
      [{ ticketId: "3004" }, (e) => e.ticketId === "3004"],
      [{ targetAccountId: "acc_c_1" }, (e) => e.target.accountId === "acc_c_1"],
      [{ targetUserId: "usr_c_2" }, (e) => e.target.type === "user" && e.target.id === "usr_c_2"],
      [{ from: new Date(START + 10 * MINUTE).toISOString(), to: new Date(START + 20 * MINUTE).toISOString() }, (e) => e.seq >= 11 && e.seq <= 20],
    ];
    for (const [query, keep] of cases) {
      const expected = newestFirst(dataset.filter(keep));
      expect(expected.length, JSON.stringify(query)).toBeGreaterThan(0);
      expect(inDataset(await listAll(query)), JSON.stringify(query)).toEqual(expected);
    }
  });

  it("answers bad filters with a 400 naming the field", async () => {
    // Cursors bound to their query, so only their instant is wrong.
    const bound = (order: "asc" | "desc", f: Record<string, string>) => cursorBinding("console", order, f, Object.keys(ConsoleFilters.shape));
    for (const [query, field] of [
      [{ group: "nope" }, "query.group"],
      [{ flag: "nope" }, "query.flag"],
      [{ outcome: "maybe" }, "query.outcome"],
      [{ order: "sideways" }, "query.order"],
      [{ from: "yesterday" }, "query.from"],
      // Instants outside years 0001–9999 UTC, as a date or in a cursor, newest or oldest first, through a flag's index too (were 500s).
      [{ from: "0000-01-01T00:00:00+01:00" }, "query.from"],
      [{ to: "9999-12-31T23:59:59-12:00" }, "query.to"],
      [{ cursor: Buffer.from(`at2:-271821-04-20T00:00:00.000Z|1|${bound("desc", {})}`).toString("base64url") }, "query.cursor"],
      [{ order: "asc", cursor: Buffer.from(`at2:+275760-09-13T00:00:00.000Z|1|${bound("asc", {})}`).toString("base64url") }, "query.cursor"],
      [{ flag: "ticket_mismatch", order: "asc", cursor: Buffer.from(`at2:-000100-01-01T00:00:00.000Z|1|${bound("asc", { flag: "ticket_mismatch" })}`).toString("base64url") }, "query.cursor"],
    ] as const) {
      const res = await request(app).get("/api/console/entries").query(query).set("Authorization", admin).expect(400);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(JSON.stringify(res.body.errors)).toContain(field);
    }
  });

  it("says a number's bound when it is out of range, and 'expected a number' only of text that is none", async () => {
    // (A schema-wide message once answered limit=0, limit=500 and days=91 with "expected a number".)
    for (const [path, query, field, reason] of [
      ["/api/console/entries", { limit: "0" }, "query.limit", />=\s*1\b/],
      ["/api/console/entries", { limit: "500" }, "query.limit", /<=\s*200\b/],
      ["/api/console/entries", { limit: "2.5" }, "query.limit", /^expected a whole number$/],
      ["/api/console/entries", { limit: "ten" }, "query.limit", /^expected a number$/],
      ["/api/console/overview", { days: "91" }, "query.days", /<=\s*90\b/],
      ["/api/audit", { limit: "0" }, "query.limit", />=\s*1\b/],
      ["/api/console/entries/0", {}, "params.seq", />\s*0\b/],
      ["/api/console/entries/abc", {}, "params.seq", /^expected an entry number$/],
    ] as const) {
      const res = await request(app).get(path).query(query).set("Authorization", admin).expect(400);
      const error = (res.body.errors as { field: string; reason: string }[]).find((e) => e.field === field);
      expect(error?.reason, `${path} ${JSON.stringify(query)}`).toMatch(reason);
    }
  });

  it("refuses a filter it does not know instead of answering unfiltered", async () => {
    for (const [path, key] of [
      ["/api/console/entries?ticket=3001", "ticket"],
      ["/api/console/entries?flags=cap_edge", "flags"],
      ["/api/console/export?format=ndjson&agent=stf_demo_full", "agent"],
      ["/api/console/overview?day=7", "day"],
    ] as const) {
      const res = await request(app).get(path).set("Authorization", admin).expect(400);
      expect(res.body.errors, path).toEqual([expect.objectContaining({ field: "query", code: "unrecognized_keys", params: { keys: key } })]);
    }
  });

  it("pages by keyset, newest first or oldest first (timelines), never repeating or skipping while others write", async () => {
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing && n < 150) await appendAudit(deps.database.db, { ...datasetEntry(0), reason: `concurrent ${n++}` }, deps.clock);
      return n;
    })();
    for (const order of ["desc", "asc"] as const) {
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const page: ConsolePage = await list({ group: "user", order, limit: "3", ...(cursor ? { cursor } : {}) });
        expect(page.entries.length).toBeLessThanOrEqual(3);
        seen.push(...page.entries.map((e) => e.seq));
        cursor = page.nextCursor;
      } while (cursor && seen.filter((s) => s <= 50).length < dataset.filter((e) => e.action.startsWith("user.")).length);
      const expected = newestFirst(dataset.filter((e) => e.action.startsWith("user.")));
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((s) => s <= 50)).toEqual(order === "desc" ? expected : [...expected].reverse());
    }
    writing = false;
    expect(await writer).toBeGreaterThan(0);
  });

  it("refuses a cursor reused with other filters or the other order, and records nothing", async () => {
    const first = await list({ group: "user", order: "desc", limit: "3" });
    const cursor = first.nextCursor ?? "";
    expect(cursor).not.toBe("");
    const count = async () => Number((await deps.database.db.selectFrom("audit_log").select(({ fn }) => fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);
    const before = await count();
    for (const query of [{ group: "billing", order: "desc" }, { group: "user", order: "asc" }, { group: "user", order: "desc", flag: "ticket_mismatch" }, { order: "desc" }]) {
      const res = await request(app).get("/api/console/entries").query({ ...query, cursor }).set("Authorization", admin).expect(400);
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(res.body.errors, JSON.stringify(query)).toEqual([{ field: "query.cursor", reason: expect.stringContaining("another query") }]);
    }
    // Nor does the audit search take the console's cursor.
    expect((await request(app).get("/api/audit").query({ cursor }).set("Authorization", admin).expect(400)).body.errors[0].field).toBe("query.cursor");
    expect(await count()).toBe(before);
    // The same query with another page size goes on.
    const next = await list({ group: "user", order: "desc", limit: "5", cursor });
    // Next in the list's order (newest first by time, then seq): times are the dataset's, not seq order.
    const [last, head] = [first.entries.at(-1), next.entries[0]];
    expect(last && head && (head.occurredAt < last.occurredAt || (head.occurredAt === last.occurredAt && head.seq < last.seq)), JSON.stringify({ last, head })).toBe(true);
  });

  it("goes on with a cursor when the next page spells the filters differently but compares the same, either order", async () => {
    // The email matches case-insensitively and the window bounds as instants: the cursor must agree with that.
    const email = demoActor("operations").email ?? "";
    const window = { from: new Date(START).toISOString(), to: new Date(START + 50 * MINUTE).toISOString() };
    const same = { from: "2026-03-02T10:00:00+01:00", to: "2026-03-02T09:50:00.000+00:00" };
    for (const order of ["desc", "asc"] as const) {
      const mine = newestFirst(dataset.filter((e) => e.actor.email === email));
      const expected = order === "desc" ? mine : [...mine].reverse();
      const first = await list({ actor: email.toLowerCase(), ...window, order, limit: "3" });
      expect(first.entries.map((e) => e.seq), order).toEqual(expected.slice(0, 3));
      const cursor = first.nextCursor ?? "";
      expect(cursor).not.toBe("");
      const next = await list({ actor: email.toUpperCase(), ...same, order, limit: "3", cursor });
      expect(next.entries.map((e) => e.seq), order).toEqual(expected.slice(3, 6));
      // A staff id is compared exactly, so another case is another query.
      const res = await request(app).get("/api/console/entries").query({ actor: demoActor("operations").staffId.toUpperCase(), ...window, order, cursor }).set("Authorization", admin).expect(400);
      expect(res.body.errors).toEqual([{ field: "query.cursor", reason: expect.stringContaining("another query") }]);
    }
  });

  it("shows support roles only their own entries and their tickets', and refuses other entries", async () => {
    const me = demoActor("support_read_only").staffId;
    // Only tickets checked for one of the reader's writes count; a lookup's ticket is whatever the client sent.
    const myTickets = new Set(dataset.filter((e) => e.actor.staffId === me && e.ticketSnapshot).map((e) => e.ticketId));
    const page = await listAll({}, reader);
    const expected = newestFirst(dataset.filter((e) => e.actor.staffId === me || myTickets.has(e.ticketId)));
    expect(inDataset(page)).toEqual(expected);
    // An entry of a ticket the reader never touched.
    await appendAudit(deps.database.db, { ...datasetEntry(1), ticketId: "3999" }, deps.clock);
    const hidden = await list({ ticketId: "3999" });
    const seq = hidden.entries[0]?.seq ?? 0;
    expect(seq).toBeGreaterThan(0);
    expect((await list({ ticketId: "3999" }, reader)).entries).toEqual([]);
    await request(app).get(`/api/console/entries/${seq}`).set("Authorization", reader).expect(404);
    await request(app).get(`/api/console/entries/${seq}`).set("Authorization", admin).expect(200);
  });

  it("shows one entry with the before → after diff, its ticket and its chain status", async () => {
    // An entry of its own, unsealed whatever ran before (the data set's may have been sealed already).
    const target = await appendAudit(deps.database.db, { ...datasetEntry(7), ticketSnapshot: null }, deps.clock);
    const view = async () => ConsoleEntryView.parse((await request(app).get(`/api/console/entries/${target.seq}`).set("Authorization", admin).expect(200)).body);
    const first = await view();
    expect(first.diff).toEqual([
      { path: "nested.added", change: "added", before: null, after: "x" },
      { path: "nested.gone", change: "removed", before: true, after: null },
      { path: "status", change: "changed", before: "active", after: "suspended" },
    ]);
    expect(first.ticket).toMatchObject({ id: target.ticketId, fromSnapshot: false });
    expect(first.chain).toMatchObject({ mac: "valid", status: "unsealed", chainSeq: null });
    await sealPending(deps.database.db, deps.auditKeys, { now: () => deps.clock.now() });
    expect((await view()).chain.status).toBe("sealed");
    // A verify mark written without the audit key does not make anything "verified".
    await asSuperuser(deps.database.db, (su) => sql`insert into audit_verified (chain_seq, head_hash, verified_at, mac) values (1000000, ${"0".repeat(64)}, now(), ${"f".repeat(64)})`.execute(su));
    expect((await view()).chain.status).toBe("sealed");
    const verified = await verifyAuditChain(deps.database.db, deps.auditKeys, { mode: "full", now: () => deps.clock.now() });
    expect(verified.ok).toBe(true);
    const after = await view();
    expect(after.chain).toMatchObject({ mac: "valid", status: "verified" });
    expect(after.chain.chainSeq).toBeGreaterThan(0);
    // A changed row no longer matches its MAC.
    await asSuperuser(deps.database.db, (su) => sql`update audit_log set reason = 'edited later' where seq = ${target.seq}`.execute(su));
    expect((await view()).chain.mac).toBe("invalid");
  });

  it("counts activity per agent and per action group over 30 days, and flags on the start screen", async () => {
    // The counts are kept as entries are sealed (a running server's sealer loop does this within a second).
    await sealPending(deps.database.db, deps.auditKeys, { now: () => deps.clock.now() });
    await flagPending(deps.database.db);
    // The overview's own audit entry comes after its counts: only entries up to the newest one now are counted.
    const newest = await deps.database.db.selectFrom("audit_log").select(sql<string>`max(seq)`.as("seq")).executeTakeFirstOrThrow();
    const res = await request(app).get("/api/console/overview").set("Authorization", admin).expect(200);
    const o = ConsoleOverview.parse(res.body);
    // Entries the flag tests date after the clock's day (if they ran first) are outside the 30 days.
    const countBefore = await deps.database.db
      .selectFrom("audit_log")
      .select(sql<string>`count(*)`.as("n"))
      .where("seq", "<=", Number(newest.seq))
      .where("occurred_at", ">=", new Date(o.from))
      .where("occurred_at", "<", new Date(o.to))
      .executeTakeFirstOrThrow();
    expect(Number(countBefore.n)).toBeGreaterThanOrEqual(dataset.length);
    expect(o.days).toHaveLength(30);
    expect(o.days.at(-1)).toBe(new Date(deps.clock.now()).toISOString().slice(0, 10));
    const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0);
    expect(sum(o.byGroup.flatMap((s) => s.counts))).toBe(Number(countBefore.n));
    const full = o.byAgent.find((s) => s.key === "stf_demo_full");
    const fullCount = await deps.database.db.selectFrom("audit_log").select(sql<string>`count(*)`.as("n")).where("actor_staff_id", "=", "stf_demo_full").where("seq", "<=", Number(newest.seq)).where("occurred_at", ">=", new Date(o.from)).where("occurred_at", "<", new Date(o.to)).executeTakeFirstOrThrow();
    expect(sum(full?.counts ?? [])).toBe(Number(fullCount.n));
    expect(o.flags.map((f) => f.id)).toContain("outside_hours");
  });

  it("exports the current filter as CSV and NDJSON with its size announced", async () => {
    const csv = await request(app).get("/api/console/export").query({ format: "csv", group: "billing", to: new Date(START + 60 * MINUTE).toISOString() }).set("Authorization", admin).expect(200);
    const expected = newestFirst(dataset.filter((e) => e.action.startsWith("billing.")));
    expect(csv.headers["x-export-total"]).toBe(String(expected.length));
    const records = parseCsv(csv.text);
    expect(records[0]?.[0]).toBe("seq");
    expect(records.slice(1).map((r) => Number(r[0]))).toEqual(expected);
    const nd = await request(app).get("/api/console/export").query({ format: "ndjson", ticketId: "3002", to: new Date(START + 60 * MINUTE).toISOString() }).set("Authorization", admin).buffer(true).parse((res, cb) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => cb(null, text));
    });
    const lines = String(nd.body).trim().split("\n").map((l) => JSON.parse(l) as { seq: number });
    expect(lines.map((l) => l.seq)).toEqual(newestFirst(dataset.filter((e) => e.ticketId === "3002")));
  });

  describe("flags: each rule raises on the case it describes and not on its near miss", () => {
    let n = 100;
    const flagged = async (flag: FlagId, actor: string) => {
      // Stored flags are written as entries are sealed (the sealer loop does this in a running server).
      await sealPending(deps.database.db, deps.auditKeys, { now: () => deps.clock.now() });
      await flagPending(deps.database.db);
      deps.clock.set(new Date(START + 100 * MINUTE)); // back to when the sessions were issued
      return (await list({ flag, actor })).entries.map((e) => e.reason);
    };
    const write = (over: Partial<AuditInput>) => appendAudit(deps.database.db, { actor: agent(n), action: "user.suspend", target: { type: "user", id: "usr_f", accountId: "acc_f" }, ticketId: "4000", outcome: "succeeded", ...over }, deps.clock);
    const at = (iso: string) => deps.clock.set(iso);

    it("lookup_without_ticket", async () => {
      n++;
      at("2026-03-04T10:00:00Z");
      await write({ action: "context.view", ticketId: null, reason: "raise" });
      await write({ action: "context.view", ticketId: "4001", reason: "miss" });
      expect(await flagged("lookup_without_ticket", `stf_test_${n}`)).toEqual(["raise"]);
    });

    it("lookup_burst", async () => {
      n++;
      for (let i = 0; i < 19; i++) {
        at(new Date(Date.parse("2026-03-04T10:00:00Z") + i * 2 * MINUTE).toISOString()); // 19 lookups over 36 minutes
        await write({ action: "search.run", target: { type: "search", id: null, accountId: null }, reason: `miss ${i}` });
      }
      expect(await flagged("lookup_burst", `stf_test_${n}`)).toEqual([]);
      n++;
      for (let i = 0; i < 20; i++) {
        at(new Date(Date.parse("2026-03-04T11:00:00Z") + i * 20_000).toISOString()); // 20 lookups in under 7 minutes
        await write({ action: "search.run", target: { type: "search", id: null, accountId: null }, reason: `burst ${i}` });
      }
      expect(await flagged("lookup_burst", `stf_test_${n}`)).toEqual(["burst 19"]);
    });

    it("repeated_denials", async () => {
      n++;
      for (const [i, minute] of [0, 50, 100].entries()) {
        at(new Date(Date.parse("2026-03-04T10:00:00Z") + minute * MINUTE).toISOString());
        await write({ outcome: "denied", error: "forbidden: no", reason: `spread ${i}` });
      }
      expect(await flagged("repeated_denials", `stf_test_${n}`)).toEqual([]);
      n++;
      for (const [i, minute] of [0, 20, 40].entries()) {
        at(new Date(Date.parse("2026-03-04T12:00:00Z") + minute * MINUTE).toISOString());
        await write({ outcome: "denied", error: "forbidden: no", reason: `close ${i}` });
      }
      expect(await flagged("repeated_denials", `stf_test_${n}`)).toEqual(["close 2"]);
    });

    it("cap_edge", async () => {
      n++;
      at("2026-03-04T10:00:00Z");
      await write({ action: "billing.credit_apply", target: { type: "account", id: "acc_f", accountId: "acc_f" }, after: { creditedCents: 4_500 }, reason: "near" });
      await write({ action: "billing.credit_apply", target: { type: "account", id: "acc_f", accountId: "acc_f" }, after: { creditedCents: 4_499 }, reason: "below" });
      await write({ action: "seats.expand_temporarily", target: { type: "account", id: "acc_f", accountId: "acc_f" }, after: { expansion: { seats: 5 } }, reason: "seats" });
      await write({ action: "billing.trial_extend", outcome: "denied", error: "over_cap: billing.trial_extend allows at most 14 days", reason: "over" });
      await write({ action: "billing.trial_extend", outcome: "denied", error: "forbidden: role too low", reason: "other denial" });
      // Entries since runCommand records the cap in force: any capped action, against the cap of its day.
      await write({ action: "billing.trial_extend", before: { cap: { value: 13, limit: 14, unit: "days" } }, reason: "trial near" });
      await write({ action: "user.elevate_temporarily", before: { cap: { value: 60, limit: 72, unit: "hours" } }, reason: "elevation below" });
      await write({ action: "impersonation.start", before: { cap: { value: 45, limit: 50, unit: "minutes" } }, reason: "raised cap near" });
      await write({ action: "impersonation.start", before: { cap: { value: "45", limit: 0, unit: "minutes" } }, reason: "malformed" });
      expect((await flagged("cap_edge", `stf_test_${n}`)).sort()).toEqual(["near", "over", "raised cap near", "seats", "trial near"]);
    });

    it("long_impersonation", async () => {
      n++;
      at("2026-03-04T10:00:00Z");
      await write({ action: "impersonation.stop", after: { impersonation: { durationSeconds: 31 * 60 } }, reason: "long" });
      await write({ action: "impersonation.stop", after: { impersonation: { durationSeconds: 30 * 60 } }, reason: "short" });
      await write({ action: "impersonation.event", after: { afterEnd: true }, reason: "late event" });
      await write({ action: "impersonation.event", after: { afterEnd: false }, reason: "live event" });
      expect((await flagged("long_impersonation", `stf_test_${n}`)).sort()).toEqual(["late event", "long"]);
    });

    it("outside_hours (in the configured time zone)", async () => {
      n++;
      at("2026-03-07T10:00:00Z"); // Saturday
      await write({ reason: "saturday" });
      // Picking the ticket's user changes nothing of the customer's: not a change out of hours.
      await write({ action: "context.pick", reason: "a pick" });
      at("2026-03-04T18:00:00Z"); // Wednesday, at the end of the day
      await write({ reason: "evening" });
      at("2026-03-04T17:59:00Z");
      await write({ reason: "working" });
      await write({ action: "context.view", reason: "a read", ticketId: null });
      at("2026-03-04T07:30:00Z"); // 08:30 in Berlin (winter time)
      await write({ reason: "early" });
      const actor = `stf_test_${n}`;
      expect((await flagged("outside_hours", actor)).sort()).toEqual(["early", "evening", "saturday"]);
      const berlin = { visibility: { kind: "all" as const }, hours: parseWorkingHours("mon-fri 08:00-18:00 Europe/Berlin") };
      const inBerlin = await explorerPage(deps.database.db, { actor, flag: "outside_hours" }, { order: "desc", limit: 50 }, berlin);
      // 17:59 and 18:00 UTC are 18:59 and 19:00 in Berlin; 07:30 UTC is 08:30 there.
      expect(inBerlin.entries.map((e) => e.reason).sort()).toEqual(["evening", "saturday", "working"]);
    });

    it("ticket_mismatch (from the entry's ticket snapshot)", async () => {
      n++;
      at("2026-03-04T10:00:00Z");
      const snapshot = (match: TicketSnapshot["match"]): TicketSnapshot => ({
        id: "4000",
        subject: "Locked out",
        status: "open",
        requester: { id: "900", email: "ann@example.test", externalId: null, organizationId: null, name: "Ann" },
        assigneeId: null,
        match,
        overrideReason: match === "override" ? "the requester wrote from a second address" : null,
        fetchedAt: "2026-03-04T10:00:00.000Z",
      });
      // Written with the entry (and MACed with it), as ticket verification records it.
      await write({ reason: "override", ticketSnapshot: snapshot("override") });
      const matched = await write({ reason: "email match", ticketSnapshot: snapshot("email") });
      expect(await flagged("ticket_mismatch", `stf_test_${n}`)).toEqual(["override"]);
      const view = ConsoleEntryView.parse((await request(app).get(`/api/console/entries/${matched.seq}`).set("Authorization", admin).expect(200)).body);
      expect(view.ticket).toEqual({ id: "4000", subject: "Locked out", status: "open", requester: { name: "Ann", email: "ann@example.test" }, match: "email", fromSnapshot: true });
      expect(view.entry.flags).toEqual([]);
      expect(view.chain.mac).toBe("valid");
    });
  });
});
