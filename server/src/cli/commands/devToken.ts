import { parseArgs } from "node:util";
import { mintDemoZafToken } from "../../auth/mintDemoZafToken.js";
import { issueSessionToken } from "../../auth/sessionToken.js";
import { systemClock } from "../../clock.js";
import { ConfigError, loadConfig } from "../../config.js";
import { DEMO_AGENTS } from "../../seed/demoAgents.js";
import { UsageError } from "./command.js";

/**
 * `dev-token --agent <zendeskUserId>`: prints a session token for a demo agent (demo mode only), for
 * curl and scripts. It needs no database, so it works while the server holds the PGlite directory.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { agent: { type: "string" }, zaf: { type: "boolean", default: false }, ticket: { type: "string" } } });
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.commandLine);
    throw err;
  }
  if (!config.demo) {
    process.stderr.write("dev-token works only in demo mode (STEWARD_MODE=demo): production sessions come from Zendesk's signed token\n");
    return 1;
  }
  if (!values.agent) throw new UsageError("--agent: give the Zendesk user id of a demo agent");
  const agent = DEMO_AGENTS.find((a) => a.zendeskUserId === values.agent);
  if (!agent) {
    throw new UsageError(`--agent: ${values.agent} is not a demo agent (${DEMO_AGENTS.map((a) => `${a.zendeskUserId} ${a.role}`).join(", ")})`);
  }
  if (values.ticket !== undefined && !/^[1-9][0-9]{0,18}$/.test(values.ticket)) throw new UsageError("--ticket: expected a Zendesk ticket id");
  const deps = { config, clock: systemClock };
  const token = values.zaf
    ? await mintDemoZafToken(deps, { zendeskUserId: agent.zendeskUserId, name: agent.name, email: agent.email, ticketId: values.ticket })
    : (await issueSessionToken(deps, { staffId: agent.id, zendeskUserId: agent.zendeskUserId })).token;
  process.stdout.write(`${token}\n`);
  return 0;
}
