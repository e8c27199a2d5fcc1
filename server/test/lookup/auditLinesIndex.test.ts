import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureAuditPartitions } from "../../src/audit/sealer.js";
import type { Database } from "../../src/db/database.js";
import { accountChangesSql, loadAccountAuditLines, READ_ACTIONS } from "../../src/lookup/accountHistory.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";
import { HOOK_TIMEOUT } from "../audit/fixtures.js";

const BUSY = "acc_busy";
const LOOKUPS = 3000;
/** The changes, at these places among the busy account's lookups (1-based). */
const CHANGES_AT = [5, 700, 1500, 2200, 2999];

describe.each(databaseKinds)("an account's audit lines on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const db = database.db;
    await ensureAuditPartitions(db, new Date());
    // Entries as the log holds them (seq and tx stamped by its trigger): a busy account looked up thousands
    // of times, with a few changes among the lookups, and another account beside it. No MACs are checked here.
    await sql`insert into audit_log (id, occurred_at, actor_staff_id, actor_role, action, target_type, target_id, target_account_id, ticket_id, outcome, mac)
      select gen_random_uuid(), now() - make_interval(secs => ${LOOKUPS} - i), 'stf_demo_full', 'support_full',
             case when i = any(${CHANGES_AT}::int[]) then 'user.suspend' else (array[${sql.join(READ_ACTIONS.map((a) => sql.lit(a)))}])[1 + i % ${READ_ACTIONS.length}] end,
             'user', 'usr_busy', case when i % 7 = 0 then 'acc_other' else ${BUSY} end, '1001', 'succeeded', repeat('0', 64)
      from generate_series(1, ${LOOKUPS}) as i`.execute(db);
    await sql`analyze audit_log`.execute(db);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await database.close();
  }, HOOK_TIMEOUT);

  it("are the account's changes only, newest first", async () => {
    const lines = await loadAccountAuditLines(database.db, BUSY, 10);
    const expected = CHANGES_AT.filter((i) => i % 7 !== 0).reverse();
    expect(lines.map((l) => l.action)).toEqual(expected.map(() => "user.suspend"));
    const seqs = lines.map((l) => l.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
  });

  // Lookups are most of an account's entries: read through the account index, every one of them was read for ten changes.
  it("are read through the index of changes, whatever reads the account has had", async () => {
    const { rows } = await sql<{ "QUERY PLAN": unknown }>`explain (format json) ${accountChangesSql(BUSY, 10)}`.execute(database.db);
    const plan = JSON.stringify(rows[0]?.["QUERY PLAN"]);
    // Each month's partition has its own copy of the index, named after it.
    expect(plan).toMatch(/account_changes|target_account_id_seq_idx/);
    expect(plan).not.toMatch(/target_account_id_occurred_at_seq_idx/);
  });
});
