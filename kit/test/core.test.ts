import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPairSync } from "node:crypto";
import { createLocalJWKSet, exportJWK, SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BANNER_BUDGET_BYTES, bannerSize, decide, EventBuffer, GrantRejected, ImpersonationKit, StewardApiError, StewardClient, verifyGrant, type KitEvent } from "../src/index.js";

/** The kit's framework-neutral core: guard decisions, event batching against a real HTTP endpoint, grant checks, banner budget. */
const event = (i: number): KitEvent => ({ id: `e${i}`, method: "GET", route: "GET /x", object: null, outcome: "succeeded", status: 200, detail: null, occurredAt: new Date().toISOString() });

describe("guard", () => {
  it("read-only refuses every unsafe method and the product's deny list; full mode still refuses the always-deny list", () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) expect(decide("read_only", method, "/projects").allowed).toBe(false);
    expect(decide("read_only", "GET", "/projects")).toEqual({ allowed: true });
    expect(decide("read_only", "GET", "/exports/all", { readOnlyDeny: [{ methods: "*", path: /^\/exports/, what: "data exports" }] }).reason).toContain("data exports");
    expect(decide("full", "POST", "/projects")).toEqual({ allowed: true });
    for (const path of ["/settings/password", "/account/email", "/security/2fa", "/billing/payment-methods", "/api-keys", "/admins/invite"]) {
      const d = decide("full", "POST", path);
      expect(d.allowed, path).toBe(false);
      expect(d.reason).toMatch(/never change/);
    }
    expect(decide("full", "GET", "/api-keys").allowed).toBe(false);
  });
});

