import { UsageError, type CliCommand } from "./commands/command.js";

/**
 * `npm run steward -- <subcommand> …`: one module per subcommand under ./commands, loaded on demand
 * so one command's dependencies never slow another. Add a subcommand by adding a line here.
 */
const subcommands: Record<string, () => Promise<{ command: CliCommand }>> = {
  "audit verify": () => import("./commands/auditVerify.js"),
  "dev-token": () => import("./commands/devToken.js"),
  "staff grant": () => import("./commands/staffGrant.js"),
  "keys rotate": () => import("./commands/keysRotate.js"),
  "products add": () => import("./commands/productsAdd.js"),
};

function help(): string {
  return `usage: npm run steward -- <subcommand> [options]\n\nsubcommands:\n${Object.keys(subcommands)
    .map((name) => `  ${name}`)
    .join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  // Longest match first, so "staff grant" wins over a hypothetical "staff".
  const name = Object.keys(subcommands)
    .sort((a, b) => b.split(" ").length - a.split(" ").length)
    .find((candidate) => candidate.split(" ").every((word, i) => argv[i] === word));
  const load = name ? subcommands[name] : undefined;
  if (!name || !load) {
    const asked = argv.filter((a) => !a.startsWith("-")).join(" ");
    process.stderr.write(`${asked && !["help", "--help"].includes(argv[0] ?? "") ? `unknown subcommand: ${asked}\n\n` : ""}${help()}`);
    return asked && argv[0] !== "help" ? 2 : 0;
  }
  const { command } = await load();
  try {
    return await command.run(argv.slice(name.split(" ").length));
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
