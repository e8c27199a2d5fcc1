import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOOKUP_ACTIONS } from "../../../shared/flags.js";
import { flagCondition } from "../../src/console/flagSql.js";
import { cappedActions } from "../../src/staff/caps.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";

type Deps = Awaited<ReturnType<typeof createTestDeps>>;

/**
 * Migrations 031 and 032 spell out action lists in index predicates (the lookup actions, the capped
 * actions); these tests keep them in step with the code and show each flag's newest-first page uses its index.
 */
const cases = [
  { flag: "lookup_without_ticket", index: "audit_log_lookup_no_ticket_idx", actions: [...LOOKUP_ACTIONS] },
  { flag: "cap_edge", index: "audit_log_cap_edge_idx", actions: [...cappedActions] },
] as const;

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
});
