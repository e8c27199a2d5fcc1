import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { signDirectoryToken } from "../../src/directory/directoryToken.js";
import { GRANT_MAX_SECONDS } from "../../../shared/schemas/impersonation.js";
import { GrantKeys, JWKS_MAX_AGE_SECONDS, type KeySource } from "../../src/impersonation/signingKeys.js";

/**
 * Every directory request signs a token, so the signing key is parsed once per key, not per request —
 * and still follows a rotation (by this process, or by another one rewriting the key file).
 */
const NOW = new Date("2026-03-02T10:00:00Z");
const dir = mkdtempSync(join(tmpdir(), "steward-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sources: [string, () => KeySource][] = [
  ["memory", () => ({ kind: "memory" })],
  ["file", () => ({ kind: "file", path: join(dir, `keys-${Math.random().toString(36).slice(2)}.json`), create: true })],
  ["env", () => ({ kind: "env", pem: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString() })],
];

async function verifies(keys: GrantKeys, token: string, now = NOW) {
  const { payload } = await jwtVerify(token, createLocalJWKSet((await keys.jwks(now)) as never), { issuer: "http://steward.test", audience: "prd_demo", currentDate: now });
  return payload.sub;
}

describe.each(sources)("the signing key from %s", (_kind, source) => {
  it("is the same key object on every call while the key stands, and its tokens verify against the published keys", async () => {
    const keys = new GrantKeys(source());
    const first = await keys.current(NOW);
    const second = await keys.current(NOW);
    expect(second.kid).toBe(first.kid);
    expect(second.privateKey).toBe(first.privateKey);
    const token = await signDirectoryToken(keys, { actor: null, ticketId: "7" }, { issuer: "http://steward.test", audience: "prd_demo" }, NOW);
    expect(await verifies(keys, token)).toBe("system:steward");
  });
});

// A key from the environment is rotated by replacing it (and restarting), so only these two rotate in place.
describe.each(sources.filter(([kind]) => kind !== "env"))("the signing key from %s", (_kind, source) => {
  it("follows a rotation: once the new key's time to sign has come, the next token is signed with it", async () => {
    const keys = new GrantKeys(source());
    const before = await keys.current(NOW);
    const { kid, activeFrom } = await keys.rotate(NOW);
    expect((await keys.current(NOW)).kid).toBe(before.kid);
    const later = new Date(activeFrom);
    const after = await keys.current(later);
    expect(after.kid).toBe(kid);
    expect(after.kid).not.toBe(before.kid);
    expect(after.privateKey).not.toBe(before.privateKey);
    const token = await signDirectoryToken(keys, { actor: null, ticketId: "7" }, { issuer: "http://steward.test", audience: "prd_demo" }, later);
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()).kid).toBe(kid);
    expect(await verifies(keys, token, later)).toBe("system:steward");
  });
});

describe("a key file rotated by another process", () => {
  it("is picked up by a running one: its next current key is the new one", async () => {
    const path = join(dir, "shared-keys.json");
    const running = new GrantKeys({ kind: "file", path, create: true });
    const before = await running.current(NOW);
    // `keys rotate` elsewhere: a second GrantKeys over the same file. The file's mtime must move on.
    await new Promise((r) => setTimeout(r, 20));
    const { kid, activeFrom } = await new GrantKeys({ kind: "file", path, create: false }).rotate(NOW);
    expect((await running.jwks(NOW)).keys.map((k) => k.kid)).toContain(kid);
    const after = await running.current(new Date(activeFrom));
    expect(after.kid).toBe(kid);
    expect(after.kid).not.toBe(before.kid);
  });
});

/**
 * Rotation against products that cache the JWKS for its max-age: on a 1 s timeline (injected clock) with
 * two rotations 10 s apart and a third later, every key that signs was in the JWKS a product fetched up to
 * a max-age earlier, and every key that signed a grant still unexpired (plus skew) is still published.
 */
describe.each(sources.filter(([kind]) => kind !== "env"))("rotation with cached JWKS, from %s", (_kind, source) => {
  it("publishes a new key a cache lifetime before it signs, and keeps the previous one until its grants expired", async () => {
    const keys = new GrantKeys(source());
    const start = NOW.getTime();
    const rotations = new Set([100, 110, 400]);
    const history: { signer: string; published: string[] }[] = [];
    const rotated: string[] = [];
    for (let s = 0; s <= 700; s++) {
      const now = new Date(start + s * 1000);
      if (rotations.has(s)) rotated.push((await keys.rotate(now)).kid);
      history.push({ signer: (await keys.current(now)).kid, published: (await keys.jwks(now)).keys.map((k) => k.kid as string) });
    }
    // Every rotated-in key signed at some point (the second rotation did not skip the first's key for good).
    expect(new Set(history.map((h) => h.signer))).toEqual(new Set([history[0]!.signer, ...rotated]));
    for (let t = 0; t < history.length; t++) {
      // A product that fetched the JWKS up to max-age (30 s) ago knows the key signing now.
      for (let f = Math.max(0, t - JWKS_MAX_AGE_SECONDS); f <= t; f++) expect(history[f]!.published, `signed at ${t}s, JWKS fetched at ${f}s`).toContain(history[t]!.signer);
      // A grant signed up to its life (60 s) plus 30 s of skew ago still verifies.
      for (let g = Math.max(0, t - GRANT_MAX_SECONDS - 30); g <= t; g++) expect(history[t]!.published, `signed at ${g}s, checked at ${t}s`).toContain(history[g]!.signer);
    }
    // Keys long out of use are dropped from the set (not kept for ever).
    expect(history.at(-1)!.published).toEqual([rotated.at(-1)]);
  });
});
