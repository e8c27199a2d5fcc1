import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/database.js";
import { seedDemoData } from "../../src/seed/demo.js";
import { seedSynthetic } from "../../src/seed/synthetic.js";
import { createTestDatabase, databaseKinds } from "../support/databases.js";

async function counts(database: Database) {
  const tables = ["accounts", "users", "user_sessions", "billing_customers", "billing_subscriptions", "billing_invoices", "activity_events", "staff", "demo_tickets"] as const;
  const out: Record<string, number> = {};
  for (const t of tables) {
    const row = await database.db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    out[t] = Number(row.n);
  }
  return out;
}

describe.each(databaseKinds)("demo seed on %s", (kind) => {
  let database: Database;
  // Seeded here, not in the first test, so the test that reads the demo set does not depend on running after it.
  let first: Awaited<ReturnType<typeof seedDemoData>>;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
    first = await seedDemoData(database.db);
  });
  afterAll(async () => {
    await database.close();
  });

  it("seeds once; a second run adds nothing", async () => {
    expect(first.created).toBe(true);
    const before = await counts(database);
    const second = await seedDemoData(database.db);
    expect(second.created).toBe(false);
    expect(await counts(database)).toEqual(before);
    expect(before.accounts).toBeGreaterThanOrEqual(24);
  });

  it("covers every account state and the awkward support cases", async () => {
    const db = database.db;
    const statuses = await db.selectFrom("accounts").select("status").distinct().execute();
    expect(statuses.map((s) => s.status).sort()).toEqual(["active", "deactivated", "past_due", "suspended", "trialing"]);

    const locked = await db.selectFrom("users").select("id").where("locked_until", ">", new Date()).execute();
    expect(locked.length).toBeGreaterThan(0);
    const withMfa = await db.selectFrom("users").select("id").where("mfa_enrolled", "=", true).execute();
    const withoutMfa = await db.selectFrom("users").select("id").where("mfa_enrolled", "=", false).execute();
    expect(withMfa.length).toBeGreaterThan(0);
    expect(withoutMfa.length).toBeGreaterThan(0);

    const pastDue = await db
      .selectFrom("billing_invoices")
      .innerJoin("billing_customers", "billing_customers.id", "billing_invoices.customer_id")
      .innerJoin("accounts", "accounts.id", "billing_customers.account_id")
      .select(["billing_invoices.attempt_count", "accounts.status"])
      .where("billing_invoices.status", "=", "open")
      .execute();
    expect(pastDue.some((r) => r.status === "past_due" && r.attempt_count >= 2)).toBe(true);

    const overSeats = await db
      .selectFrom("accounts")
      .innerJoin("users", "users.account_id", "accounts.id")
      .select(["accounts.id", "accounts.seats_licensed", (eb) => eb.fn.countAll<number>().as("used")])
      .where("users.status", "in", ["active", "invited"])
      .groupBy(["accounts.id", "accounts.seats_licensed"])
      .execute();
    expect(overSeats.some((a) => Number(a.used) > a.seats_licensed)).toBe(true);

    const withoutAdmin = await db
      .selectFrom("accounts")
      .select("accounts.id")
      .where("accounts.status", "=", "active")
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom("users").select("users.id").whereRef("users.account_id", "=", "accounts.id").where("users.role", "in", ["owner", "admin"]).where("users.status", "=", "active"))),
      )
      .execute();
    expect(withoutAdmin.length).toBeGreaterThan(0);

    const shared = await db.selectFrom("users").select("account_id").where("email", "=", "casey.consultant@freelance.example").execute();
    expect(new Set(shared.map((s) => s.account_id)).size).toBe(2);

    const tickets = await db.selectFrom("demo_tickets").selectAll().execute();
    expect(tickets.length).toBeGreaterThanOrEqual(10);
    const staff = await db.selectFrom("staff").select("panel_role").execute();
    expect(staff.map((s) => s.panel_role).sort()).toEqual(["admin", "operations", "support_full", "support_read_only"]);
  });
});

describe.each(databaseKinds)("synthetic seed on %s", (kind) => {
  let database: Database;
  // A fresh database (with the demo set, as a benchmark database has) for each test: seedSynthetic
  // continues from the synthetic accounts already there, so one test's set would change the other's counts.
  beforeEach(async () => {
    database = await createTestDatabase(kind);
    await seedDemoData(database.db);
  });
  afterEach(async () => {
    await database.close();
  });

  it("builds a synthetic set in batches and continues where it stopped", async () => {
    const progress: number[] = [];
    const first = await seedSynthetic(database.db, { accounts: 30, usersPerAccount: 3, batchSize: 10, onProgress: (d) => progress.push(d) });
    expect(first).toEqual({ accounts: 30, users: 90, skipped: 0 });
    expect(progress).toEqual([0, 10, 20, 30]);
    const again = await seedSynthetic(database.db, { accounts: 40, usersPerAccount: 3, batchSize: 25 });
    expect(again).toEqual({ accounts: 10, users: 30, skipped: 30 });
    const users = await database.db.selectFrom("users").select((eb) => eb.fn.countAll<number>().as("n")).where("id", "like", "usr_s%").executeTakeFirstOrThrow();
    expect(Number(users.n)).toBe(120);
    const accented = await database.db.selectFrom("users").select(["name", "email"]).where("name", "like", "Zoë%").where("id", "like", "usr_s%").executeTakeFirst();
    expect(accented?.email).toMatch(/^zoe\./);
  });

  it("defers secondary indexes during a bulk load and rebuilds every one of them", async () => {
    const indexNames = async () =>
      (await sql<{ indexname: string }>`select indexname from pg_indexes where schemaname = current_schema() and tablename in ('users', 'accounts') order by indexname`.execute(database.db)).rows.map((r) => r.indexname);
    const before = await indexNames();
    expect(before).toContain("users_account_idx");
    const phases: string[] = [];
    await seedSynthetic(database.db, { accounts: 50, usersPerAccount: 2, batchSize: 20, deferIndexes: true, onPhase: (p) => phases.push(p) });
    expect(await indexNames()).toEqual(before);
    expect(phases).toContain("rebuilding index users_account_idx");
  });
});
