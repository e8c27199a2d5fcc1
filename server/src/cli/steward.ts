import { UsageError } from "./commands/command.js";
import { subcommands } from "./subcommands.js";

function list(names: string[]): string {
  const width = Math.max(...names.map((name) => name.length));
  return names.map((name) => `  ${name.padEnd(width)}  ${subcommands[name]?.summary ?? ""}`).join("\n");
}

function help(): string {
  return `usage: npm run steward -- <subcommand> [options]   (npm run steward -- <subcommand> --help for its options)\n\nsubcommands:\n${list(Object.keys(subcommands))}\n`;
}

/** A group's own help ("staff --help"): its subcommands only. */
function groupHelp(group: string, names: string[]): string {
  return `usage: npm run steward -- ${group} <subcommand> [options]   (npm run steward -- ${group} <subcommand> --help for its options)\n\n${group} subcommands:\n${list(names)}\n`;
}

async function main(argv: string[]): Promise<number> {
  // Longest match first, so "staff grant" wins over a hypothetical "staff".
  const name = Object.keys(subcommands)
    .sort((a, b) => b.split(" ").length - a.split(" ").length)
    .find((candidate) => candidate.split(" ").every((word, i) => argv[i] === word));
  const command = name ? subcommands[name] : undefined;
  if (!name || !command) {
    // Asked for: the list on stdout (it can be piped), exit 0. Anything else is a usage mistake: stderr, exit 2.
    if (["help", "--help", "-h"].includes(argv[0] ?? "")) {
      process.stdout.write(help());
      return 0;
    }
    const asked = argv.filter((a) => !a.startsWith("-")).join(" ");
    const group = Object.keys(subcommands).filter((candidate) => candidate.startsWith(`${argv[0] ?? ""} `));
    // A group name asking for help is asked-for help too, not a half command.
    if (group.length && asked === argv[0] && (argv.includes("--help") || argv.includes("-h"))) {
      process.stdout.write(groupHelp(asked, group));
      return 0;
    }
    const mistake = !asked ? "no subcommand given" : group.length && asked === argv[0] ? `${asked}: which one? ${group.join(", ")}` : `unknown subcommand: ${asked}`;
    process.stderr.write(`${mistake}\n\n${help()}`);
    return 2;
  }
  const rest = argv.slice(name.split(" ").length);
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.summary}\n\nusage: npm run steward -- ${command.usage}\n`);
    return 0;
  }
  // Only now the command's own modules (and the config's): the usage above needed none of them.
  const { loadEnvFile } = await import("../config.js");
  // Same settings as the server: ./.env (or ENV_FILE) when present; the environment wins.
  loadEnvFile();
  const { run } = await command.load();
  try {
    return await run(rest);
  } catch (err) {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    if (!usage) throw err;
    process.stderr.write(`${(err as Error).message}\nusage: npm run steward -- ${command.usage}\n`);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`steward failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
