import { describe, expect, it } from "vitest";
import { CLI_TIMEOUT, runSteward } from "../support/cli.js";
import { createTestDatabase } from "../support/databases.js";
import { PRODUCTION_SETTINGS } from "../support/testConfig.js";

/** A production installation's settings (as an operator's shell holds them); the database is the one given. */
const PRODUCTION = { ...PRODUCTION_SETTINGS, ZAF_APP_PUBLIC_KEY: "unused" };

describe("npm run steward -- products add", () => {
  it("in production mode refuses a plain http product URL, naming --url, and registers nothing; https is registered (PostgreSQL)", async () => {
    const db = await createTestDatabase("postgres");
    try {
      const env = { ...PRODUCTION, DATABASE_URL: db.location };
      const plain = await runSteward(["products", "add", "--name", "Acme app", "--url", "http://app.acme.test", "--id", "prd_plain"], env);
      expect(plain.code).toBe(2);
      expect(plain.stderr).toContain("--url");
      expect(plain.stderr).toContain("https://");
      expect(plain.stdout).toBe("");
      expect(await db.db.selectFrom("impersonation_products").select("id").execute()).toEqual([]);

      const secure = await runSteward(["products", "add", "--name", "Acme app", "--url", "https://app.acme.test", "--id", "prd_secure"], env);
      expect(secure.stderr).toBe("");
      expect(secure.code).toBe(0);
      expect(await db.db.selectFrom("impersonation_products").select(["id", "url"]).execute()).toEqual([{ id: "prd_secure", url: "https://app.acme.test" }]);
    } finally {
      await db.close();
    }
  }, CLI_TIMEOUT * 2);

  it("in demo mode still registers a product on this machine over http", async () => {
    const db = await createTestDatabase("postgres");
    try {
      const local = await runSteward(["products", "add", "--name", "Demo product", "--url", "http://127.0.0.1:4100", "--id", "prd_local", "--database", db.location], { STEWARD_MODE: "demo" });
      expect(local.stderr).toBe("");
      expect(local.code).toBe(0);
      expect(await db.db.selectFrom("impersonation_products").select(["id", "url"]).execute()).toEqual([{ id: "prd_local", url: "http://127.0.0.1:4100" }]);
    } finally {
      await db.close();
    }
  }, CLI_TIMEOUT);
});
