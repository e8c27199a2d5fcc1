import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

/**
 * `npm run mutation:confirm`: the survivors of the last `npm run mutation`, tried once more with Stryker's own
 * pool (a new thread and fresh imports per run) before they count.
 *
 * The kept thread of the mutation run (keptWorkerPool.ts) imports the app once; a mutant whose code ran only
 * while a module or the setup file was first imported (a key derived at start, a constant built from a call)
 * cannot act in it, and is reported surviving although a fresh import kills it. Seen on sealKey.ts (8 mutants
 * on one line: 2 killed kept, 8 fresh). Trying only the survivors again keeps the fast pool for the ~90% a
 * run kills, and the figure honest.
 *
 * Reads reports/mutation/mutation.json, runs Stryker on the survivors' exact ranges with
 * STEWARD_MUTATION_FRESH_THREADS=1, writes reports/mutation/mutation.confirmed.json (the first report with
 * each survivor a fresh run killed marked so) and prints both scores.
 */
const { values } = parseArgs({
  options: {
    report: { type: "string", default: "reports/mutation/mutation.json" },
    out: { type: "string", default: "reports/mutation/mutation.confirmed.json" },
    concurrency: { type: "string", default: "2" },
  },
});

interface Position {
  line: number;
  column: number;
}
interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: Position; end: Position };
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
  [key: string]: unknown;
}

const DETECTED = new Set(["Killed", "Timeout"]);
const COUNTED = new Set(["Killed", "Timeout", "Survived", "NoCoverage"]);

/** Same mutant in two runs: file, place, mutator and replacement (ids differ from run to run). */
const keyOf = (file: string, m: Mutant) => `${file}|${m.location.start.line}:${m.location.start.column}-${m.location.end.line}:${m.location.end.column}|${m.mutatorName}|${m.replacement ?? ""}`;

function score(report: Report): { detected: number; counted: number; percent: number } {
  let detected = 0;
  let counted = 0;
  for (const file of Object.values(report.files)) {
    for (const m of file.mutants) {
      if (DETECTED.has(m.status)) detected++;
      if (COUNTED.has(m.status)) counted++;
    }
  }
  return { detected, counted, percent: counted === 0 ? 100 : (100 * detected) / counted };
}

function main(): void {
  if (!existsSync(values.report)) throw new Error(`no report at ${values.report}: run npm run mutation first`);
  const report = JSON.parse(readFileSync(values.report, "utf8")) as Report;
  // Stryker's mutation ranges count columns from 0, the report from 1.
  const ranges: string[] = [];
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const m of mutants) {
      if (m.status !== "Survived") continue;
      const { start, end } = m.location;
      ranges.push(`${file}:${start.line}:${start.column - 1}-${end.line}:${end.column - 1}`);
    }
  }
  const before = score(report);
  process.stdout.write(`${ranges.length} survivors of ${before.counted} mutants to try with fresh imports\n`);
  if (ranges.length === 0) return;

  const confirmReport = "reports/mutation/confirm-run.json";
  const config = JSON.parse(readFileSync("stryker.config.json", "utf8")) as Record<string, unknown>;
  const configFile = "reports/mutation/confirm.stryker.json";
  writeFileSync(
    configFile,
    JSON.stringify({
      ...config,
      $schema: undefined,
      mutate: [...new Set(ranges)],
      incremental: false,
      concurrency: Number(values.concurrency),
      reporters: ["progress", "json"],
      jsonReporter: { fileName: confirmReport },
      htmlReporter: undefined,
    }),
  );
  const run = spawnSync("npx", ["stryker", "run", configFile], { stdio: "inherit", env: { ...process.env, STEWARD_MUTATION_FRESH_THREADS: "1" } });
  if (run.status !== 0) throw new Error(`the confirming Stryker run ended with ${run.status}`);

  const again = JSON.parse(readFileSync(confirmReport, "utf8")) as Report;
  const fresh = new Map<string, string>();
  for (const [file, { mutants }] of Object.entries(again.files)) for (const m of mutants) fresh.set(keyOf(file, m), m.status);
  let turned = 0;
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const m of mutants) {
      if (m.status !== "Survived") continue;
      const status = fresh.get(keyOf(file, m));
      if (status && DETECTED.has(status)) {
        m.status = status;
        turned++;
      }
    }
  }
  writeFileSync(values.out, JSON.stringify(report));
  const after = score(report);
  process.stdout.write(`${turned} of ${ranges.length} survivors are killed with fresh imports\n`);
  process.stdout.write(`score: ${before.percent.toFixed(2)}% as run (kept thread), ${after.percent.toFixed(2)}% confirmed (${after.detected} of ${after.counted}); ${values.out}\n`);
}

main();
