import { Migrator, type Kysely, type Migration, type MigrationResultSet } from "kysely";
import * as m001 from "./migrations/001_domain.js";

/** The one ordered migration set, applied identically on PGlite and PostgreSQL. Add new ones at the end. */
export const migrations: Record<string, Migration> = {
  "001_domain": m001,
};

export async function migrateToLatest<T>(db: Kysely<T>): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db: db as unknown as Kysely<unknown>,
    provider: { getMigrations: async () => migrations },
    migrationTableName: "steward_migrations",
    migrationLockTableName: "steward_migrations_lock",
  });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === "Error");
    const name = failed ? ` (${failed.migrationName})` : "";
    throw new Error(`migration failed${name}: ${result.error instanceof Error ? result.error.message : String(result.error)}`, {
      cause: result.error,
    });
  }
  return result;
}