describe("event buffer against a real HTTP endpoint", () => {
  let server: Server;
  let failuresLeft = 0;
  let lostAnswers = 0;
  /** While set, Steward's answer waits for it (a slow Steward): the kit keeps buffering meanwhile. */
  let answerAfter: Promise<void> | null = null;
  const received: KitEvent[][] = [];
  /** Batches for imp_past*: a session that ran before 2000, so Steward refuses any time after it, naming each event. */
  let pastAttempts = 0;
  let url = "";
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", async () => {
        if (answerAfter) await answerAfter;
        if (req.url?.startsWith("/api/impersonation/sessions/imp_proxy")) {
          res.writeHead(502, { "content-type": "text/html" }).end("<html><body>Bad gateway</body></html>");
          return;
        }
        if (req.url?.startsWith("/api/impersonation/sessions/imp_past")) {
          pastAttempts++;
          const events = (JSON.parse(body) as { events: KitEvent[] }).events;
          const errors = events.map((_, i) => ({ field: `body.events.${i}.occurredAt`, reason: "must fall within the session's lifetime" }));
          res.writeHead(400, { "content-type": "application/problem+json" }).end(JSON.stringify({ status: 400, code: "invalid_request", errors }));
          return;
        }
        if (req.url?.startsWith("/api/impersonation/sessions/imp_refuse")) {
          // As Steward: a batch with an event dated before 2000 is refused whole, naming each such event's time.
          const events = (JSON.parse(body) as { events: KitEvent[] }).events;
          const errors = events.flatMap((e, i) => (e.occurredAt < "2000" ? [{ field: `body.events.${i}.occurredAt`, reason: "must fall within the session's lifetime" }] : []));
          if (errors.length) {
            res.writeHead(400, { "content-type": "application/problem+json" }).end(JSON.stringify({ status: 400, code: "invalid_request", errors }));
            return;
          }
        }
        if (failuresLeft > 0) {
          failuresLeft--;
          res.writeHead(503).end(JSON.stringify({ code: "unavailable" }));
          return;
        }
        if (lostAnswers > 0) {
          // Stored, but the answer never reaches the kit (a timeout, a proxy): the kit must send the same events again.
          lostAnswers--;
          received.push((JSON.parse(body) as { events: KitEvent[] }).events);
          res.writeHead(503).end(JSON.stringify({ code: "unavailable" }));
          return;
        }
        received.push((JSON.parse(body) as { events: KitEvent[] }).events);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ accepted: 1 }));
      });
    }).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  it("sends batches of at most 50, retries with backoff after failures, loses nothing", async () => {
    received.length = 0;
    failuresLeft = 2;
    const buffer = new EventBuffer(new StewardClient({ stewardUrl: url, credential: "prd_x.sps_y" }), { baseBackoffMs: 20, flushIntervalMs: 10 });
    for (let i = 0; i < 120; i++) buffer.add("imp_s1", event(i));
    const until = Date.now() + 5000;
    while (buffer.pending() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(buffer.pending()).toBe(0);
    expect(received.every((b) => b.length <= 50)).toBe(true);
    expect(received.flat().map((e) => e.id)).toEqual(Array.from({ length: 120 }, (_, i) => `e${i}`));
    buffer.close();
  });

  it("a loss report retried after a lost answer keeps its id, so Steward records it once", async () => {
    received.length = 0;
    failuresLeft = 1_000_000;
    const buffer = new EventBuffer(new StewardClient({ stewardUrl: url, credential: "prd_x.sps_y" }), { maxBuffered: 10, baseBackoffMs: 10_000, flushIntervalMs: 10_000 });
    for (let i = 0; i < 15; i++) buffer.add("imp_s3", event(i));
    failuresLeft = 0;
    lostAnswers = 1;
    await buffer.flush("imp_s3");
    await new Promise((r) => setTimeout(r, 5));
    await buffer.flush("imp_s3");
    expect(received).toHaveLength(2);
    const reports = received.flat().filter((e) => e.detail?.includes("dropped"));
    expect(reports).toHaveLength(2);
    expect(new Set(reports.map((e) => e.id)).size).toBe(1);
    expect(buffer.pending("imp_s3")).toBe(0);
    buffer.close();
  });

  it("an event Steward refuses alone is taken out and reported, dated at the session's start when no other time is known", async () => {
    received.length = 0;
    const errors: unknown[] = [];
    const start = "2026-11-27T12:00:00.000Z";
    const buffer = new EventBuffer(new StewardClient({ stewardUrl: url, credential: "prd_x.sps_y" }), { flushIntervalMs: 10_000, sessionStart: () => start, onError: (err) => errors.push(err) });
    buffer.add("imp_refuse1", { ...event(1), occurredAt: "1970-01-01T00:00:00.000Z" });
    await buffer.flush("imp_refuse1");
    expect(received).toHaveLength(1);
    expect(received[0]).toEqual([expect.objectContaining({ route: "kit: events refused by Steward", occurredAt: start })]);
    expect(received[0]![0]!.detail).toContain("e1 GET GET /x at 1970-01-01T00:00:00.000Z");
    expect(errors).toEqual([expect.objectContaining({ status: 400, errors: [expect.objectContaining({ field: "body.events.0.occurredAt" })] })]);
    expect(buffer.pending()).toBe(0);
    buffer.close();
  });

  it("a loss report Steward refuses for its time, with no time it accepts known, is given up (onError has it), not re-dated to now and resent in a loop", async () => {
    pastAttempts = 0;
    const errors: unknown[] = [];
    const buffer = new EventBuffer(new StewardClient({ stewardUrl: url, credential: "prd_x.sps_y" }), { flushIntervalMs: 10_000, onError: (err) => errors.push(err) });
    buffer.add("imp_past1", event(1));
    await buffer.flush("imp_past1");
    // The event, then its refusal report (dated now: all that is known); nothing more.
    expect(pastAttempts).toBe(2);
    expect(errors).toHaveLength(2);
    expect(buffer.pending()).toBe(0);
    buffer.close();
  });

  it("a loss report Steward refuses for its time is dated again at an event of the batch it took", async () => {
    received.length = 0;
    failuresLeft = 1_000_000;
    const buffer = new EventBuffer(new StewardClient({ stewardUrl: url, credential: "prd_x.sps_y" }), { maxBuffered: 2, baseBackoffMs: 10_000, flushIntervalMs: 10_000 });
    // The dropped event's own time was bad (a skewed clock), so its "events dropped" report is dated there too.
    buffer.add("imp_refuse2", { ...event(1), occurredAt: "1970-01-01T00:00:00.000Z" });
    buffer.add("imp_refuse2", { ...event(2), occurredAt: "2026-11-27T12:00:02.000Z" });
    buffer.add("imp_refuse2", { ...event(3), occurredAt: "2026-11-27T12:00:03.000Z" });
    failuresLeft = 0;
    await buffer.flush("imp_refuse2");
    expect(received).toHaveLength(1);
    expect(received[0]!.map((e) => [e.id.replace(/-.*/, ""), e.occurredAt])).toEqual([
      ["e2", "2026-11-27T12:00:02.000Z"],
      ["e3", "2026-11-27T12:00:03.000Z"],
      ["dropped", "2026-11-27T12:00:03.000Z"],
    ]);
    buffer.close();
  });

  it("events dropped from a full buffer while a batch is on its way do not take unsent ones with the batch when it is stored", async () => {
    received.length = 0;
    let answer = () => {};
    answerAfter = new Promise<void>((resolve) => (answer = resolve));
    const buffer = new EventBuffer(new StewardClient({ stewardUrl: url, credential: "prd_x.sps_y" }), { maxBuffered: 10, batchSize: 5, flushIntervalMs: 10_000 });
    for (let i = 0; i < 10; i++) buffer.add("imp_s4", event(i));
    const flushed = buffer.flush("imp_s4");
    await new Promise((r) => setTimeout(r, 50));
    // e0…e4 are on their way; three more push the oldest three out of the full buffer meanwhile.
    for (let i = 10; i < 13; i++) buffer.add("imp_s4", event(i));
    answerAfter = null;
    answer();
    await flushed;
    await buffer.flush("imp_s4");
    const sent = new Set(received.flat().map((e) => e.id));
    for (let i = 0; i < 13; i++) expect(sent.has(`e${i}`), `e${i}`).toBe(true);
    expect(buffer.pending("imp_s4")).toBe(0);
    buffer.close();
  });

  it("a proxy's HTML error page is a retryable StewardApiError, not a crash", async () => {
    const client = new StewardClient({ stewardUrl: url, credential: "prd_x.sps_y" });
    const error = await client.status("imp_proxy-1", false).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(StewardApiError);
    expect(error).toMatchObject({ status: 502, code: "invalid_response", retryable: true });
  });

  it("is bounded: past the limit the oldest go and the loss is reported with the next batch", async () => {
    received.length = 0;
    failuresLeft = 1_000_000;
    const buffer = new EventBuffer(new StewardClient({ stewardUrl: url, credential: "prd_x.sps_y" }), { maxBuffered: 10, baseBackoffMs: 10_000, flushIntervalMs: 10_000 });
    const at = (i: number) => new Date(Date.UTC(2026, 10, 27, 12, 0, i)).toISOString();
    for (let i = 0; i < 25; i++) buffer.add("imp_s2", { ...event(i), occurredAt: at(i) });
    expect(buffer.pending("imp_s2")).toBe(10);
    failuresLeft = 0;
    await buffer.flush("imp_s2");
    const sent = received.flat();
    expect(sent.slice(0, 10).map((e) => e.id)).toEqual(Array.from({ length: 10 }, (_, i) => `e${i + 15}`));
    // Dated when the last dropped event happened (within the session), not when Steward came back (perhaps after its end).
    expect(sent.at(-1)).toMatchObject({ detail: "15 events were dropped while Steward was unreachable", occurredAt: at(14) });
    buffer.close();
  });
});

