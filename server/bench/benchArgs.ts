import { resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";

type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/**
 * Every benchmark's argument parsing: `--help` prints the usage and exits 0; an unknown or malformed
 * option prints one line and the usage and exits 2 (never a stack trace). Nothing here loads more than
 * node:util, so a benchmark parses its arguments (and answers --help) before importing what it measures.
 */
export function benchArgs<const O extends OptionsConfig>(usage: string, options: O) {
  if (process.argv.slice(2).includes("--help")) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${usage}\n`);
    process.exit(2);
  }
}

/** A positive whole-number option; a bad value is a usage error (one line, exit 2), not a stack trace. */
export function wholeNumberArg(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name}: expected a positive whole number (got "${String(raw)}"); see --help\n`);
    process.exit(2);
  }
  return n;
}

/** Where the lookup benchmarks' data set lives (see lookupSetup.ts). */
export interface DataSetOptions {
  /** postgres://… or undefined for PGlite in `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  accounts: number;
  usersPerAccount: number;
}

/** The options every lookup benchmark takes. */
export const dataSetArgs = {
  database: { type: "string" },
  "data-dir": { type: "string", default: "./data/bench-pglite" },
  accounts: { type: "string", default: "100000" },
  "users-per-account": { type: "string", default: "10" },
} as const;

export function dataSetOptionsOf(values: { database?: string; "data-dir"?: string; accounts?: string; "users-per-account"?: string }): DataSetOptions {
  return {
    databaseUrl: values.database,
    dataDir: resolve(values["data-dir"] ?? "./data/bench-pglite"),
    accounts: wholeNumberArg("accounts", values.accounts),
    usersPerAccount: wholeNumberArg("users-per-account", values["users-per-account"]),
  };
}

/** `--directory builtin|http` for the lookup benchmarks (http: the demo product, see productDirectory.ts). */
export type DirectoryKind = "builtin" | "http";

export const directoryArg = { directory: { type: "string", default: "builtin" } } as const;

export function directoryKindOf(raw: string | undefined): DirectoryKind {
  if (raw === "builtin" || raw === "http") return raw;
  process.stderr.write(`--directory: expected builtin or http (got "${String(raw)}"); see --help\n`);
  process.exit(2);
}
