import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecretKey } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../../shared/audit.js";
import { canonicalJson, entryMac, jsonValue, sealedEntryHash, verifiedMac, type EntryContent } from "../../src/audit/auditHash.js";
import { cursorBinding, decodeCursor, encodeCursor } from "../../src/audit/auditQuery.js";
import { AuditCheckpoint, checkpointFileName, checkpointSignatureValid, exportCheckpoint, signCheckpoint } from "../../src/audit/checkpoints.js";
import { AuditKeyError, auditKeys, auditKeysFromSecret, auditKeysOf, demoAuditKeyPath, demoAuditSecret, loadAuditKeys } from "../../src/audit/sealKey.js";
import { ConfigError, type Config } from "../../src/config.js";
import { TEST_AUDIT_SECRET } from "../support/testConfig.js";

/**
 * What the entry MAC and the sealed-entry hash cover: every field. Dropping, renaming or ignoring any
 * one of them breaks these (the fixed known answers are in auditLog.test.ts, checked independently).
 */
const keys = auditKeysFromSecret("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");

const FIXED: EntryContent = {
  id: "2f0c5a6e-8d7b-4c1e-9f3a-1b2c3d4e5f60",
  occurredAt: "2026-11-24T12:00:00.123Z",
  actor: { staffId: "stf_test_1", zendeskUserId: "7001", email: "Agent1@Example.test", panelRole: "support_full", system: null },
  action: "user.suspend",
  target: { type: "user", id: "usr_demo_001_1", accountId: "acc_demo_001" },
  ticketId: "1001",
  reason: "customer asked on the phone",
  before: { status: "active", version: 3 },
  after: { status: "suspended", version: 4 },
  outcome: "succeeded",
  error: null,
  requestId: "req-42",
  operationId: "op-7",
  ticketSnapshot: {
    id: "1001",
    subject: "Locked out",
    status: "open",
    requester: { id: "50001", email: "ann@example.test", externalId: "usr_demo_001_1", organizationId: null, name: "Ann" },
    assigneeId: null,
    match: "email",
    overrideReason: null,
    fetchedAt: "2026-11-24T11:59:59.000Z",
  },
  approval: { requestId: "apr_1", requestedBy: { staffId: "stf_test_1", email: "agent1@example.test" }, approvedBy: { staffId: "stf_test_3", email: "ops@example.test" } },
};

/** Every covered field, nested ones by path, with a different value of the same type. */
const VARIANTS: [string, (e: EntryContent) => EntryContent][] = [
  ["id", (e) => ({ ...e, id: "2f0c5a6e-8d7b-4c1e-9f3a-1b2c3d4e5f61" })],
  ["occurredAt", (e) => ({ ...e, occurredAt: "2026-11-24T12:00:00.124Z" })],
  ["actor.staffId", (e) => ({ ...e, actor: { ...e.actor, staffId: "stf_test_2" } })],
  ["actor.zendeskUserId", (e) => ({ ...e, actor: { ...e.actor, zendeskUserId: "7002" } })],
  ["actor.email", (e) => ({ ...e, actor: { ...e.actor, email: "agent1@example.test" } })],
  ["actor.panelRole", (e) => ({ ...e, actor: { ...e.actor, panelRole: "admin" } })],
  ["actor.system", (e) => ({ ...e, actor: { ...e.actor, system: "sweeper" } })],
  ["action", (e) => ({ ...e, action: "user.unblock" })],
  ["target.type", (e) => ({ ...e, target: { ...e.target, type: "account" } })],
  ["target.id", (e) => ({ ...e, target: { ...e.target, id: "usr_demo_001_2" } })],
  ["target.accountId", (e) => ({ ...e, target: { ...e.target, accountId: "acc_demo_002" } })],
  ["ticketId", (e) => ({ ...e, ticketId: "1002" })],
  ["reason", (e) => ({ ...e, reason: "customer asked on the phone." })],
  ["before", (e) => ({ ...e, before: { status: "active", version: 2 } })],
  ["after", (e) => ({ ...e, after: { status: "suspended", version: 5 } })],
  ["outcome", (e) => ({ ...e, outcome: "failed" })],
  ["error", (e) => ({ ...e, error: "boom" })],
  ["requestId", (e) => ({ ...e, requestId: "req-43" })],
  ["operationId", (e) => ({ ...e, operationId: "op-8" })],
  ["ticketSnapshot.subject", (e) => ({ ...e, ticketSnapshot: { ...e.ticketSnapshot!, subject: "Locked out!" } })],
  ["ticketSnapshot.match", (e) => ({ ...e, ticketSnapshot: { ...e.ticketSnapshot!, match: "override", overrideReason: "customer called from the admin's phone" } })],
  ["ticketSnapshot.requester.email", (e) => ({ ...e, ticketSnapshot: { ...e.ticketSnapshot!, requester: { ...e.ticketSnapshot!.requester, email: "bob@example.test" } } })],
  ["ticketSnapshot (dropped)", (e) => ({ ...e, ticketSnapshot: null })],
  ["approval.approvedBy", (e) => ({ ...e, approval: { ...e.approval!, approvedBy: { staffId: "stf_test_4", email: "admin@example.test" } } })],
  ["approval (dropped)", (e) => ({ ...e, approval: null })],
];