describe("grant verification", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const issuer = "http://127.0.0.1:41712";
  const claims = { sid: "imp_1", ticket: "1001", mode: "read_only", act: { sub: "9002", email: "a@b.c", name: "Sam" } };
  const sign = (overrides: { aud?: string; exp?: number; typ?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: "k1", typ: overrides.typ ?? "steward-impersonation+jwt" })
      .setIssuer(issuer)
      .setSubject("usr_1")
      .setAudience(overrides.aud ?? "prd_demo")
      .setJti("abcdefghijklmnopqrstuvwxyz")
      .setIssuedAt()
      .setExpirationTime(overrides.exp ?? Math.floor(Date.now() / 1000) + 60)
      .sign(privateKey);
  let keys: ReturnType<typeof createLocalJWKSet>;
  beforeAll(async () => {
    keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] });
  });
  const expected = { issuer, productId: "prd_demo" };

  it("accepts a genuine grant and refuses wrong audience, expiry, type and alg none", async () => {
    expect((await verifyGrant(await sign(), keys, expected)).sub).toBe("usr_1");
    await expect(verifyGrant(await sign({ aud: "prd_other" }), keys, expected)).rejects.toBeInstanceOf(GrantRejected);
    await expect(verifyGrant(await sign({ exp: Math.floor(Date.now() / 1000) - 10 }), keys, expected)).rejects.toThrow(/expired/);
    await expect(verifyGrant(await sign({ typ: "JWT" }), keys, expected)).rejects.toBeInstanceOf(GrantRejected);
    await expect(verifyGrant(new UnsecuredJWT({ ...claims, sub: "usr_1", aud: "prd_demo", iss: issuer }).encode(), keys, expected)).rejects.toBeInstanceOf(GrantRejected);
  });
});

