const USAGE = "usage: npm run db:migrate";

/** `npm run db:migrate` — applies the same migrations `npm start` applies, and lists what ran. */
async function main(): Promise<void> {
  // It takes no arguments: one it ignored (say --database postgres://…, as the steward commands take) would
  // leave the operator's database as it was and migrate the configured one instead.
  const unexpected = process.argv.slice(2).filter((a) => a !== "--help" && a !== "-h");
  if (unexpected.length) {
    process.stderr.write(`db:migrate takes no arguments (got ${unexpected.join(" ")}): it migrates DATABASE_URL, or PGlite under DATA_DIR\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(
      `${USAGE}\n\nApplies Steward's migrations to the configured database: PostgreSQL when DATABASE_URL is set\n(e.g. DATABASE_URL=postgres://steward_owner@127.0.0.1:5432/steward npm run db:migrate), otherwise PGlite under DATA_DIR.\nReads ./.env (or ENV_FILE) like the server. The server applies the same migrations on start.\n`,
    );
    return;
  }
  // Loaded only now, so --help needs none of the database modules.
  const { loadConfigOrExit } = await import("../config.js");
  const { openDatabase } = await import("../db/database.js");
  const { migrateToLatest } = await import("../db/migrate.js");
  // Migrating neither serves nor seeds: DATABASE_URL alone is enough, without STEWARD_MODE.
  const config = loadConfigOrExit(process.env, { modeGuessMatters: false });
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
  const message = err instanceof Error ? err.message : String(err);
  // migrateToLatest's own errors already say "migration failed (name): …".
  process.stderr.write(`${message.startsWith("migration failed") ? message : `migration failed: ${message}`}\n`);
  process.exit(1);
});
