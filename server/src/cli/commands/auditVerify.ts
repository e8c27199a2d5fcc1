import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { AuditCheckpoint, checkpointSignatureValid } from "../../audit/checkpoints.js";
import { sealPending } from "../../audit/sealer.js";
import { AuditKeyError, loadAuditKeys, type AuditKeys } from "../../audit/sealKey.js";
import { verifyAuditChain } from "../../audit/verifyChain.js";
import { ConfigError, loadConfig } from "../../config.js";
import { openCliDatabase, requireMigrated } from "./cliDatabase.js";
import { UsageError } from "./command.js";

/** Checkpoint files an auditor kept (a file, or every checkpoint-*.json in a directory), each signature checked. */
function readCheckpoints(path: string, keys: AuditKeys): { chainSeq: number; hash: string }[] {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((f) => /^checkpoint-\d+\.json$/.test(f))
          .map((f) => join(path, f))
      : [path];
  } catch (err) {
    throw new UsageError(`--checkpoints: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // Else the verify would pass without the check the auditor asked for.
  if (files.length === 0) throw new UsageError(`--checkpoints: ${path} holds no checkpoint-*.json files`);
  return files.map((file) => {
    let document: unknown;
    try {
      document = JSON.parse(readFileSync(file, "utf8"));
    } catch {
      throw new UsageError(`--checkpoints: ${file} is not a Steward audit checkpoint (not readable JSON)`);
    }
    const parsed = AuditCheckpoint.safeParse(document);
    if (!parsed.success) throw new UsageError(`--checkpoints: ${file} is not a Steward audit checkpoint`);
    if (!checkpointSignatureValid(keys.publicKey, parsed.data)) throw new UsageError(`--checkpoints: ${file} does not carry a valid signature for this audit key`);
    return { chainSeq: parsed.data.chainSeq, hash: parsed.data.headHash };
  });
}

/**
 * `audit verify`: checks the sealed chain and lists every break; exit 0 when intact, 1 otherwise.
 *
 * It works without a server: holding the audit key anyway (to check MACs), it first seals whatever is
 * committed and not sealed yet, exactly as the server's sealer would (same advisory lock, so a running
 * server on PostgreSQL and this command never both seal). With --no-seal it only reads, and counts
 * entries not sealed yet as such rather than as breaks.
 */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      database: { type: "string" },
      "data-dir": { type: "string" },
      full: { type: "boolean", default: false },
      checkpoints: { type: "string" },
      anchor: { type: "string" },
      "no-seal": { type: "boolean", default: false },
      "batch-size": { type: "string" },
      quiet: { type: "boolean", default: false },
    },
  });
  const anchors: { chainSeq: number; hash: string }[] = [];
  if (values.anchor !== undefined) {
    const match = /^([1-9][0-9]*):([0-9a-f]{64})$/.exec(values.anchor);
    if (!match?.[1] || !match[2]) throw new UsageError(`--anchor: expected SEQ:HASH as printed by an earlier verify (got "${values.anchor.slice(0, 80)}")`);
    anchors.push({ chainSeq: Number(match[1]), hash: match[2] });
  }
  const batchSize = values["batch-size"] === undefined ? undefined : Number(values["batch-size"]);
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) throw new UsageError("--batch-size: expected a positive whole number");

  let keys: AuditKeys;
  try {
    const config = loadConfig({ ...process.env, ...(values["data-dir"] ? { DATA_DIR: values["data-dir"] } : {}) });
    keys = loadAuditKeys(config);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof AuditKeyError) throw new UsageError(err instanceof ConfigError ? err.commandLine : `audit key: ${err.message}`);
    throw err;
  }
  if (values.checkpoints !== undefined) anchors.push(...readCheckpoints(values.checkpoints, keys));

  const database = await openCliDatabase({ database: values.database, dataDir: values["data-dir"] });
  try {
    if (!(await requireMigrated(database))) return 1;
    if (!values["no-seal"]) {
      const sealed = await sealPending(database.db, keys);
      if (sealed.sealed && !values.quiet) process.stderr.write(`sealed ${count(sealed.sealed, "entry", "entries")} committed since the last round\n`);
    }
    const bar = values.quiet
      ? null
      : new cliProgress.SingleBar({ format: "verifying |{bar}| {value}/{total} entries", hideCursor: true, stream: process.stderr, noTTYOutput: false }, cliProgress.Presets.shades_classic);
    // Started at the first progress report: begun at 0/0, the bar drew full before anything was checked.
    let barStarted = false;
    const started = Date.now();
    const result = await verifyAuditChain(database.db, keys, {
      mode: values.full ? "full" : "incremental",
      anchors,
      batchSize,
      onProgress: (checked, total) => {
        if (!bar) return;
        if (!barStarted) {
          bar.start(total, checked);
          barStarted = true;
        } else {
          bar.setTotal(total);
          bar.update(checked);
        }
      },
    });
    if (barStarted) bar?.stop();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    // An incremental verify checks only what came after the last intact one: it says so, so that "intact" is not read as a check of older entries.
    const scope = result.mode === "full" ? "from the first entry" : `after chain position ${result.fromSeq} (the last intact verify; entries up to it were not checked again, --full checks everything)`;
    const pending = result.unsealed ? `; ${count(result.unsealed, "entry", "entries")} committed but not sealed yet` : "";
    const checked = result.mode === "full" ? count(result.entries, "entry", "entries") : count(result.entries, "new entry", "new entries");
    if (result.ok) {
      process.stdout.write(`audit chain intact: ${checked} checked ${scope} in ${seconds} s${pending} (${database.kind} ${database.location})\n`);
      process.stdout.write(`head: ${result.headSeq ?? 0}:${result.headHash} (keep it, or the exported checkpoints, to anchor a later verify)\n`);
      return 0;
    }
    process.stdout.write(`audit chain BROKEN: ${result.breaks.length}${result.truncated ? "+" : ""} ${result.breaks.length === 1 && !result.truncated ? "break" : "breaks"} in ${checked} checked ${scope}${pending}\n`);
    for (const b of result.breaks) {
      const where = b.brokenAt !== null ? `entry ${b.brokenAt}${b.entryId ? ` (id ${b.entryId})` : ""}` : `chain position ${b.chainSeq}`;
      process.stdout.write(`  ${where}: ${b.reason} — ${b.detail}\n`);
    }
    return 1;
  } finally {
    await database.close();
  }
}

/** "1 entry", "2 entries". */
function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
