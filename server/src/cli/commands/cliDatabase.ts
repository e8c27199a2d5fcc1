import { auditKeysOf } from "../../audit/sealKey.js";
import { ConfigError, loadConfig } from "../../config.js";
import { openDatabase, type Database } from "../../db/database.js";
import { UsageError } from "./command.js";

/** The configured database, or the one given by `--database postgres://…` / `--data-dir DIR`; the audit key installed for writes. */
export async function openCliDatabase(overrides: { database?: string; dataDir?: string }): Promise<Database> {
  try {
    const config = loadConfig({
      ...process.env,
      ...(overrides.database ? { DATABASE_URL: overrides.database } : {}),
      ...(overrides.dataDir ? { DATA_DIR: overrides.dataDir } : {}),
    });
    // Commands that write (staff grant) append audit entries, MACed with the same key the server uses.
    auditKeysOf(config);
    return await openDatabase(config.database);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.line);
    throw err;
  }
}
