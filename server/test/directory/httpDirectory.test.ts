import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { createLocalJWKSet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyDirectoryToken } from "@steward/impersonation-kit";
import { ManualClock } from "../../src/clock.js";
import { askedAtOf } from "../../src/directory/askedAt.js";
import { classifyDirectoryError, HttpDirectory, type HttpDirectoryOptions } from "../../src/directory/httpDirectory.js";
import { GrantKeys } from "../../src/impersonation/signingKeys.js";
import { ProviderCaller } from "../../src/providers/providerCall.js";
import { ProviderError } from "../../src/providers/providerError.js";

/**
 * The http adapter against a scripted product: what it sends (a verifiable token naming the agent,
 * ticket and idempotency key) and how each answer becomes the one provider error.
 */
const keys = new GrantKeys({ kind: "memory" });
const clock = new ManualClock(new Date());
const user = { id: "usr_1", accountId: "acc_1", email: "a@b.test", name: "A", role: "member", status: "active", idpId: null, staff: false, protected: false, settings: {}, version: 3 };
const problem = (status: number, code: string, extra: object = {}) => ({ status, type: "application/problem+json", body: { type: "about:blank", title: code, status, code, ...extra } });

let script: { status: number; type?: string; body: unknown; headers?: Record<string, string>; chunked?: boolean }[] = [];
const seen: { method: string; path: string; authorization: string | undefined; body: unknown }[] = [];
let server: Server;
let directory: HttpDirectory;
let options: HttpDirectoryOptions;

