import { parseArgs } from "node:util";

/**
 * `npm run seed` — demo data (idempotent); with `--accounts N --users-per-account M` a large synthetic
 * set for benchmarks. `--database postgres://…` overrides DATABASE_URL, `--data-dir` the PGlite dir.
 */
const { values } = parseArgs({
  options: {
    accounts: { type: "string" },
    "users-per-account": { type: "string", default: "10" },
    "batch-size": { type: "string", default: "2000" },
    database: { type: "string" },
    "data-dir": { type: "string" },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  process.stdout.write("usage: npm run seed -- [--accounts N --users-per-account M] [--database postgres://…] [--data-dir DIR]\n");
  process.exit(0);
}

function positive(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name}: expected a positive whole number (got "${raw}")\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const accounts = positive("accounts", values.accounts);
  const usersPerAccount = positive("users-per-account", values["users-per-account"]) ?? 10;
  const batchSize = positive("batch-size", values["batch-size"]) ?? 2000;
  // Loaded only now, so --help and a bad option need none of the database modules.
  const { default: cliProgress } = await import("cli-progress");
  const { loadConfigOrExit } = await import("../config.js");
  const { openDatabase } = await import("../db/database.js");
  const { migrateToLatest } = await import("../db/migrate.js");
  const { seedDemoData } = await import("../seed/demo.js");
  const { seedSynthetic } = await import("../seed/synthetic.js");
  const config = loadConfigOrExit(
    { ...process.env, ...(values.database ? { DATABASE_URL: values.database } : {}), ...(values["data-dir"] ? { DATA_DIR: values["data-dir"] } : {}) },
    { givenAs: { ...(values.database ? { DATABASE_URL: "--database" } : {}), ...(values["data-dir"] ? { DATA_DIR: "--data-dir" } : {}) } },
  );
  const database = await openDatabase(config.database);
  const started = Date.now();
  try {
    await migrateToLatest(database.db);
    const demo = await seedDemoData(database.db);
    process.stdout.write(`demo data: ${demo.created ? "seeded" : "already present"} (${demo.accounts} accounts, ${demo.users} users) on ${database.kind} ${database.location}\n`);
    if (accounts) {
      // A live bar on a terminal; in logs (CI, pipes) a line every 10% — PGlite runs on this thread, so timers cannot redraw.
      const bar = process.stdout.isTTY
        ? new cliProgress.SingleBar({ format: "synthetic accounts |{bar}| {value}/{total} ({percentage}%) eta {eta_formatted}", hideCursor: true }, cliProgress.Presets.shades_classic)
        : null;
      let lastTenth = -1;
      const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
      bar?.start(accounts, 0);
      const result = await seedSynthetic(database.db, {
        accounts,
        usersPerAccount,
        batchSize,
        onProgress: (done) => {
          if (bar) return bar.update(done);
          const tenth = Math.floor((done * 10) / accounts);
          if (tenth === lastTenth) return;
          lastTenth = tenth;
          process.stdout.write(`synthetic accounts: ${done}/${accounts} (${tenth * 10}%) after ${elapsed()}\n`);
        },
        onPhase: (phase) => {
          bar?.stop();
          process.stdout.write(`${phase}… (${elapsed()})\n`);
        },
      });
      bar?.stop();
      process.stdout.write(`synthetic: +${result.accounts} accounts, +${result.users} users (${result.skipped} already there)\n`);
    }
    process.stdout.write(`elapsed: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } finally {
    await database.close();
  }
}

main().catch((err) => {
  process.stderr.write(`seed failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
