import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { systemActor } from "../../actor.js";
import { appendAudit } from "../../audit/auditLog.js";
import { systemClock } from "../../clock.js";
import { ConfigError, loadConfig } from "../../config.js";
import { openDatabase } from "../../db/database.js";
import { GrantKeys, keySourceOf } from "../../impersonation/signingKeys.js";
import { UsageError } from "./command.js";

/** `keys rotate`: a new grant signing key; the previous one stays published until its grants expired. Audited. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { "keys-file": { type: "string" }, database: { type: "string" }, "data-dir": { type: "string" } } });
  let config;
  try {
    config = loadConfig({
      ...process.env,
      ...(values["keys-file"] ? { IMPERSONATION_KEYS_FILE: values["keys-file"] } : {}),
      ...(values.database ? { DATABASE_URL: values.database } : {}),
      ...(values["data-dir"] ? { DATA_DIR: values["data-dir"] } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.line);
    throw err;
  }
  const source = keySourceOf(config);
  if (source.kind === "file") source.create = true;
  if (source.kind === "memory") throw new UsageError("DATA_DIR=memory keeps keys in the server's memory: nothing to rotate from here");
  const now = systemClock.now();
  const rotated = await new GrantKeys(source).rotate(now);
  const database = await openDatabase(config.database);
  try {
    let operator = "unknown";
    try {
      operator = userInfo().username;
    } catch {
      operator = "unknown";
    }
    await appendAudit(
      database.db,
      { actor: systemActor(`cli:${operator}`), action: "impersonation.keys_rotate", target: { type: "system", id: rotated.kid, accountId: null }, ticketId: null, reason: "keys rotated from the command line", before: { kids: rotated.retired }, after: { kid: rotated.kid, activeFrom: rotated.activeFrom }, outcome: "succeeded" },
      systemClock,
    );
  } finally {
    await database.close();
  }
  process.stdout.write(`new signing key ${rotated.kid}, published now, signing from ${rotated.activeFrom}${rotated.retired.length ? `; ${rotated.retired.join(", ")} signs until then and stays in the JWKS until its grants expired` : ""}\n`);
  return 0;
}
