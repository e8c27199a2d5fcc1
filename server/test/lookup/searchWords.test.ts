import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as searchWords from "../../src/db/migrations/022_search_words.js";
import { databaseKinds } from "../support/databases.js";
import { addAccount, addUser, lookupTestDeps, SETUP_TIMEOUT_MS, type TestDeps } from "./fixtures.js";

describe.each(databaseKinds)("migration 022_search_words on %s", (kind) => {
  let deps: TestDeps;
  const wordsOf = async (id: string) =>
    (await sql<{ w: string }>`select source || ':' || term as w from search_words where id = ${id} order by 1`.execute(deps.database.db)).rows.map((r) => r.w);
  const everything = async () =>
    (await sql<{ w: string }>`select source || ':' || term || ':' || id as w from search_words order by 1`.execute(deps.database.db)).rows.map((r) => r.w);

  beforeAll(async () => {
    deps = await lookupTestDeps(kind);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await deps.database.close();
  });

  it("follows inserts, renames and deletes of users and accounts", async () => {
    const db = deps.database.db;
    await addAccount(db, { id: "acc_w_1", name: "Fjord Pastry Co", domain: "fjord-pastry.example" });
    await addUser(db, { id: "usr_w_1", account_id: "acc_w_1", email: "Zoë.Lund@fjord-pastry.example", name: "Zoë Lund" });
    expect(await wordsOf("acc_w_1")).toEqual(["ad:example", "ad:fjord", "ad:pastry", "an:co", "an:fjord", "an:pastry"]);
    expect(await wordsOf("usr_w_1")).toEqual(["ue:example", "ue:fjord", "ue:lund", "ue:pastry", "ue:zoe", "un:lund", "un:zoe"]);

    await db.updateTable("users").set({ name: "Zoë Berg" }).where("id", "=", "usr_w_1").execute();
    expect(await wordsOf("usr_w_1")).toEqual(["ue:example", "ue:fjord", "ue:lund", "ue:pastry", "ue:zoe", "un:berg", "un:zoe"]);

    await db.deleteFrom("users").where("id", "=", "usr_w_1").execute();
    await db.deleteFrom("accounts").where("id", "=", "acc_w_1").execute();
    expect(await wordsOf("usr_w_1")).toEqual([]);
    expect(await wordsOf("acc_w_1")).toEqual([]);
  });

  it("leaves search's GIN indexes without a pending list to scan", async () => {
    const { rows } = await sql<{ name: string; options: string[] | null }>`
      select c.relname as name, c.reloptions as options from pg_class c join pg_am am on am.oid = c.relam
      where am.amname = 'gin' and c.relname in ('search_terms_trgm_idx', 'users_search_name_words_idx', 'users_search_email_words_idx', 'accounts_search_name_words_idx', 'accounts_search_domain_words_idx')
      order by 1`.execute(deps.database.db);
    expect(rows).toHaveLength(5);
    for (const row of rows) expect(row.options).toContain("fastupdate=off");
  });

  it("rebuilds from the existing rows exactly what the triggers built", async () => {
    const fromTriggers = await everything();
    expect(fromTriggers.length).toBeGreaterThan(100);
    const db = deps.database.db as unknown as Kysely<unknown>;
    await searchWords.down(db);
    expect((await sql<{ t: string | null }>`select to_regclass('search_words')::text as t`.execute(deps.database.db)).rows[0]?.t).toBeNull();
    await searchWords.up(db);
    expect(await everything()).toEqual(fromTriggers);
  });
});
