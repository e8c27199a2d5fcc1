import { randomBytes } from "node:crypto";
import pg from "pg";
import { ManualClock } from "../../src/clock.js";
import { loadConfig, type Config } from "../../src/config.js";
import { openDatabase, type Database, type DatabaseKind } from "../../src/db/database.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import type { AppDeps } from "../../src/deps.js";
import { createLogger } from "../../src/logger.js";
import { createBillingPort, createIdentityPort, type BillingPort, type IdentityPort } from "../../src/providers/index.js";
import type { CallPolicy } from "../../src/providers/providerCall.js";
import { seedDemoData } from "../../src/seed/demo.js";
import { TEST_AUDIT_KEYS, TEST_AUDIT_SECRET } from "./auditKeys.js";
import { TEST_RATE_LIMITS } from "./rateLimits.js";

/** The PostgreSQL server the tests use; each test file gets a database of its own on it. */
export const TEST_POSTGRES_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/**
 * Both kinds, always, in `npm test`. Only the mutation run (vitest.mutation.config.ts) narrows this to
 * PGlite through STEWARD_TEST_DATABASES, to keep its many re-runs within the time budget.
 */
export const databaseKinds: DatabaseKind[] = process.env.STEWARD_TEST_DATABASES === "pglite" ? ["pglite"] : ["pglite", "postgres"];

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A throw-away database of either kind: PGlite in memory, or a fresh database on the server. */
export async function createTestDatabase(kind: DatabaseKind, options: { migrate?: boolean } = {}): Promise<Database> {
  let database: Database;
  if (kind === "pglite") {
    database = await openDatabase({ kind: "pglite", dataDir: "memory" });
  } else {
    const name = `steward_test_${process.pid}_${randomBytes(4).toString("hex")}`;
    await adminQuery(`create database ${name}`);
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = `/${name}`;
    const opened = await openDatabase({ kind: "postgres", url: url.toString(), poolSize: 12 });
    database = {
      ...opened,
      close: async () => {
        await opened.close();
        await adminQuery(`drop database if exists ${name} with (force)`);
      },
    };
  }
  if (options.migrate !== false) await migrateToLatest(database.db);
  return database;
}

export function testConfig(env: Record<string, string> = {}): Config {
  // Tests are demo-mode unless they say otherwise (production-like settings need an explicit mode).
  return loadConfig({ STEWARD_MODE: "demo", LOG_LEVEL: "silent", DEMO_SEED: "false", AUDIT_SEAL_KEY: TEST_AUDIT_SECRET, ...TEST_RATE_LIMITS, ...env });
}

/** App dependencies over a fresh database, with a manual clock and silent logs. */
export async function createTestDeps(
  kind: DatabaseKind,
  options: { seed?: boolean; env?: Record<string, string>; identity?: IdentityPort; billing?: BillingPort; providerPolicy?: Partial<CallPolicy> } = {},
): Promise<AppDeps & { clock: ManualClock }> {
  const database = await createTestDatabase(kind);
  const clock = new ManualClock(new Date());
  if (options.seed) await seedDemoData(database.db, clock.now());
  const config = testConfig(options.env);
  const logger = createLogger("silent");
  // Providers follow the env (built-in by default; a fake's env() selects Auth0/Stripe); tests may pass their own.
  const providerDeps = { config, db: database.db, clock, logger, policy: options.providerPolicy };
  const identity = options.identity ?? createIdentityPort(providerDeps);
  const billing = options.billing ?? createBillingPort(providerDeps);
  return { config, database, logger, clock, identity, billing, auditKeys: TEST_AUDIT_KEYS };
}
