import type { CliCommand } from "./commands/command.js";

/**
 * `npm run steward -- <subcommand> …`: one module per subcommand under ./commands, loaded on demand
 * so one command's dependencies never slow another. Add a subcommand by adding a line here.
 */
export const subcommands: Record<string, () => Promise<{ command: CliCommand }>> = {
  "audit verify": () => import("./commands/auditVerify.js"),
  "dev-token": () => import("./commands/devToken.js"),
  "staff grant": () => import("./commands/staffGrant.js"),
  "keys rotate": () => import("./commands/keysRotate.js"),
  "products add": () => import("./commands/productsAdd.js"),
  "directory-check": () => import("./commands/directoryCheck.js"),
};
