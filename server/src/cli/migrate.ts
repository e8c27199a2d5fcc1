import { loadConfigOrExit } from "../config.js";
import { openDatabase } from "../db/database.js";
import { migrateToLatest } from "../db/migrate.js";

/** `npm run db:migrate` — applies the same migrations `npm start` applies, and lists what ran. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const database = await openDatabase(config.database);
  try {
    const result = await migrateToLatest(database.db);
    const applied = result.results ?? [];
    process.stdout.write(applied.length ? applied.map((r) => `${r.status.toLowerCase()}: ${r.migrationName}`).join("\n") + "\n" : "already up to date\n");
    process.stdout.write(`database: ${database.kind} ${database.location}\n`);
  } finally {
    await database.close();
  }
}

main().catch((err) => {
  process.stderr.write(`migration failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
