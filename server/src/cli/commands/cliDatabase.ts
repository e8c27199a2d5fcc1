import { auditKeysOf } from "../../audit/sealKey.js";
import { ConfigError, loadConfig, type Config } from "../../config.js";
import { openDatabase, type Database } from "../../db/database.js";
import { pendingMigrations } from "../../db/migrate.js";
import { UsageError } from "./command.js";

/** The configuration with `--database postgres://…` / `--data-dir DIR` applied; a bad setting is a usage error. */
export function loadCliConfig(overrides: { database?: string; dataDir?: string }): Config {
  try {
    return loadConfig(
      {
        ...process.env,
        ...(overrides.database ? { DATABASE_URL: overrides.database } : {}),
        ...(overrides.dataDir ? { DATA_DIR: overrides.dataDir } : {}),
      },
      { givenAs: { ...(overrides.database ? { DATABASE_URL: "--database" } : {}), ...(overrides.dataDir ? { DATA_DIR: "--data-dir" } : {}) } },
    );
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.commandLine);
    throw err;
  }
}

/** The configured database, or the one given by `--database postgres://…` / `--data-dir DIR`; the audit key installed for writes. */
export async function openCliDatabase(overrides: { database?: string; dataDir?: string }, config: Config = loadCliConfig(overrides)): Promise<Database> {
  try {
    // Commands that write (staff grant) append audit entries, MACed with the same key the server uses.
    auditKeysOf(config);
    return await openDatabase(config.database);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.commandLine);
    throw err;
  }
}

/**
 * Whether every migration this build knows is applied; if not, says so on stderr (with what to run), for the
 * command to exit 1 instead of failing on a missing table or function in PostgreSQL's own words.
 */
export async function requireMigrated(database: Database): Promise<boolean> {
  const pending = await pendingMigrations(database.db);
  if (pending.length === 0) return true;
  process.stderr.write(`the database in ${database.kind} ${database.location} is not migrated (${pending.length} migration${pending.length === 1 ? "" : "s"} not applied, from ${pending[0]}): run npm run db:migrate first\n`);
  return false;
}
