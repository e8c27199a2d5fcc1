import { createHash, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Kysely, Selectable } from "kysely";
import { z } from "zod";
import type { AuditCheckpointTable, DB } from "../db/schema.js";
import type { AuditKeys } from "./sealKey.js";

/**
 * A signed statement "the chain had entryCount entries, ending at chainSeq with headHash, at createdAt".
 * The sealer writes one every N entries or T seconds and hands it to the configured sinks (a directory,
 * an HTTP endpoint), so an auditor keeps copies the database cannot take back: a later verify against
 * them catches a rewritten or cut-off chain even by someone who holds the database.
 */
export const AuditCheckpoint = z.object({
  chainSeq: z.number().int().positive(),
  headHash: z.string().regex(/^[0-9a-f]{64}$/),
  entryCount: z.number().int().nonnegative(),
  createdAt: z.iso.datetime(),
  keyId: z.string(),
  signature: z.string().regex(/^[0-9a-f]+$/),
});
export type AuditCheckpoint = z.infer<typeof AuditCheckpoint>;

const CHECKPOINT_DOMAIN = "steward-audit-checkpoint-v1\n";

function payload(cp: Omit<AuditCheckpoint, "signature">): Buffer {
  return Buffer.from(`${CHECKPOINT_DOMAIN}${cp.chainSeq}\n${cp.headHash}\n${cp.entryCount}\n${cp.createdAt}\n${cp.keyId}`);
}

export function signCheckpoint(keys: Pick<AuditKeys, "signingKey" | "keyId">, cp: Omit<AuditCheckpoint, "signature" | "keyId">): AuditCheckpoint {
  const unsigned = { ...cp, keyId: keys.keyId };
  return { ...unsigned, signature: sign(null, payload(unsigned), keys.signingKey).toString("hex") };
}

/** Checks the signature with the public key alone (what an auditor holds). */
export function checkpointSignatureValid(publicKey: KeyObject, cp: AuditCheckpoint): boolean {
  try {
    return verify(null, payload(cp), publicKey, Buffer.from(cp.signature, "hex"));
  } catch {
    return false;
  }
}

export function toCheckpoint(row: Selectable<AuditCheckpointTable>): AuditCheckpoint {
  return { chainSeq: row.chain_seq, headHash: row.head_hash, entryCount: row.entry_count, createdAt: row.created_at.toISOString(), keyId: row.key_id, signature: row.signature };
}

export async function latestCheckpoint(db: Kysely<DB>): Promise<AuditCheckpoint | null> {
  const row = await db.selectFrom("audit_checkpoint").selectAll().orderBy("chain_seq", "desc").limit(1).executeTakeFirst();
  return row ? toCheckpoint(row) : null;
}

export interface CheckpointSinks {
  dir?: string;
  url?: string;
  timeoutMs?: number;
}

export function checkpointFileName(cp: Pick<AuditCheckpoint, "chainSeq">): string {
  return `checkpoint-${String(cp.chainSeq).padStart(12, "0")}.json`;
}

/** One configured sink: `key` names it in audit_checkpoint_export (the directory's absolute path, or the endpoint). */
export interface CheckpointSink {
  key: string;
  write(cp: AuditCheckpoint, publicKeyPem: string): Promise<void>;
}

export function checkpointSinksOf(sinks: CheckpointSinks): CheckpointSink[] {
  const list: CheckpointSink[] = [];
  const { dir, url } = sinks;
  if (dir) list.push({ key: `dir:${resolve(dir)}`, write: (cp, pem) => writeCheckpointFile(dir, cp, pem) });
  if (url) list.push({ key: urlSinkKey(url), write: (cp, pem) => postCheckpoint(url, cp, pem, sinks.timeoutMs) });
  return list;
}

/** The endpoint's address without its query (which may carry a credential), told apart from others by a digest of the whole. */
function urlSinkKey(url: string): string {
  const { origin, pathname } = new URL(url);
  return `url:${origin}${pathname}#${createHash("sha256").update(url).digest("hex").slice(0, 16)}`;
}

const checkpointDocument = (cp: AuditCheckpoint, publicKeyPem: string) => JSON.stringify({ ...cp, publicKeyPem }, null, 2);

/**
 * Written whole under a name of its own, flushed, then renamed and the directory flushed: an auditor's copy is
 * never a half-written file, two processes writing the same checkpoint do not share a temporary file, and once
 * this returns the file survives a power cut (the export is then recorded as done).
 */
async function writeCheckpointFile(dir: string, cp: AuditCheckpoint, publicKeyPem: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, checkpointFileName(cp));
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const file = await open(temporary, "w");
  try {
    await file.writeFile(`${checkpointDocument(cp, publicKeyPem)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
  const directory = await open(dir, "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

async function postCheckpoint(url: string, cp: AuditCheckpoint, publicKeyPem: string, timeoutMs = 5000): Promise<void> {
  // Redirects are not followed: a 301-303 would resend the POST as a body-less GET whose 200 reads as taken.
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: checkpointDocument(cp, publicKeyPem), redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`checkpoint sink ${new URL(url).origin} answered ${res.status}`);
}

/** Hands one checkpoint to every sink; a failing sink throws. */
export async function exportCheckpoint(sinks: CheckpointSinks, cp: AuditCheckpoint, publicKeyPem: string): Promise<void> {
  for (const sink of checkpointSinksOf(sinks)) await sink.write(cp, publicKeyPem);
}
