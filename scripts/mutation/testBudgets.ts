import { existsSync, readFileSync } from "node:fs";
import { relative } from "node:path";
import { clearTimeout, setTimeout } from "node:timers";
import { beforeAll, inject } from "vitest";
import type { RunnerTask, RunnerTestCase, RunnerTestFile } from "vitest";
import { getFn, setFn } from "vitest/suite";
import { testCostsFile, testKey } from "./testCosts.js";

/**
 * Setup file of the mutation run (vitest.mutation.config.ts), for mutant runs only: each test fails once it has
 * run BUDGET_FACTOR times its duration in the dry run plus BUDGET_SLACK_MS, instead of at the 5 s test timeout.
 *
 * Why: a mutant that leaves a promise unsettled (an audit entry never flushed, a lock never released, a request
 * never answered) makes its test wait, doing nothing, until a timeout ends it. Those waits were most of a run's
 * time (the runs that reached 5 s took 1,060 of 1,357 s). A test that took 200 ms with no mutant is not going to
 * pass after 2 s with one. The dry run (every test, no mutant, same machine, same run) gives each test's
 * duration (`testCostsFile`, written by the config's DryRunCosts reporter); a test it does not list keeps the
 * 5 s timeout. A mutant that only slows a test past its budget counts as detected, as Stryker counts a timeout.
 */
const BUDGET_FACTOR = 3;
const BUDGET_SLACK_MS = 1_500;

/** "describe > test", as vitest's reported TestCase.fullName (the file is not part of it). */
function fullNameOf(task: RunnerTask): string {
  const names = [task.name];
  for (let suite = task.suite; suite && !("filepath" in suite); suite = suite.suite) names.unshift(suite.name);
  return names.join(" > ");
}

function* testsOf(task: RunnerTask): Generator<RunnerTestCase> {
  if (task.type === "test") yield task;
  else for (const child of task.tasks) yield* testsOf(child);
}

/** STEWARD_MUTATION_TEST_BUDGETS=0 turns the budgets off (every test waits the 5 s timeout), to compare. */
const mode = process.env.STEWARD_MUTATION_TEST_BUDGETS === "0" ? "off" : (inject as (key: string) => unknown)("mode");
const costs: Record<string, number> = mode === "mutant" && existsSync(testCostsFile) ? (JSON.parse(readFileSync(testCostsFile, "utf8")) as Record<string, number>) : {};

if (mode === "mutant") {
  // eslint-disable-next-line no-empty-pattern -- vitest passes the file suite as the hook's second argument
  beforeAll(({}, suite) => {
    const file = suite as RunnerTestFile;
    const path = relative(process.cwd(), file.filepath);
    for (const test of testsOf(file)) {
      const cost = costs[testKey(path, fullNameOf(test))];
      if (cost === undefined) continue;
      const budget = Math.ceil(cost * BUDGET_FACTOR) + BUDGET_SLACK_MS;
      const run = getFn(test);
      setFn(test, (...args: Parameters<typeof run>) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`mutation run: the test ran past its budget of ${budget} ms (${Math.round(cost)} ms with no mutant)`)), budget);
          Promise.resolve(run(...args)).then(() => resolve(), reject).finally(() => clearTimeout(timer));
        }),
      );
    }
  });
}
