import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as searchMigration from "../../src/db/migrations/004_search.js";
import { databaseKinds } from "../support/databases.js";
import { lookupTestDeps, SETUP_TIMEOUT_MS, type TestDeps } from "./fixtures.js";

describe.each(databaseKinds)("migration 004_search on %s", (kind) => {
  let deps: TestDeps;
  const terms = async () => (await sql<{ term: string }>`select term from search_terms order by term`.execute(deps.database.db)).rows.map((r) => r.term);

  beforeAll(async () => {
    deps = await lookupTestDeps(kind);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await deps.database.close();
  });

  it("folds case and accents, and splits words, the way search expects", async () => {
    const { rows } = await sql<{ folded: string; words: string[] }>`select steward_fold('ZOË Müller-Søren') as folded, steward_words('  Zoë  Müller-Smith ') as words`.execute(deps.database.db);
    expect(rows[0]).toEqual({ folded: "zoe muller-soren", words: ["zoe", "muller", "smith"] });
  });

  it("collects the words of rows written after it, and of rows that were there before it", async () => {
    const fromTriggers = await terms();
    expect(fromTriggers).toEqual(expect.arrayContaining(["acme", "almeida", "casey", "consultant", "freelance", "zoe"]));
    const db = deps.database.db as unknown as Kysely<unknown>;
    await searchMigration.down(db);
    expect((await sql<{ t: string | null }>`select to_regclass('search_terms')::text as t`.execute(deps.database.db)).rows[0]?.t).toBeNull();
    await searchMigration.up(db);
    // Rebuilt from the existing rows alone, the vocabulary is the same as the triggers built it.
    expect(await terms()).toEqual(fromTriggers);
  });
});
