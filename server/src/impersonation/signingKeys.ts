import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { calculateJwkThumbprint, type JWK } from "jose";
import { z } from "zod";
import { GRANT_MAX_SECONDS } from "../../../shared/schemas/impersonation.js";
import { ConfigError, type Config } from "../config.js";

/**
 * The keys that sign impersonation grants (ES256, `kid` = JWK thumbprint). A key set is a JSON file
 * every Steward process and `keys rotate` share. A rotated-in key is published first and signs only
 * from `activeFrom` (products may cache the JWKS for its max-age); the key it replaces signs until
 * then (`retiredAt`) and stays in the JWKS until every grant it signed has expired (grants live ≤ 60 s).
 * Demo: the file lives under DATA_DIR and is created on first use. Production: IMPERSONATION_KEYS_FILE
 * (created by `npm run steward -- keys rotate`) or one key in IMPERSONATION_SIGNING_KEY; start-up is
 * refused without either.
 */
export const ALG = "ES256";
/** Clock skew a product may have: a retired key is published this much longer. */
const SKEW_SECONDS = 30;
/** How long products may cache the JWKS (its Cache-Control max-age). */
export const JWKS_MAX_AGE_SECONDS = 30;
/** A new key is in the JWKS this long before it signs: a cached JWKS has been fetched again meanwhile, even on a skewed clock. */
const PUBLISH_AHEAD_SECONDS = JWKS_MAX_AGE_SECONDS + SKEW_SECONDS;

/** `activeFrom`: when it starts signing (absent in sets written before keys were published ahead: createdAt). `retiredAt`: when it stops. */
const StoredKey = z.object({ kid: z.string(), privateJwk: z.record(z.string(), z.unknown()), createdAt: z.string(), activeFrom: z.string().optional(), retiredAt: z.string().nullable() });
const StoredSet = z.object({ keys: z.array(StoredKey).min(1) });
type StoredKey = z.infer<typeof StoredKey>;

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
}

export type KeySource = { kind: "file"; path: string; create: boolean } | { kind: "env"; pem: string } | { kind: "memory" };

async function newKey(now: Date, activeFrom = now): Promise<StoredKey> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const privateJwk = privateKey.export({ format: "jwk" }) as Record<string, unknown>;
  const kid = await calculateJwkThumbprint(publicJwkOf(privateJwk) as JWK);
  return { kid, privateJwk, createdAt: now.toISOString(), activeFrom: activeFrom.toISOString(), retiredAt: null };
}

function activeFromOf(key: StoredKey): number {
  return new Date(key.activeFrom ?? key.createdAt).getTime();
}

function publicJwkOf(privateJwk: Record<string, unknown>): Record<string, unknown> {
  const { kty, crv, x, y } = privateJwk;
  return { kty, crv, x, y };
}

function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  renameSync(temp, path);
}

