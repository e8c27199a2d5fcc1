import { execFile } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import express, { type RequestHandler } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemActor } from "../../src/actor.js";
import { formatCheckTable, runDirectoryChecks, type CheckRow } from "../../src/directory/conformance.js";
import { signDirectoryToken } from "../../src/directory/directoryToken.js";
import { GrantKeys } from "../../src/impersonation/signingKeys.js";
import type { AccountRow, DirectoryStore, UserRow } from "../../../examples/demo-product/src/directory/store.js";
import { startProductDirectory, type ProductDirectory } from "./productDirectory.js";

/**
 * The conformance checker (steward directory-check) against the demo product's directory: it passes
 * there, and fails — naming the check — on products broken in the three ways the contract forbids:
 * errors not in problem+json, writes without the version check, and a retried key applied twice.
 */
const ISSUER = "http://steward.test";
const AUDIENCE = "prd_check";
const keys = new GrantKeys({ kind: "memory" });
const now = () => new Date();

const rows: { accounts: AccountRow[]; users: UserRow[] } = {
  accounts: [{ id: "acc_1", name: "Acme", domain: "acme.test", status: "active", plan: "team", seatsLicensed: 5, billingCustomerId: null, version: 1 }],
  users: [
    { id: "usr_1", accountId: "acc_1", email: "ana@acme.test", name: "Ana Almeida", role: "member", status: "active", idpId: null, staff: false, protected: false, settings: {}, version: 1 },
    { id: "usr_2", accountId: "acc_1", email: "ben@acme.test", name: "Ben Brandt", role: "owner", status: "active", idpId: null, staff: false, protected: false, settings: { language: "de" }, version: 3 },
    // An internationalised address, stored composed and in mixed case.
    { id: "usr_3", accountId: "acc_1", email: "José.Núñez@Acme.test", name: "José Núñez", role: "member", status: "active", idpId: null, staff: false, protected: false, settings: {}, version: 1 },
  ],
};

function check(product: ProductDirectory, options: { audience?: string; userId?: string } = {}): Promise<CheckRow[]> {
  return runDirectoryChecks({
    url: product.url,
    userId: options.userId ?? "usr_1",
    sign: (o) => signDirectoryToken(keys, { actor: systemActor("directory-check"), ticketId: null, ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}) }, { issuer: ISSUER, audience: o.audience ?? options.audience ?? AUDIENCE }, now()),
  });
}

const failed = (result: CheckRow[]) => result.filter((r) => !r.pass).map((r) => r.check);

/** Errors as plain JSON `{ error }`: not the contract's problem+json. */
const plainErrors = (): RequestHandler[] => [
  (_req, res, next) => {
    const send = res.send.bind(res);
    res.send = (body: unknown) => {
      if (res.statusCode >= 400) {
        res.type("application/json");
        return send(JSON.stringify({ error: "something went wrong" }));
      }
      return send(body as never);
    };
    next();
  },
];

/** Writes whose expectedVersion is replaced by the current one: the product never refuses a stale write. */
const noVersionCheck = (store: DirectoryStore): RequestHandler[] => [
  async (req, _res, next) => {
    const match = /\/(users|accounts)\/([^/]+)$/.exec(req.path);
    if (req.method === "PATCH" && match) {
      // express.json has not run yet: read and parse the body here.
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
      const id = decodeURIComponent(match[2]!);
      const current = match[1] === "users" ? await store.user(id) : await store.account(id);
      if (current) parsed.expectedVersion = current.version;
      req.body = parsed;
      (req as unknown as { _body: boolean })._body = true;
    }
    next();
  },
];

/** Every write under a fresh key: a retried request is applied again. */
const notIdempotent = (store: DirectoryStore): RequestHandler[] => {
  const writeOnce = store.writeOnce.bind(store);
  store.writeOnce = (_key, request, change) => writeOnce(randomUUID(), request, change);
  return [];
};

/** Settings written as sent, declared or not, of any type (and no token checked on such a write). */
const undeclaredSettings = (store: DirectoryStore): RequestHandler[] => [
  express.json(),
  async (req, res, next) => {
    const match = /\/users\/([^/]+)$/.exec(req.path);
    const settings = (req.body as { changes?: { settings?: object } } | undefined)?.changes?.settings;
    if (req.method !== "PATCH" || !match || !settings) return next();
    const id = decodeURIComponent(match[1]!);
    await store.db.query(`update users set settings = settings || $2::jsonb, version = version + 1 where id = $1`, [id, JSON.stringify(settings)]);
    res.json(await store.user(id));
  },
];

/** Lookups and search by email only: an id, external id, name or domain finds nothing. */
const emailOnly = (): RequestHandler[] => [
  (req, res, next) => {
    const q = req.query as Record<string, string | undefined>;
    if (req.method === "GET" && req.path.endsWith("/users") && !q.email) return void res.json({ accounts: [], users: [] });
    if (req.method === "GET" && req.path.endsWith("/search") && !q.q?.includes("@")) return void res.json({ accounts: [], users: [] });
    next();
  },
];