describe("grant verification with clocks apart", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const issuer = "http://127.0.0.1:41712";
  it("accepts a grant from a Steward whose clock runs 20 s ahead (Steward allows products 30 s of skew), and still refuses one living longer than 60 s", async () => {
    const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] });
    const grant = (iat: number, exp: number) =>
      new SignJWT({ sid: "imp_1", ticket: "1001", mode: "read_only", act: { sub: "9002", email: null, name: null } })
        .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "steward-impersonation+jwt" })
        .setIssuer(issuer)
        .setSubject("usr_1")
        .setAudience("prd_demo")
        .setJti("abcdefghijklmnopqrstuvwxyz")
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(privateKey);
    const stewardNow = Math.floor(Date.now() / 1000) + 20;
    expect((await verifyGrant(await grant(stewardNow, stewardNow + 60), keys, { issuer, productId: "prd_demo" })).sub).toBe("usr_1");
    await expect(verifyGrant(await grant(stewardNow - 30, stewardNow + 60), keys, { issuer, productId: "prd_demo" })).rejects.toThrow(/malformed/);
  });
});

describe("misconfiguration", () => {
  const secret = "sps_abcdefghijklmnopqrstuvwxyz0123456789";
  it("is refused when the kit is created, naming the option and never echoing the secret", () => {
    const attempts: [Partial<{ stewardUrl: string; credential: string; pollMs: number; confirmWithinMs: number }>, RegExp][] = [
      [{ stewardUrl: "steward.example.test" }, /^stewardUrl: /],
      [{ stewardUrl: "ftp://steward.example.test" }, /^stewardUrl: /],
      [{ credential: `prd_demo.${secret}\n` }, /^credential: /],
      [{ credential: ` prd_demo.${secret}` }, /^credential: /],
      [{ credential: secret }, /^credential: /],
      // A bound the status checks cannot meet would refuse every request; the default bound is 5000 ms.
      [{ pollMs: 2000, confirmWithinMs: 2000 }, /^confirmWithinMs: must be more than pollMs \(2000 ms\)/],
      [{ pollMs: 5000 }, /^confirmWithinMs: must be more than pollMs \(5000 ms\), got 5000/],
    ];
    for (const [options, message] of attempts) {
      let error: unknown = null;
      try {
        new ImpersonationKit({ stewardUrl: "http://127.0.0.1:41712", credential: `prd_demo.${secret}`, ...options }).close();
      } catch (err) {
        error = err;
      }
      expect((error as Error | null)?.message, JSON.stringify(options)).toMatch(message);
      expect((error as Error).message).not.toContain(secret);
    }
    const kit = new ImpersonationKit({ stewardUrl: "https://steward.example.test/", credential: `prd_demo.${secret}` });
    expect(kit.productId).toBe("prd_demo");
    void kit.close();
    void new ImpersonationKit({ stewardUrl: "https://steward.example.test/", credential: `prd_demo.${secret}`, pollMs: 4999 }).close();
  });
});

describe("banner", () => {
  it(`stays within ${BANNER_BUDGET_BYTES} bytes gzipped`, () => {
    expect(bannerSize().gzip).toBeLessThanOrEqual(BANNER_BUDGET_BYTES);
  });
});
