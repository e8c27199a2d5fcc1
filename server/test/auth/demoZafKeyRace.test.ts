import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type * as Crypto from "node:crypto";

/**
 * Two processes creating the demo ZAF key at once. The loser's window is its key generation (synchronous),
 * so the other process's write is placed there: `generateKeyPairSync` runs the hook first, then generates as
 * always. Everything else (files, links, reads) is real.
 */
const during = vi.hoisted(() => ({ keyGeneration: null as (() => void) | null }));
vi.mock("node:crypto", async (importOriginal) => {
  const real = await importOriginal<typeof Crypto>();
  return {
    ...real,
    generateKeyPairSync: ((...args: Parameters<typeof real.generateKeyPairSync>) => {
      const hook = during.keyGeneration;
      during.keyGeneration = null;
      hook?.();
      return (real.generateKeyPairSync as (...a: unknown[]) => unknown)(...args);
    }) as typeof real.generateKeyPairSync,
  };
});

// A fresh copy of the module, with the hook: another test file in this thread may have imported it already.
vi.resetModules();
const { generateKeyPairSync } = await vi.importActual<typeof Crypto>("node:crypto");
const { demoZafKey, demoZafKeyPath } = await import("../../src/auth/demoZafKey.js");

afterEach(() => {
  during.keyGeneration = null;
});

describe("the demo ZAF key when another process stores it first", () => {
  it("the process that loses the race uses the key the other stored, leaves it as it was, and no temp file", () => {
    const dir = mkdtempSync(join(tmpdir(), "steward-demo-key-lost-"));
    try {
      const path = demoZafKeyPath(dir)!;
      const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const theirs = JSON.stringify({ privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(), createdAt: "2026-01-01T00:00:00.000Z" });
      // After this process found no key, and before it links its own into place.
      during.keyGeneration = () => writeFileSync(path, theirs, { mode: 0o600 });
      const key = demoZafKey(dir);
      expect(during.keyGeneration).toBeNull();
      expect(key.publicKeyPem).toBe(publicKey.export({ type: "spki", format: "pem" }).toString());
      expect(readFileSync(path, "utf8")).toBe(theirs);
      expect(readdirSync(dir)).toEqual(["demo-zaf-key.json"]);
      // Later calls agree on that key.
      expect(demoZafKey(dir).publicKeyPem).toBe(key.publicKeyPem);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
