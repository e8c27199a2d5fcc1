import { CompiledQuery, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOOKUP_ACTIONS } from "../../../shared/flags.js";
import { flagCondition } from "../../src/console/flagSql.js";
import { explorerQuery } from "../../src/console/explorer.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";

type Deps = Awaited<ReturnType<typeof createTestDeps>>;

/**
 * Migration 031 spells out the lookup actions in an index predicate; these tests keep it in step with the
 * code and show that flag's newest-first page uses the index. The stored flags (migration 035) page
 * through their own index instead, checked at the end.
 */
const cases = [{ flag: "lookup_without_ticket", index: "audit_log_lookup_no_ticket_idx", actions: [...LOOKUP_ACTIONS] }] as const;

describe.each(databaseKinds)("the console flags' indexes on %s", (kind) => {
  let deps: Deps;
  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: false });
  }, 180_000);
  afterAll(async () => {
    await deps.database.close();
  });

  it.each(cases)("$index covers exactly the actions $flag reads", async ({ index, actions }) => {
    const { rows } = await sql<{ indexdef: string }>`select indexdef from pg_indexes where indexname = ${index}`.execute(deps.database.db);
    expect(rows).toHaveLength(1);
    const named = [...(rows[0]?.indexdef ?? "").matchAll(/'([a-z_]+\.[a-z_]+)'/g)].map((m) => m[1]).sort();
    expect(named).toEqual([...actions].sort());
  });

  it.each(cases)("$flag's newest-first page goes through $index", async ({ flag, index }) => {
    const hours = { timeZone: "UTC", days: [1, 2, 3, 4, 5], startMinute: 480, endMinute: 1080 };
    const where = flagCondition(flag, hours);
    // An empty log is planned as a scan of nothing; without seq scans the planner shows which index it would use.
    const plan = await deps.database.db.transaction().execute(async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      return sql<{ "QUERY PLAN": string }>`explain select seq from audit_log where ${where} order by occurred_at desc, seq desc limit 51`.execute(trx);
    });
    const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
    // Each month's partition has its own copy of the index, attached to the parent index.
    const copies = await sql<{ relname: string }>`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = ${index}::regclass`.execute(deps.database.db);
    const used = [...text.matchAll(/(?:Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (\S+)/g)].map((m) => m[1]);
    expect(used.length, text).toBeGreaterThan(0);
    expect(used.every((name) => copies.rows.some((c) => c.relname === name)), text).toBe(true);
  });

  it("a stored flag's page walks audit_flag's index and joins each flag to its entry", async () => {
    const hours = { timeZone: "UTC", days: [1, 2, 3, 4, 5], startMinute: 480, endMinute: 1080 };
    const page = explorerQuery(deps.database.db, { flag: "cap_edge" }, { visibility: { kind: "all" }, hours }, "desc", null, 51).compile();
    const plan = await deps.database.db.transaction().execute(async (trx) => {
      // An empty table is planned as "read it all and sort"; with those off the planner shows its ordered plan, if it has one.
      await sql`set local enable_seqscan = off`.execute(trx);
      await sql`set local enable_bitmapscan = off`.execute(trx);
      await sql`set local enable_sort = off`.execute(trx);
      return trx.executeQuery<{ "QUERY PLAN": string }>(CompiledQuery.raw(`explain ${page.sql}`, [...page.parameters]));
    });
    const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
    expect(text).toMatch(/Index (Only )?Scan using audit_flag_page_idx on audit_flag/);
    // The walk is in the index's order: no sort of all the flags before the limit (a sort would still show, at a prohibitive cost).
    expect(text).not.toMatch(/Sort/);
  });
});
