import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";

/**
 * Demo mode stands in for Zendesk: a local RS256 key pair signs ZAF tokens for the local Zendesk
 * page and the tests. It lives under DATA_DIR so restarts keep it (in memory for DATA_DIR=memory).
 */
export interface DemoZafKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
}

const StoredKey = z.object({ privateKeyPem: z.string(), publicKeyPem: z.string(), createdAt: z.string() });

const cache = new Map<string, DemoZafKey>();

export function demoZafKeyPath(dataDir: string): string | null {
  return dataDir === "memory" ? null : join(resolve(dataDir), "demo-zaf-key.json");
}

function fromPem(privateKeyPem: string): DemoZafKey {
  const privateKey = createPrivateKey(privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

/** Reads the stored demo key if there is one, without creating it (production uses this to refuse it). */
export function readDemoZafKey(dataDir: string): DemoZafKey | null {
  const path = demoZafKeyPath(dataDir);
  if (!path) return cache.get("memory") ?? null;
  const cached = cache.get(path);
  if (cached) return cached;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const key = fromPem(StoredKey.parse(JSON.parse(text)).privateKeyPem);
  cache.set(path, key);
  return key;
}

/** The demo key pair for this DATA_DIR, created on first use. Call only in demo mode. */
export function demoZafKey(dataDir: string): DemoZafKey {
  const existing = readDemoZafKey(dataDir);
  if (existing) return existing;
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const key = fromPem(privateKeyPem);
  const path = demoZafKeyPath(dataDir);
  if (!path) {
    cache.set("memory", key);
    return key;
  }
  mkdirSync(resolve(dataDir), { recursive: true });
  // A complete temp file hard-linked into place never overwrites: processes starting together agree on one key.
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify({ privateKeyPem, publicKeyPem: key.publicKeyPem, createdAt: new Date().toISOString() }, null, 2), { mode: 0o600 });
  try {
    linkSync(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const theirs = readDemoZafKey(dataDir);
    if (!theirs) throw new Error(`the demo ZAF key at ${path} disappeared`, { cause: err });
    return theirs;
  } finally {
    unlinkSync(temp);
  }
  cache.set(path, key);
  return key;
}
