import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { endKeptThread, keptThreads } from "./scripts/mutation/keptWorkerPool.js";

/**
 * The tests that guard the trust core (auth, audit, the write path, caps, the reconciler, grants), for
 * `npm run mutation` only. PostgreSQL alone keeps Stryker's many re-runs within budget: a test database
 * is a template copy there (a fraction of a PGlite start); `npm test` runs both databases.
 * MUTATION_TESTS narrows the files further (a glob) for a run on one part of the scope.
 *
 * Left out: the CLI tests (audit/cli, auth/devTokenCli). They check a spawned process, which never sees the
 * mutant under test (Stryker switches mutants inside the test worker), so they cannot kill one, and at 5-17 s a
 * test they were the costliest re-runs.
 */
const files = process.env.MUTATION_TESTS
  ? process.env.MUTATION_TESTS.split(",")
  : [
      "server/test/auth/*.test.ts",
      "server/test/audit/*.test.ts",
      "server/test/commands/*.test.ts",
      "server/test/staff/caps.test.ts",
      "server/test/staff/staffAdmin.test.ts",
      "server/test/reconcile/providerTruth.test.ts",
      "server/test/reconcile/ticketNoteUnknown.test.ts",
      "server/test/impersonation/startAndGrant.test.ts",
    ];

/** A test file that builds a database or the whole app pays seconds per run; one that does not, a fraction. */
const heavy = /createApp|createTestDeps|createTestDatabase|useHarness|TestDeps\b/;

/**
 * Light files first. Stryker re-runs every file with a test that covers the mutant and stops at the first
 * failure (bail), so a mutant a known-answer test kills should cost that test alone. Vitest's own order runs
 * the longest files first, which makes every such mutant pay for the database files too.
 */
class CheapFirst extends BaseSequencer {
  override async sort(specs: TestSpecification[]): Promise<TestSpecification[]> {
    const weight = new Map(specs.map((spec) => [spec.moduleId, heavy.test(readFileSync(spec.moduleId, "utf8")) ? 1 : 0]));
    return [...specs].sort((a, b) => weight.get(a.moduleId)! - weight.get(b.moduleId)! || a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  plugins: [
    {
      // Stryker's runner forces `pool: "threads"` (a new worker, and a fresh import of the app, per mutant);
      // set after its options are applied, this keeps one thread and its modules across runs (see keptWorkerPool).
      name: "steward-kept-thread",
      configureVitest({ project, vitest }) {
        project.config.pool = keptThreads.name;
        project.config.poolRunner = keptThreads;
        project.config.isolate = false;
        vitest.onClose(endKeptThread);
      },
    },
  ],
  test: {
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    env: { STEWARD_TEST_DATABASES: "postgres", STEWARD_TEST_REUSE_DATABASES: "1" },
    include: files,
    exclude: ["server/test/audit/cli.test.ts", "server/test/auth/devTokenCli.test.ts", "**/node_modules/**"],
    sequence: { sequencer: CheapFirst },
  },
});
