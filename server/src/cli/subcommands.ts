import { DEMO_AGENTS } from "../seed/demoAgents.js";
import type { CliCommand } from "./commands/command.js";

/**
 * `npm run steward -- <subcommand> …`: each one's usage, and its module under ./commands (exporting `run`),
 * imported only when it runs, so --help loads none of the server and one command never slows another.
 * Add a subcommand by adding an entry here.
 */
export const subcommands: Record<string, CliCommand> = {
  "audit verify": {
    summary: "Verify the sealed audit log (MACs, chain, checkpoints)",
    usage: "audit verify [--database postgres://…] [--data-dir DIR] [--full] [--checkpoints FILE|DIR] [--anchor SEQ:HASH] [--no-seal] [--batch-size N] [--quiet]",
    load: () => import("./commands/auditVerify.js"),
  },
  "dev-token": {
    summary: "Print a Steward session token (or with --zaf a ZAF token) for a demo agent",
    usage: `dev-token --agent <${DEMO_AGENTS.map((a) => a.zendeskUserId).join("|")}> [--zaf] [--ticket ID]`,
    load: () => import("./commands/devToken.js"),
  },
  "staff grant": {
    summary: "Give a Zendesk agent a panel role (e.g. the first admin)",
    usage: "staff grant --zendesk-user <id> --role <support_read_only|support_full|operations|admin> [--email E] [--name N] [--reason TEXT] [--database postgres://…] [--data-dir DIR]",
    load: () => import("./commands/staffGrant.js"),
  },
  "keys rotate": {
    summary: "Rotate the key that signs impersonation grants",
    usage: "keys rotate [--keys-file PATH] [--database postgres://…] [--data-dir DIR]",
    load: () => import("./commands/keysRotate.js"),
  },
  "products add": {
    summary: "Register a product that accepts impersonation grants; prints its secret once",
    usage: "products add --name NAME --url https://app.example.com [--id prd_…] [--database postgres://…] [--data-dir DIR]",
    load: () => import("./commands/productsAdd.js"),
  },
  "directory-check": {
    summary: "Check a product's implementation of the directory contract (pass/fail table; exit 1 on any fail)",
    usage: "directory-check --url https://app.example.com --key keys.json|key.pem --audience PRODUCT_ID --user USER_ID [--issuer https://steward.example.com]",
    load: () => import("./commands/directoryCheck.js"),
  },
};