describe("what the audit MACs cover", () => {
  const mac = entryMac(keys, FIXED);

  it("the entry MAC covers every field: changing any one of them changes it", () => {
    expect(VARIANTS.map(([path]) => path.split(/[. ]/)[0]).filter((k, i, all) => all.indexOf(k) === i).sort()).toEqual(Object.keys(FIXED).sort());
    expect(VARIANTS.filter(([, vary]) => entryMac(keys, vary(FIXED)) === mac).map(([path]) => path)).toEqual([]);
  });

  it("the sealed-entry hash covers every field, the seq and the MAC", () => {
    const sealed = (content: EntryContent, seq = 7, entryMacValue = mac): EntryContent & Pick<AuditEntry, "seq" | "mac"> => ({ ...content, seq, mac: entryMacValue });
    const hash = sealedEntryHash(sealed(FIXED));
    expect(VARIANTS.filter(([, vary]) => sealedEntryHash(sealed(vary(FIXED))) === hash).map(([path]) => path)).toEqual([]);
    expect(sealedEntryHash(sealed(FIXED, 8))).not.toBe(hash);
    expect(sealedEntryHash(sealed(FIXED, 7, "0".repeat(64)))).not.toBe(hash);
  });
});

describe("the serialisation and marks the MACs rest on (known answers)", () => {
  it("canonical JSON: keys sorted at every level, undefined members dropped, arrays kept in order and comma-separated", () => {
    expect(canonicalJson({ b: [1, "x", null, [true, {}], { z: 1, y: [2, 3] }], a: { d: undefined, c: 2 } })).toBe('{"a":{"c":2},"b":[1,"x",null,[true,{}],{"y":[2,3],"z":1}]}');
    expect(canonicalJson([])).toBe("[]");
    expect(canonicalJson({})).toBe("{}");
    expect(canonicalJson("ü\u2028\"")).toBe('"ü\u2028\\""');
    // What cannot occur after jsonValue() still serialises as null rather than vanishing.
    expect(canonicalJson(undefined)).toBe("null");
    expect(canonicalJson([undefined, () => 1])).toBe("[null,null]");
  });

  it("jsonValue gives what jsonb gives back: dates as ISO text, undefined dropped (null in arrays), nothing → null", () => {
    expect(jsonValue({ at: new Date("2026-11-24T12:00:00.000Z"), gone: undefined, list: [1, undefined], nested: { n: null } })).toEqual({ at: "2026-11-24T12:00:00.000Z", list: [1, null], nested: { n: null } });
    for (const nothing of [undefined, null, () => 1, Symbol("s")]) expect(jsonValue(nothing), String(nothing)).toBeNull();
    expect(jsonValue("text")).toBe("text");
    expect(jsonValue(0)).toBe(0);
  });

  it("the verified mark's MAC (checked with openssl: HKDF-SHA256 chain key, HMAC-SHA256 over the domain and fields)", () => {
    const mark = { chainSeq: 12, headHash: "ab".repeat(32), verifiedAt: "2026-11-24T12:00:00.000Z" };
    expect(verifiedMac(keys, mark)).toBe("466cebf061c8f346bef480a5bf31a079b2b3e4850746c481c321442d26149cc6");
    expect(verifiedMac(keys, { ...mark, chainSeq: 13 })).not.toBe(verifiedMac(keys, mark));
  });
});

