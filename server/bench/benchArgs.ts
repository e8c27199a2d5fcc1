import { parseArgs, type ParseArgsConfig } from "node:util";

type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/**
 * Every benchmark's argument parsing: `--help` prints the usage and exits 0; an unknown or malformed
 * option prints one line and the usage and exits 2 (never a stack trace).
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
