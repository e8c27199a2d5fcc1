import { createHash, createPrivateKey, createPublicKey, hkdfSync, randomBytes, type KeyObject } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, type Config } from "../config.js";

/**
 * The audit key: one secret the database never holds (AUDIT_SEAL_KEY / AUDIT_SEAL_KEY_FILE, or in demo
 * mode a file under DATA_DIR). Three keys are derived from it, one per job, so none can stand in for another:
 * the entry MAC written at append time (catches rows inserted by anyone without the key), the chain MAC the
 * sealer writes (catches rewrite, deletion and reordering), and an Ed25519 key that signs checkpoints an
 * auditor can check with the public key alone.
 */
export interface AuditKeys {
  entryKey: Buffer;
  chainKey: Buffer;
  signingKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  /** Short fingerprint of the public key, recorded with each checkpoint. */
  keyId: string;
}

const SECRET_PATTERN = /^[0-9a-f]{64,}$/i;

export class AuditKeyError extends Error {
  override name = "AuditKeyError";
}

function derive(secret: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), info, 32));
}

/** Ed25519 private key from a 32-byte seed: the fixed PKCS#8 prefix for Ed25519 followed by the seed. */
function ed25519FromSeed(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]), format: "der", type: "pkcs8" });
}

export function auditKeysFromSecret(hex: string): AuditKeys {
  const text = hex.trim();
  if (!SECRET_PATTERN.test(text) || text.length % 2 !== 0) throw new AuditKeyError("the audit key must be at least 64 hex characters (32 random bytes)");
  const secret = Buffer.from(text, "hex");
  const signingKey = ed25519FromSeed(derive(secret, "steward-audit-checkpoint-ed25519-v1"));
  const publicKey = createPublicKey(signingKey);
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const keyId = createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex").slice(0, 16);
  return { entryKey: derive(secret, "steward-audit-entry-mac-v1"), chainKey: derive(secret, "steward-audit-chain-mac-v1"), signingKey, publicKey, publicKeyPem, keyId };
}

export function demoAuditKeyPath(dataDir: string): string | null {
  return dataDir === "memory" ? null : join(resolve(dataDir), "audit-seal-key");
}

let memorySecret: string | undefined;

/** The demo secret for this DATA_DIR, created on first use (hard-linked into place so processes starting together agree). */
export function demoAuditSecret(dataDir: string): string {
  const path = demoAuditKeyPath(dataDir);
  if (!path) return (memorySecret ??= randomBytes(32).toString("hex"));
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(resolve(dataDir), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  try {
    linkSync(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    unlinkSync(temp);
  }
  return readFileSync(path, "utf8").trim();
}

/** The key from the configuration: AUDIT_SEAL_KEY, else AUDIT_SEAL_KEY_FILE, else (demo only) the data dir's. */
export function loadAuditKeys(config: { demo: boolean; AUDIT_SEAL_KEY?: string; AUDIT_SEAL_KEY_FILE?: string; DATA_DIR: string }): AuditKeys {
  if (config.AUDIT_SEAL_KEY) return auditKeysFromSecret(config.AUDIT_SEAL_KEY);
  if (config.AUDIT_SEAL_KEY_FILE) {
    let text: string;
    try {
      text = readFileSync(config.AUDIT_SEAL_KEY_FILE, "utf8");
    } catch (err) {
      throw new AuditKeyError(`cannot read AUDIT_SEAL_KEY_FILE: ${(err as Error).message}`);
    }
    return auditKeysFromSecret(text);
  }
  if (!config.demo) throw new AuditKeyError("AUDIT_SEAL_KEY or AUDIT_SEAL_KEY_FILE is required in production mode");
  return auditKeysFromSecret(demoAuditSecret(config.DATA_DIR));
}

/*
 * appendAudit keeps its (executor, input, clock) signature, which every caller uses, so the key it MACs
 * with is installed once per process at start-up (server, CLI, benchmark, test set-up) rather than passed.
 */
let installed: AuditKeys | undefined;

export function installAuditKeys(keys: AuditKeys): void {
  installed = keys;
}

export function auditKeys(): AuditKeys {
  if (!installed) throw new AuditKeyError("no audit key installed: start-up must call installAuditKeys first");
  return installed;
}

/** The audit key from the configuration, installed for appendAudit; a bad key stops start-up with one line. */
export function auditKeysOf(config: Config): AuditKeys {
  try {
    const keys = loadAuditKeys(config);
    installAuditKeys(keys);
    return keys;
  } catch (err) {
    if (err instanceof AuditKeyError) throw new ConfigError([{ variable: config.AUDIT_SEAL_KEY ? "AUDIT_SEAL_KEY" : "AUDIT_SEAL_KEY_FILE", reason: err.message }]);
    throw err;
  }
}
