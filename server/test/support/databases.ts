import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { ManualClock } from "../../src/clock.js";
import { openDatabase, type Database, type DatabaseKind } from "../../src/db/database.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import type { AppDeps } from "../../src/deps.js";
import { createLogger } from "../../src/logger.js";
import { createBillingPort, createIdentityPort, type BillingPort, type IdentityPort } from "../../src/providers/index.js";
import { createDirectoryPort, type DirectoryPort } from "../../src/directory/index.js";
import type { CallPolicy } from "../../src/providers/providerCall.js";
import { seedDemoData } from "../../src/seed/demo.js";
import { TEST_AUDIT_KEYS } from "./auditKeys.js";
import { testConfig } from "./testConfig.js";
import { giveBackDatabase, takeDatabase } from "./reusedDatabases.js";

/** The PostgreSQL server the tests use; each test file gets a database of its own on it. */
export const TEST_POSTGRES_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/**
 * Both kinds, always, in `npm test`. Only the mutation run (vitest.mutation.config.ts) narrows this to one kind
 * through STEWARD_TEST_DATABASES, to keep its many re-runs within the time budget.
 */
export const databaseKinds: DatabaseKind[] =
  process.env.STEWARD_TEST_DATABASES === "pglite" ? ["pglite"] : process.env.STEWARD_TEST_DATABASES === "postgres" ? ["postgres"] : ["pglite", "postgres"];

/** Set by vitest.mutation.config.ts alone; `npm test` gives every file a fresh copy. */
const reuseDatabases = process.env.STEWARD_TEST_REUSE_DATABASES === "1";

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const migrationsDir = fileURLToPath(new URL("../../src/db/migrations/", import.meta.url));

/**
 * What a migrated PGlite copy depends on: the migration sources, the PGlite build, and the day (a migration may
 * create time-based partitions). A change to any of them builds a new copy.
 */
function templateKey(): string {
  const hash = createHash("sha256");
  const pgliteEntry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  hash.update(readFileSync(join(dirname(pgliteEntry), "..", "package.json"))).update(new Date().toISOString().slice(0, 10));
  hash.update(readFileSync(fileURLToPath(new URL("../../src/db/migrate.ts", import.meta.url))));
  for (const file of readdirSync(migrationsDir).sort()) hash.update(file).update(readFileSync(join(migrationsDir, file)));
  return hash.digest("hex").slice(0, 16);
}

let pgliteTemplate: Promise<Blob> | undefined;

/**
 * A migrated, empty PGlite data directory. Opening a copy of it costs about a quarter of the CPU of initdb plus
 * every migration, which is most of what a test file spends on PGlite. Shared between test processes through a
 * file (written whole, then renamed, so a reader never sees half of one).
 */
function migratedPgliteTemplate(): Promise<Blob> {
  pgliteTemplate ??= (async () => {
    const file = join(tmpdir(), `steward-pglite-migrated-${templateKey()}.tar`);
    try {
      return new Blob([await readFile(file)]);
    } catch {
      // Not built yet (or by a concurrent process right now): build it here.
    }
    const database = await openDatabase({ kind: "pglite", dataDir: "memory" });
    try {
      await migrateToLatest(database.db);
      const dump = await database.dumpDataDir!();
      const partial = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
      await writeFile(partial, new Uint8Array(await dump.arrayBuffer()));
      await rename(partial, file);
      return dump;
    } finally {
      await database.close();
    }
  })();
  return pgliteTemplate;
}

let postgresTemplate: Promise<string> | undefined;

/**
 * The same for PostgreSQL: a migrated database that `create database … template` copies in a fraction of the
 * time migrating takes. Built once per key under an advisory lock (test processes run in parallel), under a
 * temporary name and renamed when whole, so no copy is ever taken from a half-migrated one.
 */
function migratedPostgresTemplate(): Promise<string> {
  postgresTemplate ??= (async () => {
    // The day leads the name: other checkouts on this server (worktrees, Stryker's sandbox) keep their own
    // template for the same day, and only earlier days' are dropped.
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    const name = `steward_tmpl_${day}_${templateKey()}`;
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    try {
      await admin.query("select pg_advisory_lock(hashtext('steward test template'))");
      const found = await admin.query("select 1 from pg_database where datname = $1", [name]);
      if (found.rowCount === 0) {
        const building = `${name}_${process.pid}`;
        await admin.query(`drop database if exists ${building}`);
        await admin.query(`create database ${building}`);
        const url = new URL(TEST_POSTGRES_URL);
        url.pathname = `/${building}`;
        const database = await openDatabase({ kind: "postgres", url: url.toString(), poolSize: 2 });
        try {
          await migrateToLatest(database.db);
        } finally {
          await database.close();
        }
        await admin.query(`alter database ${building} rename to ${name}`);
        // Earlier days' copies: nobody copies from them any more (best effort; one in use stays until next time).
        // Never today's: a checkout with other migrations may be copying its own right now.
        const stale = await admin.query<{ datname: string }>(
          "select datname from pg_database where datname like 'steward\\_tmpl\\_%' and datname not like $1",
          [`steward\\_tmpl\\_${day}\\_%`],
        );
        for (const row of stale.rows) await admin.query(`drop database if exists ${row.datname}`).catch(() => undefined);
      }
      return name;
    } finally {
      await admin.query("select pg_advisory_unlock(hashtext('steward test template'))").catch(() => undefined);
      await admin.end();
    }
  })();
  return postgresTemplate;
}

/** A throw-away database of either kind: PGlite in memory, or a fresh database on the server. */
export async function createTestDatabase(kind: DatabaseKind, options: { migrate?: boolean } = {}): Promise<Database> {
  let database: Database;
  if (kind === "pglite") {
    const initialData = options.migrate === false ? undefined : await migratedPgliteTemplate();
    database = await openDatabase({ kind: "pglite", dataDir: "memory", initialData });
  } else if (reuseDatabases && options.migrate !== false) {
    // Mutation run only (see reusedDatabases.ts): a reset database from an earlier file, else a new copy.
    const template = await migratedPostgresTemplate();
    const name = await takeDatabase(template, TEST_POSTGRES_URL);
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = `/${name}`;
    const opened = await openDatabase({ kind: "postgres", url: url.toString(), poolSize: 12 });
    database = {
      ...opened,
      close: async () => {
        await opened.close();
        await giveBackDatabase(template, TEST_POSTGRES_URL, name);
      },
    };
  } else {
    const name = `steward_test_${process.pid}_${randomBytes(4).toString("hex")}`;
    const template = options.migrate === false ? undefined : await migratedPostgresTemplate();
    await adminQuery(`create database ${name}${template ? ` template ${template}` : ""}`);
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
  // On a PGlite copy of the template this finds nothing to do; it still proves the copy is at the latest version.
  if (options.migrate !== false) await migrateToLatest(database.db);
  return database;
}

export { testConfig };

/** App dependencies over a fresh database, with a manual clock and silent logs. */
export async function createTestDeps(
  kind: DatabaseKind,
  options: { seed?: boolean; env?: Record<string, string>; identity?: IdentityPort; billing?: BillingPort; directory?: DirectoryPort; providerPolicy?: Partial<CallPolicy> } = {},
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
  const directory = options.directory ?? createDirectoryPort(providerDeps);
  return { config, database, logger, clock, identity, billing, directory, auditKeys: TEST_AUDIT_KEYS };
}