beforeAll(async () => {
  const app = express();
  app.use(express.json());
  app.use((req, res) => {
    seen.push({ method: req.method, path: req.path, authorization: req.headers.authorization, body: req.body });
    const next = script.shift() ?? { status: 200, body: user };
    res.status(next.status).set(next.headers ?? {}).type(next.type ?? "application/json");
    if (!next.chunked) return void res.send(JSON.stringify(next.body));
    // No Content-Length: the answer's size is known only as it arrives.
    const text = JSON.stringify(next.body);
    for (let at = 0; at < text.length; at += 1024) res.write(text.slice(at, at + 1024));
    res.end();
  });
  server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const caller = new ProviderCaller("product", { timeoutMs: 2_000, maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5 }, classifyDirectoryError);
  options = { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, audience: "prd_test", issuer: "http://steward.test", keys, clock, caller };
  directory = new HttpDirectory(options);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const staff = { kind: "staff" as const, staffId: "stf_1", zendeskUserId: "9001", email: "agent@support.test", name: "Agent", panelRole: "support_full" as const };
const write = () => directory.updateUser("usr_1", { expectedVersion: 3, changes: { role: "viewer" } }, { idempotencyKey: "key-1", actor: staff, ticketId: "4242" });

describe("HttpDirectory", () => {
  it("sends a token the product verifies with Steward's JWKS, naming the agent, the ticket and the idempotency key", async () => {
    seen.length = 0;
    script = [{ status: 200, body: { ...user, role: "viewer", version: 4 } }];
    expect(await write()).toMatchObject({ role: "viewer", version: 4 });
    const request = seen[0]!;
    expect(request).toMatchObject({ method: "PATCH", path: "/steward/directory/v1/users/usr_1", body: { expectedVersion: 3, changes: { role: "viewer" } } });
    const claims = await verifyDirectoryToken(request.authorization, createLocalJWKSet((await keys.jwks(clock.now())) as never), { issuer: "http://steward.test", audience: "prd_test", now: clock.now() });
    expect(claims).toMatchObject({ sub: "stf_1", agent: { id: "stf_1", email: "agent@support.test" }, ticketId: "4242", idem: "key-1" });
    // Short-lived: one request's life, retries included (the product refuses anything over 60 s).
    expect(claims.exp - claims.iat).toBe(30);
    await expect(verifyDirectoryToken(request.authorization, createLocalJWKSet((await keys.jwks(clock.now())) as never), { issuer: "http://steward.test", audience: "prd_other", now: clock.now() })).rejects.toThrow(/rejected/);
    // A read names who reads and from which ticket too, without an idempotency key.
    await directory.getUser("usr_1", { actor: staff, ticketId: "77" });
    const read = await verifyDirectoryToken(seen.at(-1)!.authorization, createLocalJWKSet((await keys.jwks(clock.now())) as never), { issuer: "http://steward.test", audience: "prd_test", now: clock.now() });
    expect(read).toMatchObject({ sub: "stf_1", ticketId: "77" });
    expect(read.idem).toBeUndefined();
  });

  it("a stale refusal is 409 stale_version from the product; another 409 is a refusal (422)", async () => {
    script = [problem(409, "stale_version", { currentVersion: 5 })];
    const stale = await write().catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ProviderError);
    expect((stale as ProviderError).toProblem()).toMatchObject({ status: 409, code: "stale_version", extra: { provider: "product" } });
    expect((stale as ProviderError).effectUnknown).toBe(false);
    script = [problem(409, "invalid_transition")];
    expect(((await write().catch((e: unknown) => e)) as ProviderError).toProblem()).toMatchObject({ status: 422, code: "provider_rejected" });
  });

  it("retries a read answered 5xx, then fails as unavailable; a write answered 5xx has an unknown effect", async () => {
    seen.length = 0;
    script = [problem(503, "down"), problem(503, "down"), problem(503, "down")];
    await expect(directory.getUser("usr_1")).rejects.toMatchObject({ code: "unavailable", provider: "product" });
    expect(seen).toHaveLength(3);
    script = [problem(500, "boom"), problem(500, "boom"), problem(500, "boom")];
    const failed = (await write().catch((e: unknown) => e)) as ProviderError;
    expect(failed.effectUnknown).toBe(true);
  });

  it("an answer is dated by when it was asked: a read by the attempt answered, a write by the first attempt under its key (a later one may get that answer replayed)", async () => {
    // Its own clock, a second on per backoff wait: each attempt is sent at another time.
    const own = new ManualClock(new Date("2026-11-24T12:00:00.000Z"));
    const caller = new ProviderCaller("product", { timeoutMs: 2_000, maxRetries: 1, baseDelayMs: 1, maxDelayMs: 5 }, classifyDirectoryError, { sleep: async () => own.advance(1_000) });
    const timed = new HttpDirectory({ ...options, clock: own, caller });
    const first = own.now();
    const dated = (answer: object) => askedAtOf([answer], new Date(0)).toISOString();
    script = [problem(502, "gateway"), { status: 200, body: user }];
    expect(dated(await timed.getUser("usr_1"))).toBe(new Date(first.getTime() + 1_000).toISOString());
    // A gateway's 502 after the product applied the write: the retry is answered from its record of the first.
    const second = own.now();
    script = [problem(502, "gateway"), { status: 200, body: { ...user, role: "viewer", version: 4 } }];
    const call = { idempotencyKey: "key-dated", actor: staff, ticketId: "4242" };
    expect(dated(await timed.updateUser("usr_1", { expectedVersion: 3, changes: { role: "viewer" } }, call))).toBe(second.toISOString());
    // The reconciler's retry: dated by when the request's first attempt was about to be sent.
    const opened = new Date(own.now().getTime() - 60_000);
    script = [{ status: 200, body: { ...user, role: "viewer", version: 4 } }];
    expect(dated(await timed.updateUser("usr_1", { expectedVersion: 3, changes: { role: "viewer" } }, { ...call, keyOpenedAt: opened }))).toBe(opened.toISOString());
  });

  it("429 with Retry-After: waited out and retried when short, failed as rate_limited (with the wait) when longer than a retry may wait", async () => {
    seen.length = 0;
    script = [{ ...problem(429, "slow_down"), headers: { "retry-after": "0" } }, { status: 200, body: user }];
    expect(await directory.getUser("usr_1")).toMatchObject({ id: "usr_1" });
    expect(seen).toHaveLength(2);
    seen.length = 0;
    script = [{ ...problem(429, "slow_down"), headers: { "retry-after": "120" } }];
    expect(await directory.getUser("usr_1").catch((e: unknown) => e)).toMatchObject({ code: "rate_limited", retryAfterMs: 120_000 });
    expect(seen).toHaveLength(1);
  });

  it("a refused connection: a read fails as unavailable, a write failed (it never reached the product); a connection dropped after the write was sent: its effect is unknown", async () => {
    const caller = () => new ProviderCaller("product", { timeoutMs: 2_000, maxRetries: 1, baseDelayMs: 1, maxDelayMs: 5 }, classifyDirectoryError);
    const at = (port: number) => new HttpDirectory({ baseUrl: `http://127.0.0.1:${port}`, audience: "prd_test", issuer: "http://steward.test", keys, clock, caller: caller() });
    const writeTo = (dir: HttpDirectory) => dir.updateUser("usr_1", { expectedVersion: 3, changes: { role: "viewer" } }, { idempotencyKey: "key-9", actor: staff, ticketId: "4242" }).catch((e: unknown) => e as ProviderError);
    // A port nobody listens on: taken, then given back.
    const closed = await new Promise<Server>((resolve) => {
      const s = express().listen(0, "127.0.0.1", () => resolve(s));
    });
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const read = (await at(port).getUser("usr_1").catch((e: unknown) => e)) as ProviderError;
    expect(read).toMatchObject({ code: "unavailable", provider: "product" });
    expect(read.message).toMatch(/could not be reached/);
    expect(await writeTo(at(port))).toMatchObject({ code: "unavailable", effectUnknown: false });
    // A product that takes the request and drops the connection without answering.
    let received = 0;
    const dropping = express().use((req) => {
      received++;
      req.socket.destroy();
    });
    const dropper = await new Promise<Server>((resolve) => {
      const s = dropping.listen(0, "127.0.0.1", () => resolve(s));
    });
    try {
      expect(await writeTo(at((dropper.address() as AddressInfo).port))).toMatchObject({ code: "unavailable", effectUnknown: true });
      expect(received).toBe(2);
    } finally {
      await new Promise<void>((resolve) => dropper.close(() => resolve()));
    }
  });

  it("an answer larger than the limit is cut off and misconfigured, with or without a Content-Length; for a write answered 2xx its effect is unknown", async () => {
    const small = new HttpDirectory({ ...options, maxAnswerBytes: 4096 });
    const padded = { ...user, padding: "x".repeat(20_000) };
    for (const chunked of [false, true]) {
      script = [{ status: 200, body: padded, chunked }];
      const read = (await small.getUser("usr_1").catch((e: unknown) => e)) as ProviderError;
      expect(read, String(chunked)).toBeInstanceOf(ProviderError);
      expect(read).toMatchObject({ code: "misconfigured", provider: "product", status: 200 });
      expect(read.message).toMatch(/larger than 4096 bytes/);
      expect(read.effectUnknown).toBe(false);
    }
    script = [{ status: 200, body: padded, chunked: true }];
    const written = (await small.updateUser("usr_1", { expectedVersion: 3, changes: { role: "viewer" } }, { idempotencyKey: "key-big", actor: staff, ticketId: "4242" }).catch((e: unknown) => e)) as ProviderError;
    expect(written).toMatchObject({ code: "misconfigured", effectUnknown: true });
    script = [{ status: 422, body: { ...problem(422, "refused").body, padding: "x".repeat(20_000) } }];
    const refused = (await small.updateUser("usr_1", { expectedVersion: 3, changes: { role: "viewer" } }, { idempotencyKey: "key-big-2", actor: staff, ticketId: "4242" }).catch((e: unknown) => e)) as ProviderError;
    expect(refused).toMatchObject({ code: "misconfigured", effectUnknown: false });
    // Within the limit, the same adapter reads answers as usual.
    script = [{ status: 200, body: user }];
    expect(await small.getUser("usr_1")).toMatchObject({ id: "usr_1" });
  });

  it("an answer carrying text Steward cannot store (NUL, an unpaired surrogate) is misconfigured, naming the field; for a write its effect is unknown", async () => {
    for (const [field, value] of [["name", "A\u0000B"], ["email", "a\ud800@b.test"]] as const) {
      script = [{ status: 200, body: { ...user, [field]: value } }];
      const read = (await directory.getUser("usr_1").catch((e: unknown) => e)) as ProviderError;
      expect(read, field).toMatchObject({ code: "misconfigured", provider: "product" });
      expect(read.message).toContain(`body.${field}`);
    }
    script = [{ status: 200, body: { ...user, settings: { display_name: "x\u0000" } } }];
    expect(((await write().catch((e: unknown) => e)) as ProviderError).effectUnknown).toBe(true);
  });

  it("an id of only dots is not found without asking: URL parsing would turn it into another path, whose answer would stand for the object", async () => {
    const before = seen.length;
    await expect(directory.getUser("..")).rejects.toMatchObject({ code: "not_found", provider: "product" });
    await expect(directory.getAccount(".")).rejects.toMatchObject({ code: "not_found", provider: "product" });
    await expect(directory.updateUser("..", { expectedVersion: 1, changes: { role: "viewer" } }, { idempotencyKey: "key-dots", actor: staff, ticketId: null })).rejects.toMatchObject({ code: "not_found" });
    expect(seen.length).toBe(before);
    // Dots within an id are ordinary characters.
    script = [{ status: 200, body: { ...user, id: "usr.1..x" } }];
    expect(await directory.getUser("usr.1..x")).toMatchObject({ id: "usr.1..x" });
    expect(seen.at(-1)?.path).toMatch(/\/users\/usr\.1\.\.x$/);
  });

  it("an answer that does not match the contract is misconfigured; for a write its effect is unknown", async () => {
    script = [{ status: 200, body: { id: "usr_1" } }];
    const read = (await directory.getUser("usr_1").catch((e: unknown) => e)) as ProviderError;
    expect(read).toMatchObject({ code: "misconfigured", provider: "product" });
    expect(read.message).toMatch(/does not match the directory contract/);
    expect(read.effectUnknown).toBe(false);
    script = [{ status: 200, body: { nope: true } }];
    expect(((await write().catch((e: unknown) => e)) as ProviderError).effectUnknown).toBe(true);
    script = [{ status: 404, body: "<html>not here</html>", type: "text/html" }];
    expect(await directory.getUser("usr_2").catch((e: unknown) => e)).toMatchObject({ code: "not_found" });
  });
});
