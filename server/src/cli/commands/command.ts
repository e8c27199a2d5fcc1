/**
 * One `npm run steward -- <name> …` subcommand as the registry (../subcommands.ts) lists it: what --help
 * prints, and its module, imported only when the command runs.
 */
export interface CliCommand {
  summary: string;
  usage: string;
  /** The module under ./commands that does the work; `run` returns the process exit code. */
  load(): Promise<{ run(args: string[]): Promise<number> }>;
}

/** A usage mistake: printed with the command's usage line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
