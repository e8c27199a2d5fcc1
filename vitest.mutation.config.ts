import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type Reporter, type TestModule, type TestSpecification, type Vitest } from "vitest/node";
import { endKeptThread, keptThreads } from "./scripts/mutation/keptWorkerPool.js";
import { testCostsFile, testKey } from "./scripts/mutation/testCosts.js";

/**
 * The tests that guard the trust core (auth, audit, the write path, caps, the reconciler, grants), for
 * `npm run mutation` only. PostgreSQL alone keeps Stryker's many re-runs within budget: a test database
 * is a template copy there (a fraction of a PGlite start), reset and reused from file to file
 * (support/reusedDatabases.ts); `npm test` runs both databases, a fresh copy per file.
 * MUTATION_TESTS narrows the files further (a glob) for a run on one part of the scope.
 *
 * Left out: the CLI tests (audit/cli, auth/devTokenCli) and the crash-recovery test (a spawned server). They check
 * a spawned process, which never sees the
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
      "server/test/reconcile/*.test.ts",
      "server/test/impersonation/startAndGrant.test.ts",
      // The grant token alone (no database): its boundaries, codes and known answer, tried before the harness files.
      "server/test/impersonation/grant.test.ts",
      "server/test/impersonation/lifecycle.test.ts",
      // Approvals reach runCommand's approval_required branch and preview; zafReplay the ZAF replay guard.
      "server/test/approvals/approvals.test.ts",
      "server/test/security/zafReplay.test.ts",
    ];

/** A test file that builds a database or the whole app pays seconds per run; one that does not, a fraction. */
const heavy = /createApp|createTestDeps|createTestDatabase|useHarness|TestDeps\b/;

/**
 * Where the first run of a mutation run (Stryker's dry run: every test, in one of its processes) leaves each
 * file's duration, for the sequencer of every process. Later runs are filtered to a mutant's tests and would
 * understate a file's cost.
 */
const costsFile = "reports/mutation/file-costs.json";

/** Writes `costsFile` after Stryker's dry run (Stryker tells the run's mode through vitest's provide). */
class DryRunCosts implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (!this.vitest || (this.vitest.getProvidedContext() as { mode?: string }).mode !== "dry-run") return;
    const root = this.vitest.config.root;
    const costs = Object.fromEntries(modules.map((module) => [relative(root, module.moduleId), module.diagnostic().duration]));
    // Each test's own duration, for its budget in the mutant runs (scripts/mutation/testBudgets.ts).
    const testCosts = Object.fromEntries(
      modules.flatMap((module) => [...module.children.allTests()].flatMap((test) => (test.result().state === "passed" ? [[testKey(relative(root, module.moduleId), test.fullName), test.diagnostic()?.duration ?? 0]] : []))),
    );
    mkdirSync(dirname(costsFile), { recursive: true });
    writeFileSync(costsFile, JSON.stringify(costs));
    writeFileSync(testCostsFile, JSON.stringify(testCosts));
  }
}

/**
 * STEWARD_MUTATION_RUN_LOG=<file>: one JSON line per run (mode, each file's set-up, collection and test time, its
 * tests' states and durations), to see where a slow mutant run spends its time.
 */
class RunLog implements Reporter {
  private vitest: Vitest | undefined;
  private started = 0;

  constructor(private readonly file: string) {}

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunStart(): void {
    this.started = performance.now();
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (!this.vitest) return;
    const root = this.vitest.config.root;
    const line = {
      mode: (this.vitest.getProvidedContext() as { mode?: string }).mode,
      ms: Math.round(performance.now() - this.started),
      files: modules.map((module) => {
        const d = module.diagnostic();
        return {
          file: relative(root, module.moduleId),
          setup: Math.round(d.setupDuration),
          collect: Math.round(d.collectDuration),
          duration: Math.round(d.duration),
          tests: [...module.children.allTests()].filter((t) => t.result().state !== "skipped" && t.result().state !== "pending").map((t) => `${t.result().state} ${Math.round(t.diagnostic()?.duration ?? 0)} ${t.name.slice(0, 50)}`),
        };
      }),
    };
    appendFileSync(this.file, `${JSON.stringify(line)}\n`);
  }
}

/**
 * Cheapest files first. Stryker re-runs every file with a test that covers the mutant and stops at the first
 * failure (bail), so a mutant a cheap test kills should cost that test alone. Vitest's own order runs the
 * longest files first, which makes every such mutant pay for the database files too. A file's cost is its
 * duration in the dry run; until that is known, a file that builds a database or the app counts as heavy.
 */
class CheapFirst extends BaseSequencer {
  private costs: Record<string, number> | undefined;

  override async sort(specs: TestSpecification[]): Promise<TestSpecification[]> {
    if (!this.costs && existsSync(costsFile)) this.costs = JSON.parse(readFileSync(costsFile, "utf8")) as Record<string, number>;
    const costOf = (spec: TestSpecification): number =>
      this.costs?.[relative(this.ctx.config.root, spec.moduleId)] ?? (heavy.test(readFileSync(spec.moduleId, "utf8")) ? Number.MAX_SAFE_INTEGER : 0);
    const costs = new Map(specs.map((spec) => [spec.moduleId, costOf(spec)]));
    return [...specs].sort((a, b) => costs.get(a.moduleId)! - costs.get(b.moduleId)! || a.moduleId.localeCompare(b.moduleId));
  }
}

/**
 * STEWARD_MUTATION_FRESH_THREADS=1: Stryker's own pool (a new thread and fresh imports per run). The kept thread
 * reports some mutants as surviving that a fresh import kills (see scripts/mutation/confirmSurvivors.ts), so the
 * survivors of a run are tried once more this way before they count.
 */
const freshThreads = process.env.STEWARD_MUTATION_FRESH_THREADS === "1";

/** Stryker's runner forces `pool: "threads"` (a new worker, and a fresh import of the app, per mutant); set after
 * its options are applied, this keeps one thread and its modules across runs (see keptWorkerPool). */
const keptThread: Plugin = {
  name: "steward-kept-thread",
  configureVitest({ project, vitest }) {
    project.config.pool = keptThreads.name;
    project.config.poolRunner = keptThreads;
    project.config.isolate = false;
    vitest.onClose(endKeptThread);
  },
};

export default defineConfig({
  plugins: freshThreads ? [] : [keptThread],
  test: {
    environment: "node",
    // A mutant that makes a request or a set-up hang fails at these limits, instead of holding the run until
    // Stryker's own timeout ends the process (a restart costs seconds more). In mutant runs a test fails sooner,
    // at its budget (scripts/mutation/testBudgets.ts), so the test limit is for the dry run, which must pass
    // within it or the run stops: at 5 s it failed twice on a machine at load 10+. A set-up has no budget.
    testTimeout: 15_000,
    hookTimeout: 10_000,
    pool: "forks",
    // Mutant runs only: each test fails at a budget taken from its duration in the dry run (see the file).
    setupFiles: ["scripts/mutation/testBudgets.ts"],
    env: { STEWARD_TEST_DATABASES: "postgres", STEWARD_TEST_REUSE_DATABASES: "1", STEWARD_HARNESS_TIMEOUT_MS: "10000" },
    include: files,
    exclude: ["server/test/audit/cli.test.ts", "server/test/auth/devTokenCli.test.ts", "server/test/reconcile/crashRecovery.test.ts", "**/node_modules/**"],
    sequence: { sequencer: CheapFirst },
    reporters: ["default", new DryRunCosts(), ...(process.env.STEWARD_MUTATION_RUN_LOG ? [new RunLog(process.env.STEWARD_MUTATION_RUN_LOG)] : [])],
  },
});