describe("the audit key from the configuration", () => {
  const SECRET = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  const KEY_ID = "018299866a146631";
  const withDir = <T>(use: (dir: string) => T): T => {
    const dir = mkdtempSync(join(tmpdir(), "steward-audit-key-"));
    try {
      return use(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("takes 32 or more random bytes as hex, in either case and with surrounding blanks; anything else is refused", () => {
    expect(auditKeysFromSecret(` ${SECRET.toUpperCase()}\n`).keyId).toBe(KEY_ID);
    expect(auditKeysFromSecret(`${SECRET}abcd`).keyId).not.toBe(KEY_ID);
    // Each derived key is its own: none can stand in for another.
    const derived = auditKeysFromSecret(SECRET);
    expect(derived.entryKey.equals(derived.chainKey)).toBe(false);
    expect(derived.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(() => auditKeysFromSecret("")).toThrow(expect.objectContaining({ name: "AuditKeyError" }));
    for (const bad of [SECRET.slice(2), `${SECRET}a`, `${SECRET.slice(1)}g`, `x${SECRET}`, `${SECRET}x`, ""]) {
      expect(() => auditKeysFromSecret(bad), bad).toThrow(new AuditKeyError("the audit key must be at least 64 hex characters (32 random bytes)"));
    }
  });

  it("AUDIT_SEAL_KEY first, else AUDIT_SEAL_KEY_FILE, else the demo key under DATA_DIR; production needs one of the first two", () => {
    withDir((dir) => {
      const file = join(dir, "seal-key");
      writeFileSync(file, `${SECRET}\n`);
      expect(loadAuditKeys({ demo: false, AUDIT_SEAL_KEY: SECRET, AUDIT_SEAL_KEY_FILE: join(dir, "absent"), DATA_DIR: dir }).keyId).toBe(KEY_ID);
      expect(loadAuditKeys({ demo: false, AUDIT_SEAL_KEY_FILE: file, DATA_DIR: dir }).keyId).toBe(KEY_ID);
      expect(() => loadAuditKeys({ demo: true, AUDIT_SEAL_KEY_FILE: join(dir, "absent"), DATA_DIR: dir })).toThrow(/^cannot read AUDIT_SEAL_KEY_FILE: ENOENT/);
      expect(() => loadAuditKeys({ demo: false, DATA_DIR: dir })).toThrow(new AuditKeyError("AUDIT_SEAL_KEY or AUDIT_SEAL_KEY_FILE is required in production mode"));
      const demo = loadAuditKeys({ demo: true, DATA_DIR: dir });
      expect(demo.keyId).toBe(auditKeysFromSecret(readFileSync(join(dir, "audit-seal-key"), "utf8")).keyId);
    });
  });

  it("the demo key is made once per DATA_DIR, readable by its owner only, and kept; without a directory it lives in memory", () => {
    withDir((dir) => {
      const data = join(dir, "data");
      expect(demoAuditKeyPath(data)).toBe(join(data, "audit-seal-key"));
      const secret = demoAuditSecret(data);
      expect(secret).toMatch(/^[0-9a-f]{64}$/);
      expect(statSync(join(data, "audit-seal-key")).mode & 0o777).toBe(0o600);
      expect(demoAuditSecret(data)).toBe(secret);
      // The file holds the secret and a newline; the temporary file it was linked from is gone.
      expect(readFileSync(join(data, "audit-seal-key"), "utf8")).toBe(`${secret}\n`);
      expect(readdirSync(data)).toEqual(["audit-seal-key"]);
    });
    expect(demoAuditKeyPath("memory")).toBeNull();
    const inMemory = demoAuditSecret("memory");
    expect(inMemory).toMatch(/^[0-9a-f]{64}$/);
    expect(demoAuditSecret("memory")).toBe(inMemory);
  });

  it("a bad key stops start-up naming the variable it came from; a good one is installed for appendAudit", () => {
    const config = (env: Partial<Config>) => ({ demo: false, DATA_DIR: "memory", ...env }) as Config;
    expect(() => auditKeysOf(config({ AUDIT_SEAL_KEY: "abc" }))).toThrow(ConfigError);
    expect(() => auditKeysOf(config({ AUDIT_SEAL_KEY: "abc" }))).toThrow(/^AUDIT_SEAL_KEY: the audit key must be/);
    expect(() => auditKeysOf(config({ AUDIT_SEAL_KEY_FILE: "/nonexistent/seal-key" }))).toThrow(/^AUDIT_SEAL_KEY_FILE: cannot read AUDIT_SEAL_KEY_FILE/);
    expect(() => auditKeysOf(config({}))).toThrow(/^AUDIT_SEAL_KEY_FILE: AUDIT_SEAL_KEY or AUDIT_SEAL_KEY_FILE is required/);
    // Only an AuditKeyError becomes a configuration error; anything else (a DATA_DIR under a file) passes through as it is.
    withDir((dir) => {
      writeFileSync(join(dir, "file"), "");
      expect(() => auditKeysOf({ ...config({}), demo: true, DATA_DIR: join(dir, "file", "data") })).toThrow(expect.objectContaining({ code: "ENOTDIR" }));
    });
    // The tests' own key again (the setup file installed it), as a new object: installed, not merely equal.
    const installed = auditKeysOf(config({ AUDIT_SEAL_KEY: TEST_AUDIT_SECRET }));
    expect(auditKeys()).toBe(installed);
  });
});

describe("the audit search cursor", () => {
  const cursorOf = (text: string) => Buffer.from(text).toString("base64url");
  const unknown = { status: 400, code: "invalid_request", detail: "The cursor is not one this API returned", extra: { errors: [{ field: "query.cursor", reason: "unknown cursor; pass nextCursor from the previous page" }] } };

  it("is the entry's time and seq and its query's binding behind a prefix, base64url, and reads back exactly", () => {
    expect(encodeCursor({ occurredAt: "2026-11-24T12:00:00.123Z", seq: 7 }, "b1")).toBe(cursorOf("at2:2026-11-24T12:00:00.123Z|7|b1"));
    expect(decodeCursor(cursorOf("at2:2026-11-24T12:00:00.123Z|7|b1"), "b1")).toEqual({ occurredAt: new Date("2026-11-24T12:00:00.123Z"), seq: 7 });
    expect(decodeCursor(cursorOf("at2:2026-11-24T12:00:00.000Z|1|b1"), "b1").seq).toBe(1);
  });

  it("refuses anything else, old unbound cursors included, as a bad request naming query.cursor", () => {
    for (const text of ["at:2026-11-24T12:00:00.123Z|7", "xx:2026-11-24T12:00:00.123Z|7|b1", "2026-11-24T12:00:00.123Z|7|b1", "at2:2026-11-24T12:00:00.123Z|0|b1", "at2:2026-11-24T12:00:00.123Z|-1|b1", "at2:2026-11-24T12:00:00.123Z|1.5|b1", "at2:2026-11-24T12:00:00.123Z|9007199254740993|b1", "at2:2026-11-24T12:00:00.123Z||b1", "at2:yesterday|7|b1", "at2:2026-11-24T12:00:00Z|7|b1", "at2:|7|b1", "at2:2026-11-24T12:00:00.123Z|7", "at2:2026-11-24T12:00:00.123Z|7|", "at2:2026-11-24T12:00:00.123Z|7|b1|b1"]) {
      expect(() => decodeCursor(cursorOf(text), "b1"), text).toThrow(expect.objectContaining(unknown));
    }
  });

  it("refuses a cursor issued for another query, naming query.cursor", () => {
    expect(() => decodeCursor(cursorOf("at2:2026-11-24T12:00:00.123Z|7|b1"), "b2")).toThrow(
      expect.objectContaining({ status: 400, code: "invalid_request", extra: { errors: [{ field: "query.cursor", reason: expect.stringContaining("another query") }] } }),
    );
  });

  it("binds each filter in the form the search compares it: an email in any case, an instant in any offset", () => {
    const keys = ["actor", "from", "to", "ticketId"];
    const base = cursorBinding("audit", "desc", { actor: "agent@example.test", from: "2026-03-01T00:00:00.000Z", to: "2026-03-02T00:00:00.000Z" }, keys);
    expect(cursorBinding("audit", "desc", { actor: "Agent@Example.TEST", from: "2026-03-01T01:00:00+01:00", to: "2026-03-01T23:00:00-01:00" }, keys)).toBe(base);
    expect(cursorBinding("audit", "desc", { actor: "AGENT@example.test", from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00.000000Z" }, keys)).toBe(base);
    for (const other of [
      cursorBinding("audit", "desc", { actor: "agent2@example.test", from: "2026-03-01T00:00:00.000Z", to: "2026-03-02T00:00:00.000Z" }, keys),
      cursorBinding("audit", "desc", { actor: "agent@example.test", from: "2026-03-01T00:00:00.001Z", to: "2026-03-02T00:00:00.000Z" }, keys),
      cursorBinding("audit", "desc", { actor: "agent@example.test", from: "2026-03-02T00:00:00.000Z", to: "2026-03-01T00:00:00.000Z" }, keys),
    ]) {
      expect(other).not.toBe(base);
    }
    // A staff id (no @) is compared exactly: its case is part of it.
    expect(cursorBinding("audit", "desc", { actor: "stf_Demo" }, keys)).not.toBe(cursorBinding("audit", "desc", { actor: "stf_demo" }, keys));
  });

  it("binds the route, the order and the given filters, in any key order, and nothing else", () => {
    const keys = ["actor", "action", "ticketId"];
    const base = cursorBinding("audit", "desc", { action: "user.suspend", ticketId: "7" }, keys);
    expect(cursorBinding("audit", "desc", { ticketId: "7", action: "user.suspend", actor: undefined, limit: 4, cursor: "c" }, keys)).toBe(base);
    for (const other of [
      cursorBinding("audit", "desc", { action: "user.suspend" }, keys),
      cursorBinding("audit", "desc", { action: "user.suspend", ticketId: "8" }, keys),
      cursorBinding("audit", "desc", { action: "user.suspend", ticketId: "7", actor: "stf_1" }, keys),
      cursorBinding("audit", "asc", { action: "user.suspend", ticketId: "7" }, keys),
      cursorBinding("console", "desc", { action: "user.suspend", ticketId: "7" }, keys),
    ]) {
      expect(other).not.toBe(base);
    }
  });
});

describe("the signed checkpoint", () => {
  const cp = signCheckpoint(keys, { chainSeq: 10, headHash: "ab".repeat(32), entryCount: 10, createdAt: "2026-11-24T12:00:00.000Z" });

  it("signs the domain and every field, in order, with the key's Ed25519 key (checked with Python's cryptography over the same text)", () => {
    expect(cp).toEqual({
      chainSeq: 10,
      headHash: "ab".repeat(32),
      entryCount: 10,
      createdAt: "2026-11-24T12:00:00.000Z",
      keyId: "018299866a146631",
      signature: "17d86e0e37348caff348a484ad11d88e5dadd69e12933141a5242b1ad69a594a2b3d2bf7c3d4620b083aebbe4a404de235229a696aa332f7bddd3a1a20b2eb0f",
    });
    expect(checkpointSignatureValid(keys.publicKey, cp)).toBe(true);
    const changed: Partial<AuditCheckpoint>[] = [{ chainSeq: 11 }, { headHash: "ac".repeat(32) }, { entryCount: 9 }, { createdAt: "2026-11-24T12:00:00.001Z" }, { keyId: "018299866a146632" }, { signature: "00" }, { signature: "not hex" }];
    expect(changed.filter((change) => checkpointSignatureValid(keys.publicKey, { ...cp, ...change }))).toEqual([]);
    // A key verify cannot use at all fails the check instead of throwing.
    expect(checkpointSignatureValid(createSecretKey(keys.chainKey), cp)).toBe(false);
  });

  it("as an auditor's copy: the schema takes only well-formed checkpoints, the file name sorts by position", () => {
    expect(AuditCheckpoint.parse(cp)).toEqual(cp);
    for (const bad of [{ chainSeq: 0 }, { chainSeq: 1.5 }, { headHash: "AB".repeat(32) }, { headHash: "ab".repeat(31) }, { headHash: `${"ab".repeat(32)}0` }, { entryCount: -1 }, { createdAt: "yesterday" }, { signature: "xyz" }, { signature: "" }]) {
      expect(AuditCheckpoint.safeParse({ ...cp, ...bad }).success, JSON.stringify(bad)).toBe(false);
    }
    expect(AuditCheckpoint.parse({ ...cp, entryCount: 0 }).entryCount).toBe(0);
    expect(checkpointFileName({ chainSeq: 10 })).toBe("checkpoint-000000000010.json");
    expect(checkpointFileName({ chainSeq: 123456789012 })).toBe("checkpoint-123456789012.json");
  });

  it("a directory sink: whole files only, also when writers race on one checkpoint (two processes at a catch-up)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steward-checkpoint-dir-"));
    try {
      await Promise.all(Array.from({ length: 8 }, () => exportCheckpoint({ dir: join(dir, "nested") }, cp, keys.publicKeyPem)));
      // One file, no temporary left behind, the document whole.
      expect(readdirSync(join(dir, "nested"))).toEqual([checkpointFileName(cp)]);
      expect(JSON.parse(readFileSync(join(dir, "nested", checkpointFileName(cp)), "utf8"))).toEqual({ ...cp, publicKeyPem: keys.publicKeyPem });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an HTTP sink gets it as JSON with the public key; a refusal throws naming the sink's origin and status", async () => {
    const bodies: { contentType: string | undefined; method: string | undefined; body: unknown }[] = [];
    let status = 200;
    const sink = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        bodies.push({ contentType: req.headers["content-type"], method: req.method, body: JSON.parse(body) });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
    const origin = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    try {
      await exportCheckpoint({ url: `${origin}/cp?token=secret` }, cp, keys.publicKeyPem);
      expect(bodies).toEqual([{ contentType: "application/json", method: "POST", body: { ...cp, publicKeyPem: keys.publicKeyPem } }]);
      status = 502;
      await expect(exportCheckpoint({ url: `${origin}/cp?token=secret` }, cp, keys.publicKeyPem)).rejects.toThrow(new Error(`checkpoint sink ${origin} answered 502`));
    } finally {
      await new Promise((resolve) => sink.close(resolve));
    }
  });

  it("a sink that answers with a redirect has not taken the checkpoint: the export throws, so the sealer retries it", async () => {
    // A 302/303 would turn the POST into a body-less GET that the new address can answer 200 to.
    const seen: { method: string | undefined; url: string | undefined; bytes: number }[] = [];
    const sink = createServer((req, res) => {
      let bytes = 0;
      req.on("data", (chunk: Buffer) => (bytes += chunk.length));
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, bytes });
        if (req.url?.startsWith("/moved")) {
          res.statusCode = Number(req.url.slice("/moved/".length));
          res.setHeader("Location", "/elsewhere");
        } else res.statusCode = 200;
        res.end();
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
    const origin = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    try {
      for (const status of [301, 302, 303, 307, 308]) {
        await expect(exportCheckpoint({ url: `${origin}/moved/${status}` }, cp, keys.publicKeyPem), String(status)).rejects.toThrow(new Error(`checkpoint sink ${origin} answered ${status}`));
      }
      // Nothing was followed: only the configured address was asked.
      expect(seen.map((s) => s.url)).toEqual(["/moved/301", "/moved/302", "/moved/303", "/moved/307", "/moved/308"]);
    } finally {
      await new Promise((resolve) => sink.close(resolve));
    }
  });
});
