import request from "supertest";
import { CompiledQuery, sql } from "kysely";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../../shared/audit.js";
import { AuditPage } from "../../../shared/schemas/audit.js";
import { ConsolePage } from "../../../shared/schemas/console.js";
import { createApp } from "../../src/app.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import { actorCondition } from "../../src/audit/auditQuery.js";
import type { ManualClock } from "../../src/clock.js";
import { explorerQuery } from "../../src/console/explorer.js";
import type { AppDeps } from "../../src/deps.js";
import { fillAuditLog } from "../support/auditFill.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";
import { agent, HOOK_TIMEOUT, writeEntry } from "./fixtures.js";
import { bearerFor } from "./http.js";

/**
 * The actor filter takes an email as one address in any case and either Unicode form (emailKey: NFC, then
 * lower case), whichever spelling the entry was written with: actor_email keeps the token's spelling.
 */
const COMPOSED = "zo\u00eb.adams@steward.test";
const DECOMPOSED_UPPER = "ZOE\u0308.ADAMS@STEWARD.TEST";
const UNACCENTED = "zoe.adams@steward.test";

const FILLED = 20_000;

describe.each(databaseKinds)("audit actor filter by email on %s", (kind) => {
  let deps: AppDeps & { clock: ManualClock };
  let app: Express;
  let admin: string;
  let window: { from: string; to: string };
  const written: Record<string, AuditEntry> = {};

  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: true });
    app = createApp(deps);
    const now = deps.clock.now().getTime();
    // Other agents' entries around them, so the filter has something to leave out and the planner a real table.
    await fillAuditLog(deps.database.db, FILLED, { start: new Date(now - FILLED * 5_000 - 3_600_000), stepMs: 5_000 });
    await deps.database.db.transaction().execute(async (trx) => {
      for (const [i, email] of [COMPOSED, DECOMPOSED_UPPER, UNACCENTED].entries()) {
        deps.clock.set(new Date(now - 60_000 + i * 1_000));
        written[email] = await appendAudit(trx, writeEntry({ actor: { ...agent(10 + i), email } }), deps.clock);
      }
    });
    window = { from: new Date(now - 120_000).toISOString(), to: new Date(now).toISOString() };
    deps.clock.set(new Date(now + 60_000));
    await sql`analyze audit_log`.execute(deps.database.db);
    admin = await bearerFor(deps, "admin");
  }, HOOK_TIMEOUT * 2);
  afterAll(async () => {
    await deps?.database.close();
  }, HOOK_TIMEOUT);

  const seqsOf = (...emails: string[]) => emails.map((e) => written[e]?.seq).sort((a, b) => (b ?? 0) - (a ?? 0));
  const ndjsonSeqs = (text: string) =>
    text
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { seq: number }).seq);
  const body = (res: request.Test) =>
    res.buffer(true).parse((r, cb) => {
      let text = "";
      r.on("data", (c: Buffer) => (text += c.toString()));
      r.on("end", () => cb(null, text));
    });

  const spellings: [string, string, string[]][] = [
    ["decomposed, lower case", "zoe\u0308.adams@steward.test", [COMPOSED, DECOMPOSED_UPPER]],
    ["composed, upper case", "ZO\u00cb.ADAMS@STEWARD.TEST", [COMPOSED, DECOMPOSED_UPPER]],
    ["composed, mixed case", "Zo\u00eb.Adams@Steward.Test", [COMPOSED, DECOMPOSED_UPPER]],
    ["without the accent (another address)", "ZOE.ADAMS@steward.test", [UNACCENTED]],
  ];

  it.each(spellings)("the audit search and its export find an actor spelled %s", async (_, actor, expected) => {
    const res = await request(app).get("/api/audit").query({ actor, ...window, limit: "50" }).set("Authorization", admin).expect(200);
    expect(AuditPage.parse(res.body).entries.map((e) => e.seq)).toEqual(seqsOf(...expected));
    const exported = await body(request(app).get("/api/audit/export").query({ format: "ndjson", actor, ...window }).set("Authorization", admin)).expect(200);
    expect(ndjsonSeqs(String(exported.body))).toEqual(seqsOf(...expected));
  });

  it.each(spellings)("the console's explorer and its export find an actor spelled %s", async (_, actor, expected) => {
    const res = await request(app).get("/api/console/entries").query({ actor, ...window, limit: "50" }).set("Authorization", admin).expect(200);
    expect(ConsolePage.parse(res.body).entries.map((e) => e.seq)).toEqual(seqsOf(...expected));
    const exported = await body(request(app).get("/api/console/export").query({ format: "ndjson", actor, ...window }).set("Authorization", admin)).expect(200);
    expect(ndjsonSeqs(String(exported.body))).toEqual(seqsOf(...expected));
  });

  it("a cursor from one spelling continues under another spelling of the same address", async () => {
    const first = AuditPage.parse((await request(app).get("/api/audit").query({ actor: "zoe\u0308.adams@steward.test", ...window, limit: "1" }).set("Authorization", admin).expect(200)).body);
    expect(first.entries.map((e) => e.seq)).toEqual([written[DECOMPOSED_UPPER]?.seq]);
    const cursor = first.nextCursor ?? "";
    const next = AuditPage.parse((await request(app).get("/api/audit").query({ actor: "ZO\u00cb.ADAMS@steward.test", ...window, limit: "1", cursor }).set("Authorization", admin).expect(200)).body);
    expect(next.entries.map((e) => e.seq)).toEqual([written[COMPOSED]?.seq]);
  });

  it("an email search walks the actor-email index of each month, newest first, without sorting", async () => {
    const { db } = deps.database;
    const hours = { timeZone: "UTC", days: [1, 2, 3, 4, 5], startMinute: 480, endMinute: 1080 };
    const audit = db
      .selectFrom("audit_log")
      .selectAll()
      .where((eb) => eb.and(actorCondition(eb, "AGENT7@FILL.TEST")))
      .orderBy("occurred_at", "desc")
      .orderBy("seq", "desc")
      .limit(51)
      .compile();
    const explorer = explorerQuery(db, { actor: "Agent7@Fill.test" }, { visibility: { kind: "all" }, hours }, "desc", null, 51).compile();
    const copies = await sql<{ relname: string }>`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'audit_log_actor_email_key_idx'::regclass`.execute(db);
    for (const compiled of [audit, explorer]) {
      const found = await db.executeQuery(compiled);
      expect(found.rows).toHaveLength(51);
      // The filled table as it stands (analyzed, 1 in 50 entries by this agent): the planner's own choice.
      const plan = await db.executeQuery<{ "QUERY PLAN": string }>(CompiledQuery.raw(`explain ${compiled.sql}`, [...compiled.parameters]));
      const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
      const used = [...text.matchAll(/Index (?:Only )?Scan(?: Backward)? using (\S+)/g)].map((m) => m[1]);
      expect(used.length, text).toBeGreaterThan(0);
      expect(used.every((name) => copies.rows.some((c) => c.relname === name)), text).toBe(true);
      expect(text).not.toMatch(/Sort|Seq Scan/);
    }
  });
});
