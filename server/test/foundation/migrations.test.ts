import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/database.js";
import { migrateToLatest, migrations } from "../../src/db/migrate.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";

describe.each(databaseKinds)("migrations on %s", (kind) => {
  let database: Database;
  let first: Awaited<ReturnType<typeof migrateToLatest>>;
  // Migrated once here, so each test below stands on its own whatever order they run in.
  beforeAll(async () => {
    database = await createTestDatabase(kind, { migrate: false });
    first = await migrateToLatest(database.db);
  });
  afterAll(async () => {
    await database.close();
  });

  it("applies every migration in order, then has nothing left to do", async () => {
    expect(first.results?.map((r) => [r.migrationName, r.status])).toEqual(Object.keys(migrations).map((name) => [name, "Success"]));
    const second = await migrateToLatest(database.db);
    expect(second.results).toEqual([]);
  });

  it("creates the domain tables with their constraints", async () => {
    const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'public'`.execute(database.db);
    const names = tables.rows.map((r) => r.table_name);
    for (const t of ["accounts", "users", "user_sessions", "billing_customers", "billing_subscriptions", "billing_invoices", "billing_balance_transactions", "activity_events", "staff", "demo_tickets"]) {
      expect(names).toContain(t);
    }
    await expect(
      database.db.insertInto("accounts").values({ id: "acc_bad", name: "Bad", domain: null, status: "frozen" as never, plan: "team", seats_licensed: 1, billing_customer_id: null }).execute(),
    ).rejects.toThrow(/check constraint/i);
  });

  it("has pg_trgm and unaccent available for search", async () => {
    const r = await sql<{ s: number; u: string }>`select similarity('john', 'jhon') as s, unaccent('Zoë') as u`.execute(database.db);
    expect(r.rows[0]?.u).toBe("Zoe");
    expect(r.rows[0]?.s).toBeGreaterThan(0);
  });
});
