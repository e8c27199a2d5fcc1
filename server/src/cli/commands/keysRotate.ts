import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { systemActor } from "../../actor.js";
import { sql } from "kysely";
import { appendAudit } from "../../audit/auditLog.js";
import { newOperationId } from "../../audit/operations.js";
import { auditKeysOf } from "../../audit/sealKey.js";
import { systemClock } from "../../clock.js";
import { ConfigError, loadConfig } from "../../config.js";
import { openDatabase } from "../../db/database.js";
import { GrantKeys, keySourceOf } from "../../impersonation/signingKeys.js";
import { requireMigrated } from "./cliDatabase.js";
import { UsageError } from "./command.js";

/** `keys rotate`: a new grant signing key; the previous one stays published until its grants expired. Audited. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { "keys-file": { type: "string" }, database: { type: "string" }, "data-dir": { type: "string" } } });
  let config;
  try {
    config = loadConfig(
      {
        ...process.env,
        ...(values["keys-file"] ? { IMPERSONATION_KEYS_FILE: values["keys-file"] } : {}),
        ...(values.database ? { DATABASE_URL: values.database } : {}),
        ...(values["data-dir"] ? { DATA_DIR: values["data-dir"] } : {}),
      },
      {
        givenAs: {
          ...(values["keys-file"] ? { IMPERSONATION_KEYS_FILE: "--keys-file" } : {}),
          ...(values.database ? { DATABASE_URL: "--database" } : {}),
          ...(values["data-dir"] ? { DATA_DIR: "--data-dir" } : {}),
        },
      },
    );
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.commandLine);
    throw err;
  }
  const source = keySourceOf(config);
  if (source.kind === "file") source.create = true;
  if (source.kind === "memory") throw new UsageError("DATA_DIR=memory keeps keys in the server's memory: nothing to rotate from here");
  // The database and the audit key first: a rotation that could not be recorded must not happen at all.
  auditKeysOf(config);
  const database = await openDatabase(config.database);
  let rotated: Awaited<ReturnType<GrantKeys["rotate"]>>;
  try {
    if (!(await requireMigrated(database))) return 1;
    let operator = "unknown";
    try {
      operator = userInfo().username;
    } catch {
      operator = "unknown";
    }
    const base = { actor: systemActor(`cli:${operator}`), action: "impersonation.keys_rotate" as const, ticketId: null, reason: "keys rotated from the command line", operationId: newOperationId() };
    // One rotation at a time (two operators at once would each read the file and one's key would be lost),
    // on one connection holding the lock across the file write.
    rotated = await database.db.connection().execute(async (conn) => {
      await sql`select pg_advisory_lock(hashtext('steward:keys_rotate'))`.execute(conn);
      try {
        // The intent is committed before the file changes: a crash between leaves a pending entry, never a silent rotation.
        await appendAudit(conn, { ...base, target: { type: "system", id: null, accountId: null }, outcome: "pending" }, systemClock);
        let done;
        try {
          done = await new GrantKeys(source).rotate(systemClock.now());
        } catch (err) {
          await appendAudit(conn, { ...base, target: { type: "system", id: null, accountId: null }, outcome: "failed", error: err instanceof Error ? err.message.slice(0, 500) : String(err) }, systemClock);
          throw err;
        }
        await appendAudit(conn, { ...base, target: { type: "system", id: done.kid, accountId: null }, before: { kids: done.retired }, after: { kid: done.kid, activeFrom: done.activeFrom }, outcome: "succeeded" }, systemClock);
        return done;
      } finally {
        await sql`select pg_advisory_unlock(hashtext('steward:keys_rotate'))`.execute(conn);
      }
    });
  } finally {
    await database.close();
  }
  process.stdout.write(`new signing key ${rotated.kid}, published now, signing from ${rotated.activeFrom}${rotated.retired.length ? `; ${rotated.retired.join(", ")} signs until then and stays in the JWKS until its grants expired` : ""}\n`);
  return 0;
}
