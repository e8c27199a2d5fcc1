import express from "express";
import pg from "pg";
import { sql, type CompiledQuery, type Kysely } from "kysely";
import request from "supertest";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import { systemClock } from "../../src/clock.js";
import type { DB } from "../../src/db/schema.js";
import { authenticate } from "../../src/auth/authenticate.js";
import { createRateLimits } from "../../src/http/rateLimit.js";
import { problemMiddleware } from "../../src/http/problem.js";
import { DEMO_AGENTS, seedDemoData } from "../../src/seed/demo.js";
import { useHarness, type Harness } from "../actions/harness.js";
import { createTestDatabase, databaseKinds, testConfig } from "../support/databases.js";
import { spawnSteward, type StewardProcess } from "../support/stewardProcess.js";

const LIMITS = { RATE_LIMIT_READS: "4", RATE_LIMIT_WRITES: "3", RATE_LIMIT_SEARCHES: "2", RATE_LIMIT_LOGINS: "3", RATE_LIMIT_PER_IP: "1000", RATE_LIMIT_WINDOW_SECONDS: "60" };

async function limitAudits(h: Harness): Promise<{ staff_id: string | null; actor_system: string | null; outcome: string; error: string | null }[]> {
  return h.deps.database.db.selectFrom("audit_log").select(["actor_staff_id as staff_id", "actor_system", "outcome", "error"]).where("action", "=", "request.rate_limited").execute();
}

const syncCommit = async (db: Kysely<DB>) => (await sql<{ s: string }>`select current_setting('synchronous_commit') as s`.execute(db)).rows[0]!.s;

