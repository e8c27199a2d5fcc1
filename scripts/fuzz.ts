import { benchArgs, wholeNumberArg } from "../server/bench/benchArgs.js";
import type { DatabaseKind } from "../server/src/db/database.js";
import { fuzz, startFuzzTarget } from "../server/test/support/fuzz.js";

const USAGE = `npm run fuzz -- [--runs N] [--seed S] [--database pglite|postgres|both]

Fuzzes every operation in /api/openapi.json on a live server over the seeded demo database:
valid-shaped and hostile requests (NUL, unpaired surrogates, huge and deep values, wrong types,
prototype-pollution keys), as each panel role, anonymous and with a forged token. Fails (exit 1) on
any 5xx, any 4xx that is not problem+json or a 400 that names no field, and any 4xx that changed the
database (beyond denied audit entries).
  --runs N       requests per operation (default 50)
  --seed S       fast-check seed (default: random, printed)
  --database D   pglite, postgres (TEST_DATABASE_URL or the local server) or both (default both)`;

const values = benchArgs(USAGE, { runs: { type: "string" }, seed: { type: "string" }, database: { type: "string" } });
const runs = values.runs ? wholeNumberArg("runs", values.runs) : 50;
const seed = values.seed ? wholeNumberArg("seed", values.seed) : Math.floor(Math.random() * 2 ** 31);
const database = values.database ?? "both";
if (!["pglite", "postgres", "both"].includes(database)) {
  process.stderr.write(`--database: expected pglite, postgres or both (got "${database}"); see --help\n`);
  process.exit(2);
}
const kinds: DatabaseKind[] = database === "both" ? ["pglite", "postgres"] : [database as DatabaseKind];

let failed = 0;
for (const kind of kinds) {
  const target = await startFuzzTarget(kind);
  try {
    process.stdout.write(`${kind}: ${target.operations.length} operations × ${runs} requests, seed ${seed}\n`);
    const started = Date.now();
    const result = await fuzz(target, {
      runsPerOperation: runs,
      seed,
      onProgress: (done, total) => {
        if (done % 200 === 0) process.stdout.write(`  ${done}/${total}\n`);
      },
    });
    process.stdout.write(`${kind}: ${result.requests} requests in ${((Date.now() - started) / 1000).toFixed(0)} s; statuses ${JSON.stringify(result.byStatus)}\n`);
    for (const f of result.failures) process.stdout.write(`FAIL ${f.rule} ${f.status} ${f.request.caller} ${f.request.method} ${f.request.url}\n  body: ${f.request.body ?? ""}\n  ${f.detail}\n`);
    failed += result.failures.length;
  } finally {
    await target.close();
  }
}
process.stdout.write(failed ? `${failed} failures\n` : "no failures\n");
process.exit(failed ? 1 : 0);
