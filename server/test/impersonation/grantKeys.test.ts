import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { signDirectoryToken } from "../../src/directory/directoryToken.js";
import { GrantKeys, type KeySource } from "../../src/impersonation/signingKeys.js";

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

async function verifies(keys: GrantKeys, token: string) {
  const { payload } = await jwtVerify(token, createLocalJWKSet((await keys.jwks(NOW)) as never), { issuer: "http://steward.test", audience: "prd_demo", currentDate: NOW });
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
  it("follows a rotation: the next token is signed with the new key", async () => {
    const keys = new GrantKeys(source());
    const before = await keys.current(NOW);
    const { kid } = await keys.rotate(NOW);
    const after = await keys.current(NOW);
    expect(after.kid).toBe(kid);
    expect(after.kid).not.toBe(before.kid);
    expect(after.privateKey).not.toBe(before.privateKey);
    const token = await signDirectoryToken(keys, { actor: null, ticketId: "7" }, { issuer: "http://steward.test", audience: "prd_demo" }, NOW);
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()).kid).toBe(kid);
    expect(await verifies(keys, token)).toBe("system:steward");
  });
});

describe("a key file rotated by another process", () => {
  it("is picked up by a running one: its next current key is the new one", async () => {
    const path = join(dir, "shared-keys.json");
    const running = new GrantKeys({ kind: "file", path, create: true });
    const before = await running.current(NOW);
    // `keys rotate` elsewhere: a second GrantKeys over the same file. The file's mtime must move on.
    await new Promise((r) => setTimeout(r, 20));
    const { kid } = await new GrantKeys({ kind: "file", path, create: false }).rotate(NOW);
    const after = await running.current(NOW);
    expect(after.kid).toBe(kid);
    expect(after.kid).not.toBe(before.kid);
  });
});