describe.each(databaseKinds)("rate limits on %s", (kind) => {
  const h = useHarness(kind, { env: LIMITS });

  /** A staff member of its own for one test: its per-agent windows start empty whatever other tests used. */
  let agents = 0;
  async function newAgent(role: PanelRole): Promise<{ id: string; token: string }> {
    agents += 1;
    const id = `stf_rl_${role}_${agents}`;
    const zendeskUserId = String(770_000 + agents);
    await h.deps.database.db.insertInto("staff").values({ id, zendesk_user_id: zendeskUserId, email: `${id}@steward.test`, name: id, panel_role: role }).execute();
    return { id, token: (await issueSessionToken(h.deps, { staffId: id, zendeskUserId })).token };
  }

  /**
   * An app with only the limiter, counting on `counters`, and one signed-in route: as one Steward process has
   * them. With `perIp`, that client limit, and the client address taken from X-Forwarded-For (so a test can change it).
   */
  function limitedApp(counters: Kysely<DB> | undefined, options: { perIp?: number } = {}): express.Express {
    const config = options.perIp ? { ...h.deps.config, RATE_LIMIT_PER_IP: options.perIp } : h.deps.config;
    const limits = createRateLimits({ ...h.deps, database: { ...h.deps.database, counters }, config });
    const app = express();
    if (options.perIp) app.set("trust proxy", true);
    app.use(limits.byIp);
    app.get("/api/session", authenticate({ ...h.deps, rateLimits: limits }), (_req, res) => {
      res.json({ ok: true });
    });
    app.use(problemMiddleware);
    return app;
  }

  it("are counted on connections whose commits do not wait for the disk; everything else waits (PGlite counts in memory)", async () => {
    const { database } = h.deps;
    expect(await syncCommit(database.db)).toBe("on");
    expect(database.counters ? await syncCommit(database.counters) : "in memory").toBe(kind === "postgres" ? "off" : "in memory");
    // PostgreSQL: the limiter's rows are written there. A request counts against this address.
    await request(h.app).get("/healthz");
    await request(h.app).get("/api/search?q=x");
    const counted = database.counters ? (await sql<{ n: number }>`select count(*)::int as n from rate_limits where key like 'steward:ip:all:%'`.execute(database.counters)).rows[0]!.n : null;
    expect(counted === null ? "in memory" : counted >= 1 ? "counted" : "missing").toBe(kind === "postgres" ? "counted" : "in memory");
  });

  it("a flood of parallel reads gets exactly the limit through, then 429 problem+json with Retry-After, audited once; other agents are unaffected", async () => {
    const { id, token } = await newAgent("support_read_only");
    const responses = await Promise.all(Array.from({ length: 12 }, () => request(h.app).get("/api/session").set("Authorization", `Bearer ${token}`)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(8);
    const refused = responses.find((r) => r.status === 429)!;
    expect(refused.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(refused.body).toMatchObject({ status: 429, code: "rate_limited", scope: "agent", class: "reads", limit: 4, windowSeconds: 60 });

    // One entry for the window, not one per refused request.
    const audits = (await limitAudits(h)).filter((a) => a.staff_id === id);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ outcome: "denied" });
    expect(audits[0]!.error).toMatch(/^rate_limited/);

    // Another agent (same client address) still gets through.
    const other = await request(h.app).get("/api/session").set("Authorization", `Bearer ${(await newAgent("support_full")).token}`);
    expect(other.status).toBe(200);
  });

  it("reads, writes and searches are counted apart: an agent over its search limit can still read", async () => {
    const { token } = await newAgent("operations");
    const searches = [];
    for (let i = 0; i < 4; i++) searches.push((await request(h.app).get("/api/search?q=acme").set("Authorization", `Bearer ${token}`)).status);
    expect(searches).toEqual([200, 200, 429, 429]);
    expect((await request(h.app).get("/api/session").set("Authorization", `Bearer ${token}`)).status).toBe(200);
  });

  it("writes are counted per agent before validation: a burst of bad writes is limited like good ones", async () => {
    const { token } = await newAgent("support_full");
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await request(h.app).post("/api/actions/user.lockout_clear").set("Authorization", `Bearer ${token}`).send({ target: "nonsense" })).status);
    expect(statuses).toEqual([400, 400, 400, 429, 429]);
  });

  it("audit reads and exports are limited too: an admin reading the log, a read-only agent exporting it", async () => {
    const { token } = await newAgent("admin");
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await request(h.app).get("/api/audit?limit=1").set("Authorization", `Bearer ${token}`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    // A read-only agent that has used its reads on other pages: the audit export is refused too.
    const readOnly = (await newAgent("support_read_only")).token;
    const reads: number[] = [];
    for (let i = 0; i < 4; i++) reads.push((await request(h.app).get("/api/session").set("Authorization", `Bearer ${readOnly}`)).status);
    expect(reads).toEqual([200, 200, 200, 200]);
    expect((await request(h.app).get("/api/audit/export?format=ndjson").set("Authorization", `Bearer ${readOnly}`)).status).toBe(429);
  });

  // PostgreSQL only: PGlite counts in memory, with no round trip to overlap.
  if (kind === "postgres") {
    it("a signed-in request's agent count goes beside its client count: the agent's statement starts before the client's is answered", async () => {
      const { id, token } = await newAgent("support_full");
      const counters = h.deps.database.counters!;
      const started: string[] = [];
      let agentStarted = () => {};
      const agentStart = new Promise<void>((resolve) => (agentStarted = resolve));
      let overlapped: boolean | undefined;
      // The client's counter is held after it ran until the agent's has started (5 s at most): in series, it never would.
      const gated = new Proxy(counters, {
        get(target, prop, receiver) {
          if (prop !== "executeQuery") return Reflect.get(target, prop, receiver) as unknown;
          return async (query: CompiledQuery) => {
            const key = String(query.parameters[0]);
            started.push(key);
            if (key.startsWith(`steward:agent:reads:${id}`)) agentStarted();
            const result = await target.executeQuery(query);
            if (key.startsWith("steward:ip:all:") && overlapped === undefined) {
              overlapped = await Promise.race([agentStart.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);
            }
            return result;
          };
        },
      });
      const app = limitedApp(gated);

      expect((await request(app).get("/api/session").set("Authorization", `Bearer ${token}`)).status).toBe(200);
      expect(overlapped).toBe(true);
      // Counted once each, though the token was read twice (here and by checkAgent).
      expect(started.filter((k) => k.startsWith(`steward:agent:reads:${id}`))).toHaveLength(1);
      expect(started.filter((k) => k.startsWith("steward:ip:all:"))).toHaveLength(1);
      // No valid session: the client is counted, no agent is.
      started.length = 0;
      const forged = `${token.slice(0, -4)}AAAA`;
      expect((await request(app).get("/api/session").set("Authorization", `Bearer ${forged}`)).status).toBe(401);
      expect(started).toEqual([expect.stringMatching(/^steward:ip:all:/)]);
    });
  }

  it("a request its client's limit refuses costs its agent nothing: the agent's early point is given back", async () => {
    const { id, token } = await newAgent("support_full");
    // PostgreSQL: the agent's counter statements are noted, to see what a refused client still costs.
    const agentStatements: string[] = [];
    const counters = h.deps.database.counters;
    const watched = counters
      ? new Proxy(counters, {
          get(target, prop, receiver) {
            if (prop !== "executeQuery") return Reflect.get(target, prop, receiver) as unknown;
            return (query: CompiledQuery) => {
              if (String(query.parameters[0]).includes(id)) agentStatements.push(String(query.sql).trimStart().slice(0, 40));
              return target.executeQuery(query);
            };
          },
        })
      : undefined;
    // A client limit of 3, so the agent can come from a second, fresh address afterwards.
    const app = limitedApp(watched, { perIp: 3 });
    const from = (address: string) => request(app).get("/api/session").set("Authorization", `Bearer ${token}`).set("X-Forwarded-For", address);
    const busy = `203.0.113.${agents}`;
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await from(busy)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    // PostgreSQL: three counts served, the fourth counted and given back; once this process refuses the
    // client on its own (from the fifth), its requests cost the database nothing, the agent's count included.
    if (counters) expect(agentStatements).toHaveLength(5);
    expect((await from(busy)).body).toMatchObject({ status: 429, scope: "ip" });
    // The address whole: 203.0.113.1 is also the start of another test's 203.0.113.12.
    expect((await limitAudits(h)).filter((a) => a.actor_system === "rate_limiter" && a.error?.includes(`client ${busy} over`))).toHaveLength(1);
    // The agent has used 3 of its 4 reads: from a fresh address one more goes through, then its own limit.
    const fresh = `198.51.100.${agents}`;
    expect((await from(fresh)).status).toBe(200);
    const own = await from(fresh);
    expect(own.body).toMatchObject({ status: 429, scope: "agent" });
    expect((await limitAudits(h)).filter((a) => a.staff_id === id)).toHaveLength(1);
  });

  it("an agent's first refusal that falls on a request its client's limit refused is recorded with the agent's next refusal", async () => {
    const { id, token } = await newAgent("support_full");
    const app = limitedApp(h.deps.database.counters, { perIp: 3 });
    const from = (address: string, auth = true) => {
      const r = request(app).get("/api/session").set("X-Forwarded-For", address);
      return auth ? r.set("Authorization", `Bearer ${token}`) : r;
    };
    const busy = `203.0.113.${100 + agents}`;
    // The agent uses its 4 reads, each from an address of its own; the busy address uses its 3 requests without signing in.
    for (let i = 0; i < 4; i++) expect((await from(`198.51.${agents}.${i}`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await from(busy, false)).status).toBe(401);
    // The agent's fifth read, from the busy address: over both limits, refused for the address.
    expect((await from(busy)).body).toMatchObject({ status: 429, scope: "ip" });
    expect((await limitAudits(h)).filter((a) => a.staff_id === id)).toHaveLength(0);
    // Its next read, from a fresh address: refused for the agent, and now recorded, once.
    expect((await from(`192.0.2.${100 + agents}`)).body).toMatchObject({ status: 429, scope: "agent" });
    expect((await limitAudits(h)).filter((a) => a.staff_id === id)).toHaveLength(1);
    expect((await from(`192.0.2.${100 + agents}`)).body).toMatchObject({ status: 429, scope: "agent" });
    expect((await limitAudits(h)).filter((a) => a.staff_id === id)).toHaveLength(1);
  });

  // PostgreSQL only: PGlite counts in memory.
  it.runIf(kind === "postgres")("the counter's upsert goes to the driver as the named statement rate-limiter-flexible gives it: planned once per connection, not parsed on every request", async () => {
    const { token } = await newAgent("support_read_only");
    const sent: unknown[] = [];
    const original = pg.Client.prototype.query;
    const query = vi.spyOn(pg.Client.prototype, "query").mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      sent.push(args[0]);
      return (original as (...a: unknown[]) => unknown).apply(this, args) as never;
    });
    try {
      expect((await request(h.app).get("/api/search?q=x").set("Authorization", `Bearer ${token}`)).status).toBe(200);
    } finally {
      query.mockRestore();
    }
    const upserts = sent.filter((q) => JSON.stringify(q).includes('INSERT INTO \\"rate_limits\\"'));
    // The client's count and the agent's.
    expect(upserts).toHaveLength(2);
    for (const q of upserts) expect(q).toMatchObject({ name: "rate_limits_rlflx_upsert" });
  });

  it.runIf(kind === "postgres")("once this process has seen an agent over the limit it refuses them for the rest of the window without asking the database; another process still counts in the table", async () => {
    const { id, token } = await newAgent("support_full");
    const key = `steward:agent:reads:${id}`;
    /** A limiter as one Steward process has it, with the counter statements it sends noted by key. */
    const processLimits = () => {
      const sent: string[] = [];
      const counters = h.deps.database.counters!;
      const watched = new Proxy(counters, {
        get(target, prop, receiver) {
          if (prop !== "executeQuery") return Reflect.get(target, prop, receiver) as unknown;
          return (query: CompiledQuery) => {
            sent.push(String(query.parameters[0]));
            return target.executeQuery(query);
          };
        },
      });
      return { app: limitedApp(watched), sent };
    };
    const one = processLimits();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await request(one.app).get("/api/session").set("Authorization", `Bearer ${token}`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
    // Four counted, and the fifth learnt the limit was reached; the last three never reached the database.
    expect(one.sent.filter((k) => k === key)).toHaveLength(5);
    const refused = await request(one.app).get("/api/session").set("Authorization", `Bearer ${token}`);
    expect(refused.body).toMatchObject({ status: 429, code: "rate_limited", scope: "agent" });
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(60);
    // Still one audit entry for the window.
    expect((await limitAudits(h)).filter((a) => a.staff_id === id)).toHaveLength(1);
    // A second process has not seen it yet: it asks the shared count, which refuses.
    const two = processLimits();
    expect((await request(two.app).get("/api/session").set("Authorization", `Bearer ${token}`)).status).toBe(429);
    expect(two.sent.filter((k) => k === key)).toHaveLength(1);
    expect((await limitAudits(h)).filter((a) => a.staff_id === id)).toHaveLength(1);
  });

  it("bad sign-ins are limited per client address, audited once per window by Steward itself", async () => {
    const before = (await limitAudits(h)).filter((a) => a.actor_system === "rate_limiter").length;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await request(h.app).post("/api/session").send({ token: "not-a-token" })).status);
    expect(statuses.slice(0, 3).every((s) => s === 400 || s === 401)).toBe(true);
    expect(statuses.slice(3)).toEqual([429, 429, 429]);
    const after = (await limitAudits(h)).filter((a) => a.actor_system === "rate_limiter");
    expect(after.length - before).toBe(1);
    expect(after.filter((a) => /logins/.test(a.error ?? ""))).toHaveLength(1);
    // The sidebar's own sign-in (Zendesk's form POST into its frame) is refused with a page the agent can
    // read, not problem+json (which leaves the frame blank); an API client still gets problem+json.
    const page = await request(h.app).post("/app").type("form").set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8").send({ token: "x" });
    expect(page.status).toBe(429);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(Number(page.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(page.text).toContain('data-problem="rate_limited"');
    expect(page.text).toMatch(/More than 3 logins per 60 s from this client address; retry in \d+ s/);
    const api = await request(h.app).post("/app").type("form").set("Accept", "application/json").send({ token: "x" });
    expect(api.status).toBe(429);
    expect(api.headers["content-type"]).toMatch(/application\/problem\+json/);
    // Health checks are never limited.
    expect((await request(h.app).get("/healthz")).status).toBe(200);
  });
});

describe("rate limits shared by two Steward processes on one PostgreSQL", () => {
  const started: StewardProcess[] = [];
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const p of started) p.child.kill("SIGTERM");
    await Promise.all(started.map((p) => p.exited));
    for (const close of closers) await close();
  });

  it("requests spread over both processes count against one limit, with one audit entry", async () => {
    const database = await createTestDatabase("postgres");
    closers.push(() => database.close());
    await seedDemoData(database.db, new Date());
    const env = { DATABASE_URL: database.location, DEMO_SEED: "false", ...LIMITS };
    started.push(await spawnSteward(env), await spawnSteward(env));
    const [a, b] = started as [StewardProcess, StewardProcess];
    const agent = DEMO_AGENTS.find((x) => x.role === "support_full")!;
    const { token } = await issueSessionToken({ config: testConfig(), clock: systemClock }, { staffId: agent.id, zendeskUserId: agent.zendeskUserId });
    const get = (p: StewardProcess) => fetch(`${p.url}/api/session`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    const statuses = await Promise.all([a, b, a, b, a, b, a, b].map(get));
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(4);
    const audits = await database.db.selectFrom("audit_log").select("actor_staff_id as staff_id").where("action", "=", "request.rate_limited").execute();
    expect(audits).toEqual([{ staff_id: agent.id }]);
  }, 240_000);
});