/** Lookups by email compared with SQL lower(): case is ignored, but a decomposed spelling is another address. */
const sqlLowerEmails = (store: DirectoryStore): RequestHandler[] => [
  async (req, res, next) => {
    const email = (req.query as Record<string, string | undefined>).email;
    if (req.method !== "GET" || !req.path.endsWith("/users") || !email) return next();
    const { rows } = await store.db.query<{ id: string }>(`select id from users where status <> 'deleted' and lower(email) = lower($1) order by id`, [email]);
    const answers = await Promise.all(rows.map((r) => store.lookupWithAccounts({ id: r.id })));
    res.json({ accounts: answers.flatMap((a) => a.accounts), users: answers.flatMap((a) => a.users) });
  },
];

describe("directory-check", () => {
  const products: ProductDirectory[] = [];
  const start = async (before?: (store: DirectoryStore) => RequestHandler[]) => {
    const p = await startProductDirectory({ keys, issuer: ISSUER, audience: AUDIENCE, now, rows, ...(before ? { before } : {}) });
    products.push(p);
    return p;
  };
  let demo: ProductDirectory;
  beforeAll(async () => {
    demo = await start();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(products.map((p) => p.close()));
  });

  it("passes every check on the demo product, and leaves the user's role as it was", async () => {
    const result = await check(demo);
    expect(failed(result), formatCheckTable(result)).toEqual([]);
    expect(result.length).toBeGreaterThanOrEqual(14);
    expect(await demo.store.user("usr_1")).toMatchObject({ role: "member" });
    expect(formatCheckTable(result)).toMatch(/all \d+ checks passed/);
  });

  it("fails every error-shape check on a product answering errors as plain JSON", async () => {
    const result = await check(await start(plainErrors));
    expect(failed(result)).toEqual(
      expect.arrayContaining(["no token → 401 problem", "wrong audience → 401 problem", "unknown user → 404 problem", "invalid write → 400 problem naming the field", "stale write → 409 stale_version, nothing changed"]),
    );
    expect(result.find((r) => r.check === "unknown user → 404 problem")?.detail).toContain("application/problem+json");
    expect(formatCheckTable(result)).toMatch(/FAIL {2}no token/);
  });

  it("fails the version checks on a product that applies stale writes", async () => {
    const result = await check(await start(noVersionCheck));
    expect(failed(result)).toEqual(["stale write → 409 stale_version, nothing changed", "account stale write → 409 stale_version"]);
  });

  it("fails the retry check on a product that applies a repeated key twice", async () => {
    const result = await check(await start(notIdempotent));
    expect(failed(result)).toEqual(["same idempotency key twice → applied once"]);
    expect(result.find((r) => !r.pass)?.detail).toMatch(/version/);
  });

  it("fails the lookup and search checks on a product that finds users by email only", async () => {
    const result = await check(await start(emailOnly));
    expect(failed(result)).toEqual(["lookup by id and external id", "search by name, id and domain"]);
    expect(result.find((r) => r.check === "lookup by id and external id")?.detail).toContain("by id");
  });

  it("passes every check for a user whose email is not ASCII on the demo product: found in any case, composed or decomposed", async () => {
    const result = await check(demo, { userId: "usr_3" });
    expect(failed(result), formatCheckTable(result)).toEqual([]);
    expect(await demo.store.user("usr_3")).toMatchObject({ role: "member" });
  });

  it("fails the email lookup check on a product that compares emails with SQL lower(), naming the decomposed spelling", async () => {
    const result = await check(await start(sqlLowerEmails), { userId: "usr_3" });
    expect(failed(result)).toEqual(["lookup by email"]);
    expect(result.find((r) => r.check === "lookup by email")?.detail).toContain("decomposed (NFD)");
  });

  it("fails the settings check on a product that takes settings it does not declare", async () => {
    const result = await check(await start(undeclaredSettings));
    expect(failed(result)).toEqual(["undeclared setting or wrong type → 400 problem naming it, nothing changed"]);
  });

  it("steward directory-check prints the table and exits 1 on a broken product", async () => {
    // The CLI signs with a key file (here a PEM), which the product trusts through its JWKS.
    const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const dir = mkdtempSync(join(tmpdir(), "steward-directory-check-"));
    const keyFile = join(dir, "key.pem");
    writeFileSync(keyFile, pem);
    const broken = await startProductDirectory({ keys: new GrantKeys({ kind: "env", pem }), issuer: ISSUER, audience: AUDIENCE, now, rows, before: notIdempotent });
    products.push(broken);
    const tsx = new URL("../../../node_modules/.bin/tsx", import.meta.url).pathname;
    const args = ["server/src/cli/steward.ts", "directory-check", "--url", broken.url, "--key", keyFile, "--audience", AUDIENCE, "--user", "usr_1", "--issuer", ISSUER];
    try {
      const failure = await promisify(execFile)(tsx, args, { timeout: 120_000 }).then(
        () => null,
        (err: { code?: number; stdout?: string }) => err,
      );
      expect(failure?.code).toBe(1);
      expect(failure?.stdout).toMatch(/FAIL {2}same idempotency key twice → applied once/);
      expect(failure?.stdout).toMatch(/PASS {2}stale write → 409 stale_version/);
      expect(failure?.stdout).toMatch(/1 of \d+ checks failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it("fails from the first check on when the product trusts another audience", async () => {
    const result = await check(demo, { audience: "prd_someone_else" });
    expect(failed(result)).toContain("settings declaration");
    expect(failed(result)).toContain("get user");
  });
});
