import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { sql } from "kysely";
import { verifyAuditChain } from "../../audit/verifyChain.js";
import { openCliDatabase, UsageError, type CliCommand } from "./command.js";

/** `audit verify`: walks the hash chain; exit 0 when intact, 1 at the first broken link (named). */
export const command: CliCommand = {
  summary: "Verify the audit log's hash chain",
  usage: "audit verify [--database postgres://…] [--data-dir DIR] [--anchor SEQ:HASH] [--batch-size N] [--quiet]",
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        database: { type: "string" },
        "data-dir": { type: "string" },
        anchor: { type: "string" },
        "batch-size": { type: "string" },
        quiet: { type: "boolean", default: false },
      },
    });
    let anchor: { seq: number; hash: string } | undefined;
    if (values.anchor !== undefined) {
      const match = /^([1-9][0-9]*):([0-9a-f]{64})$/.exec(values.anchor);
      if (!match?.[1] || !match[2]) throw new UsageError(`--anchor: expected SEQ:HASH as printed by an earlier verify (got "${values.anchor.slice(0, 80)}")`);
      anchor = { seq: Number(match[1]), hash: match[2] };
    }
    const batchSize = values["batch-size"] === undefined ? undefined : Number(values["batch-size"]);
    if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) throw new UsageError("--batch-size: expected a positive whole number");

    const database = await openCliDatabase({ database: values.database, dataDir: values["data-dir"] });
    try {
      const table = await sql<{ found: string | null }>`select to_regclass('audit_log')::text as found`.execute(database.db);
      if (!table.rows[0]?.found) {
        process.stderr.write(`no audit log in ${database.kind} ${database.location}: run npm run db:migrate first\n`);
        return 1;
      }
      const bar = values.quiet
        ? null
        : new cliProgress.SingleBar({ format: "verifying |{bar}| {value}/{total} entries", hideCursor: true, stream: process.stderr, noTTYOutput: false }, cliProgress.Presets.shades_classic);
      bar?.start(0, 0);
      const started = Date.now();
      const result = await verifyAuditChain(database.db, {
        anchor,
        batchSize,
        onProgress: (checked, total) => {
          bar?.setTotal(total);
          bar?.update(checked);
        },
      });
      bar?.stop();
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (result.ok) {
        process.stdout.write(`audit chain intact: ${result.entries} entries in ${seconds} s (${database.kind} ${database.location})\n`);
        process.stdout.write(`head: ${result.headSeq ?? 0}:${result.headHash} (keep it; pass it as --anchor next time to also catch a cut-off tail)\n`);
        return 0;
      }
      const entry = result.entryId ? `entry ${result.brokenAt} (id ${result.entryId})` : `entry ${result.brokenAt}`;
      process.stdout.write(`audit chain BROKEN at ${entry}: ${result.reason} — ${result.detail}\n`);
      process.stdout.write(`${result.entries} entries verified before the break\n`);
      return 1;
    } finally {
      await database.close();
    }
  },
};