/** Creates the file only if nobody else did: processes starting together agree on one key set. */
function createOnce(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  try {
    linkSync(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    unlinkSync(temp);
  }
}

export class GrantKeys {
  private memory: StoredKey[] | null = null;
  private cached: { mtimeMs: number; keys: StoredKey[] } | null = null;
  /** The key from the environment, parsed once (it cannot change while the process runs). */
  private fromEnv: Promise<StoredKey[]> | null = null;
  /** The signing key object of the current kid: every directory request signs, and parsing a JWK each time cost more than signing. */
  private signing: SigningKey | null = null;

  constructor(readonly source: KeySource) {}

  private async load(now: Date): Promise<StoredKey[]> {
    const source = this.source;
    if (source.kind === "env") {
      return (this.fromEnv ??= (async () => {
        const privateKey = createPrivateKey(source.pem);
        const privateJwk = privateKey.export({ format: "jwk" }) as Record<string, unknown>;
        return [{ kid: await calculateJwkThumbprint(publicJwkOf(privateJwk) as JWK), privateJwk, createdAt: new Date(0).toISOString(), retiredAt: null }];
      })());
    }
    if (source.kind === "memory") return (this.memory ??= [await newKey(now)]);
    let mtimeMs: number;
    try {
      mtimeMs = statSync(source.path).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      if (!source.create) throw new ConfigError([{ variable: "IMPERSONATION_KEYS_FILE", reason: `${source.path} does not exist; create it with npm run steward -- keys rotate` }]);
      createOnce(source.path, JSON.stringify({ keys: [await newKey(now)] }, null, 2));
      mtimeMs = statSync(source.path).mtimeMs;
    }
    // Another process (keys rotate) may have changed the file: re-read it when it did.
    if (this.cached?.mtimeMs === mtimeMs) return this.cached.keys;
    const keys = StoredSet.parse(JSON.parse(readFileSync(source.path, "utf8"))).keys;
    this.cached = { mtimeMs, keys };
    return keys;
  }

  /** The key that signs new grants: the newest one whose time to sign has come (one only published yet does not). */
  async current(now: Date): Promise<SigningKey> {
    const keys = await this.load(now);
    const active = keys.filter((k) => activeFromOf(k) <= now.getTime()).at(-1) ?? keys[0];
    if (!active) throw new Error("the impersonation key set is empty");
    if (this.signing?.kid !== active.kid) this.signing = { kid: active.kid, privateKey: createPrivateKey({ key: active.privateJwk as JsonWebKey, format: "jwk" }) };
    return this.signing;
  }

  /** The public keys products should trust now: those about to sign, the current one, and those retired less than a grant's life ago. */
  async jwks(now: Date): Promise<{ keys: Record<string, unknown>[] }> {
    const keys = await this.load(now);
    const horizon = now.getTime() - (GRANT_MAX_SECONDS + SKEW_SECONDS) * 1000;
    return {
      keys: keys
        .filter((k) => k.retiredAt === null || new Date(k.retiredAt).getTime() > horizon)
        .map((k) => ({ ...publicJwkOf(k.privateJwk), kid: k.kid, alg: ALG, use: "sig" })),
    };
  }

  /** The public key for a `kid`, if it is still published. */
  async publicKey(kid: string, now: Date): Promise<KeyObject | null> {
    const published = (await this.jwks(now)).keys.find((k) => k.kid === kid);
    return published ? createPublicKey({ key: published as JsonWebKey, format: "jwk" }) : null;
  }

  /**
   * Makes a new key that signs from `activeFrom` (at once for the first key: nothing to be ahead of); the
   * key(s) not yet retired sign until then. Keys no longer published are dropped from the file.
   */
  async rotate(now: Date): Promise<{ kid: string; activeFrom: string; retired: string[] }> {
    if (this.source.kind === "env") throw new ConfigError([{ variable: "IMPERSONATION_SIGNING_KEY", reason: "a key from the environment is rotated by replacing it (or use IMPERSONATION_KEYS_FILE)" }]);
    const existing = this.source.kind === "file" ? this.readForRotation() : await this.load(now);
    const horizon = now.getTime() - (GRANT_MAX_SECONDS + SKEW_SECONDS) * 1000;
    const activeFrom = new Date(now.getTime() + (existing.length ? PUBLISH_AHEAD_SECONDS * 1000 : 0));
    const retired = existing.filter((k) => k.retiredAt === null).map((k) => k.kid);
    // A key retired by an earlier rotation still within its grants' life (or not yet retired) is kept.
    const kept = existing
      .filter((k) => k.retiredAt === null || new Date(k.retiredAt).getTime() > horizon)
      .map((k) => (k.retiredAt === null ? { ...k, retiredAt: activeFrom.toISOString() } : k));
    const fresh = await newKey(now, activeFrom);
    const keys = [...kept, fresh];
    if (this.source.kind === "file") {
      writeAtomically(this.source.path, JSON.stringify({ keys }, null, 2));
      this.cached = null;
    } else this.memory = keys;
    return { kid: fresh.kid, activeFrom: activeFrom.toISOString(), retired };
  }

  private readForRotation(): StoredKey[] {
    const source = this.source as Extract<KeySource, { kind: "file" }>;
    try {
      return StoredSet.parse(JSON.parse(readFileSync(source.path, "utf8"))).keys;
    } catch (err) {
      // Rotating a missing file creates it: that is how production gets its first key.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  }
}

export function keySourceOf(config: Config): KeySource {
  if (config.IMPERSONATION_SIGNING_KEY) return { kind: "env", pem: config.IMPERSONATION_SIGNING_KEY.replace(/\\n/g, "\n") };
  if (config.IMPERSONATION_KEYS_FILE) return { kind: "file", path: resolve(config.IMPERSONATION_KEYS_FILE), create: config.demo };
  if (!config.demo) {
    throw new ConfigError([{ variable: "IMPERSONATION_KEYS_FILE", reason: "required in production mode (or IMPERSONATION_SIGNING_KEY): the key that signs impersonation grants" }]);
  }
  return config.DATA_DIR === "memory" ? { kind: "memory" } : { kind: "file", path: join(resolve(config.DATA_DIR), "impersonation-keys.json"), create: true };
}

const stores = new Map<string, GrantKeys>();

/** One key store per source in a process (tests with DATA_DIR=memory share one). */
export function grantKeysFor(config: Config): GrantKeys {
  const source = keySourceOf(config);
  const id = source.kind === "file" ? `file:${source.path}` : source.kind === "env" ? `env:${source.pem}` : "memory";
  let store = stores.get(id);
  if (!store) stores.set(id, (store = new GrantKeys(source)));
  return store;
}
