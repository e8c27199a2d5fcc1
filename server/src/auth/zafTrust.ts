import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError, type Config } from "../config.js";
import { demoZafKey, readDemoZafKey } from "./demoZafKey.js";

/** The installation id demo tokens carry when ZAF_INSTALLATION_ID is not set (demo mode only). */
export const DEMO_INSTALLATION_ID = "steward-demo-installation";

/** The Zendesk account (issuer) and installation (audience) that ZAF tokens and Steward sessions are bound to. */
export interface ZafBinding {
  /** The account host in both forms Zendesk may write it: https://acme.zendesk.com and acme.zendesk.com. */
  issuers: string[];
  /** The canonical issuer that Steward's own tokens carry. */
  issuer: string;
  audience: string;
}

/** What a ZAF token must match: the app's public key(s), the Zendesk account and the installation. */
export interface ZafTrust extends ZafBinding {
  /** Keys tried in order; production trusts exactly the configured app key. */
  keys: KeyObject[];
}

export function zafBinding(config: Config): ZafBinding {
  const issuer = config.zendeskIssuer;
  const audience = config.ZAF_INSTALLATION_ID ?? (config.demo ? DEMO_INSTALLATION_ID : undefined);
  if (!issuer) throw new ConfigError([{ variable: "ZENDESK_SUBDOMAIN", reason: "required to verify Zendesk app tokens" }]);
  if (!audience) throw new ConfigError([{ variable: "ZAF_INSTALLATION_ID", reason: "required to verify Zendesk app tokens" }]);
  return { issuers: [issuer, new URL(issuer).host], issuer, audience };
}

const cache = new WeakMap<Config, ZafTrust>();

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    // A missing or unreadable file is a setting to fix: the same one line naming it, not a bare ENOENT.
    throw new ConfigError([{ variable: "ZAF_APP_PUBLIC_KEY_FILE", reason: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }]);
  }
}

function configuredKey(config: Config): KeyObject | null {
  const pem = config.ZAF_APP_PUBLIC_KEY ?? (config.ZAF_APP_PUBLIC_KEY_FILE ? readKeyFile(config.ZAF_APP_PUBLIC_KEY_FILE) : undefined);
  if (!pem) return null;
  try {
    // Operators paste PEMs into env files with literal "\n"s.
    return createPublicKey(pem.replace(/\\n/g, "\n"));
  } catch (err) {
    throw new ConfigError([{ variable: config.ZAF_APP_PUBLIC_KEY ? "ZAF_APP_PUBLIC_KEY" : "ZAF_APP_PUBLIC_KEY_FILE", reason: `not a PEM public key (${(err as Error).message})` }]);
  }
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: "spki", format: "der" }).equals(b.export({ type: "spki", format: "der" }));
}

/** Builds (once per config) the trust anchors; refuses the demo key in production mode. */
export function zafTrust(config: Config): ZafTrust {
  const cached = cache.get(config);
  if (cached) return cached;
  const binding = zafBinding(config);
  const configured = configuredKey(config);
  const keys: KeyObject[] = [];
  if (config.demo) {
    if (configured) keys.push(configured);
    keys.push(demoZafKey(config.DATA_DIR).publicKey);
  } else {
    if (!configured) throw new ConfigError([{ variable: "ZAF_APP_PUBLIC_KEY", reason: "required in production mode" }]);
    const demo = readDemoZafKey(config.DATA_DIR);
    if (demo && sameKey(demo.publicKey, configured)) {
      throw new ConfigError([{ variable: "ZAF_APP_PUBLIC_KEY", reason: "this is Steward's demo key; production mode trusts only the Zendesk app's key" }]);
    }
    keys.push(configured);
  }
  const trust: ZafTrust = { ...binding, keys };
  cache.set(config, trust);
  return trust;
}
