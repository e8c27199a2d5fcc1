import { sign, verify, type KeyObject } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
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

/** Hands one checkpoint to every sink; a failing sink throws (the sealer retries it on its next round). */
export async function exportCheckpoint(sinks: CheckpointSinks, cp: AuditCheckpoint, publicKeyPem: string): Promise<void> {
  const document = JSON.stringify({ ...cp, publicKeyPem }, null, 2);
  if (sinks.dir) {
    mkdirSync(sinks.dir, { recursive: true });
    // Written whole, then renamed: an auditor's copy is never a half-written file.
    const path = join(sinks.dir, checkpointFileName(cp));
    writeFileSync(`${path}.tmp`, `${document}\n`);
    renameSync(`${path}.tmp`, path);
  }
  if (sinks.url) {
    // Redirects are not followed: a 301-303 would resend the POST as a body-less GET whose 200 reads as taken.
    const res = await fetch(sinks.url, { method: "POST", headers: { "content-type": "application/json" }, body: document, redirect: "manual", signal: AbortSignal.timeout(sinks.timeoutMs ?? 5000) });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`checkpoint sink ${new URL(sinks.url).origin} answered ${res.status}`);
  }
}
