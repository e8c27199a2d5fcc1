import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, type Config } from "../config.js";

/**
 * Bearer secrets in customer mail (a reset link) never rest in the database in the clear: the body
 * keeps a placeholder, the secret is sealed with AES-256-GCM under a key the database does not hold
 * (MAIL_SECRET_KEY; in demo mode a key file under DATA_DIR), opened only to send, erased after.
 */
const ALGORITHM = "aes-256-gcm";
const VERSION = "v1";
export const WITHHELD = "[link withheld: sent only in the email itself]";

export function secretPlaceholder(name: string): string {
  return `{{secret:${name}}}`;
}

const memoryKeys = new Map<string, Buffer>();

function demoKey(dataDir: string): Buffer {
  const cached = memoryKeys.get(dataDir);
  if (cached) return cached;
  if (dataDir === "memory") {
    const key = randomBytes(32);
    memoryKeys.set(dataDir, key);
    return key;
  }
  const path = join(resolve(dataDir), "mail-secret-key");
  let key: Buffer;
  try {
    key = Buffer.from(readFileSync(path, "utf8").trim(), "base64");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    mkdirSync(resolve(dataDir), { recursive: true });
    // Written whole, then linked into place: processes starting together agree on one key.
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, randomBytes(32).toString("base64"), { mode: 0o600 });
    try {
      linkSync(temp, path);
    } catch (linkErr) {
      if ((linkErr as NodeJS.ErrnoException).code !== "EEXIST") throw linkErr;
    } finally {
      unlinkSync(temp);
    }
    key = Buffer.from(readFileSync(path, "utf8").trim(), "base64");
  }
  memoryKeys.set(dataDir, key);
  return key;
}

/** The sealing key: MAIL_SECRET_KEY (base64, 32 bytes), or in demo mode the one under DATA_DIR. */
export function mailSecretKey(config: Pick<Config, "MAIL_SECRET_KEY" | "demo" | "DATA_DIR">): Buffer {
  if (config.MAIL_SECRET_KEY) {
    const key = Buffer.from(config.MAIL_SECRET_KEY, "base64");
    if (key.length !== 32) throw new ConfigError([{ variable: "MAIL_SECRET_KEY", reason: "expected 32 bytes, base64-encoded (openssl rand -base64 32)" }]);
    return key;
  }
  if (!config.demo) throw new ConfigError([{ variable: "MAIL_SECRET_KEY", reason: "required in production mode" }]);
  return demoKey(config.DATA_DIR);
}

export function sealMailSecrets(config: Pick<Config, "MAIL_SECRET_KEY" | "demo" | "DATA_DIR">, secrets: Record<string, string>): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv(ALGORITHM, mailSecretKey(config), iv);
  const sealed = Buffer.concat([cipher.update(JSON.stringify(secrets), "utf8"), cipher.final()]);
  return [VERSION, iv.toString("base64"), cipher.getAuthTag().toString("base64"), sealed.toString("base64")].join(".");
}

/** Throws when the key is not the one that sealed it (or the text was changed). */
export function openMailSecrets(config: Pick<Config, "MAIL_SECRET_KEY" | "demo" | "DATA_DIR">, sealed: string): Record<string, string> {
  const [version, iv, tag, body] = sealed.split(".");
  if (version !== VERSION || !iv || !tag || !body) throw new Error("sealed mail secret in an unknown format");
  const decipher = createDecipheriv(ALGORITHM, mailSecretKey(config), Buffer.from(iv, "base64"));
  decipher.setAuthTag(Buffer.from(tag, "base64"));
  const text = Buffer.concat([decipher.update(Buffer.from(body, "base64")), decipher.final()]).toString("utf8");
  return JSON.parse(text) as Record<string, string>;
}

/** The body with its placeholders filled (to send) or withheld (to show). */
export function renderMailBody(bodyText: string, secrets: Record<string, string> | null): string {
  return bodyText.replace(/\{\{secret:([a-z_]+)\}\}/g, (_m, name: string) => secrets?.[name] ?? WITHHELD);
}

/** Removes secret values from text that may be logged or stored (a transport error quoting the message). */
export function redactSecrets(text: string, secrets: Record<string, string> | null): string {
  let out = text;
  for (const value of Object.values(secrets ?? {})) if (value) out = out.split(value).join("[secret]");
  return out;
}
