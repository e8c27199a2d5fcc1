import type { Request, RequestHandler } from "express";
import { CompiledQuery } from "kysely";
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { StaffActor } from "../actor.js";
import { systemActor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import { auditWriteFailed } from "../audit/failClosed.js";
import { recordDenial } from "../auth/recordDenial.js";
import { preparedMark } from "../db/database.js";
import { bearerToken, verifyRequestSession } from "../auth/sessionToken.js";
import type { AppDeps } from "../deps.js";
import { Problem } from "./problem.js";

/** What an agent's request counts against, after authentication. */
export type AgentLimit = "reads" | "writes" | "searches";
/** What a client IP's request counts against, before anything else runs. */
export type IpLimit = "logins" | "all";

export interface RateLimits {
  /** Per client IP, for every request but health and metrics: all of them, and sign-ins apart. */
  byIp: RequestHandler;
  /** Per agent: throws a 429 Problem when the agent is over the limit of this request's class. */
  checkAgent(req: Request, actor: StaffActor): Promise<void>;
}

const UNLIMITED = new Set(["/healthz", "/readyz", "/metrics"]);
const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Sign-ins: the ZAF-token exchange and the sidebar page (no agent is known yet, so they are counted per IP). */
function isLogin(req: Request): boolean {
  if (req.path === "/app" || req.path === "/zendesk/api/zaf-token") return true;
  // POST /api/session (exchange) and /api/session/renew mint sessions; GET /api/session is an ordinary read.
  return req.method === "POST" && (req.path === "/api/session" || req.path === "/api/session/renew");
}

export function agentLimitOf(req: Request): AgentLimit {
  if (req.path === "/api/search") return "searches";
  return READ_METHODS.has(req.method) ? "reads" : "writes";
}

/**
 * rate-limiter-flexible's PostgreSQL store speaks node-postgres' `query({name, text, values})`; this runs it
 * through Kysely, so it gets the same pool, timeouts and fault handling as every other query. The names it
 * gives its fixed statements (the upsert every request makes) are kept: planned once per connection.
 */
function kyselyStoreClient(db: AppDeps["database"]["db"]) {
  return {
    query: async (q: { name?: string; text: string; values?: unknown[] }) => {
      const text = q.name ? `${preparedMark(q.name.toLowerCase().replace(/[^a-z0-9_]/g, "_"))} ${q.text.trimStart()}` : q.text;
      const result = await db.executeQuery(CompiledQuery.raw(text, q.values ?? []));
      return { rows: result.rows, rowCount: result.rows.length || Number(result.numAffectedRows ?? 0) };
    },
  };
}

function limiter(deps: AppDeps, name: string, points: number): RateLimiterAbstract {
  const duration = deps.config.RATE_LIMIT_WINDOW_SECONDS;
  const keyPrefix = `steward:${name}`;
  // PGlite is one process (its data directory is locked), so memory is exact there.
  if (deps.database.kind !== "postgres") return new RateLimiterMemory({ keyPrefix, points, duration });
  return new RateLimiterPostgres({
    // Counted on connections whose commits do not wait for the disk (db/database.ts `counters`).
    storeClient: kyselyStoreClient(deps.database.counters ?? deps.database.db),
    storeType: "client",
    tableName: "rate_limits",
    // Created by migration 017: production's service role cannot CREATE.
    tableCreated: true,
    keyPrefix,
    points,
    duration,
    // A database fault must not turn every request into a 500: this process counts alone until it is back.
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration }),
    // Once the shared count says a key is over, this process refuses it until the window ends without asking
    // again: a flood past the limit costs the database nothing more. Other processes still count in the table.
    inMemoryBlockOnConsumed: points + 1,
  });
}

/** Whether this process refuses the key without asking the database (inMemoryBlockOnConsumed; the memory store has no such block). */
function blockedHere(rl: RateLimiterAbstract, key: string): boolean {
  const store = rl as RateLimiterAbstract & { getInMemoryBlockMsBeforeExpire?: (rlKey: string) => number };
  return (store.getInMemoryBlockMsBeforeExpire?.(rl.getKey(key)) ?? 0) > 0;
}

function retryAfterSeconds(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}

function tooMany(kind: string, scope: "agent" | "ip", points: number, windowSeconds: number, res: RateLimiterRes): Problem {
  const wait = retryAfterSeconds(res);
  return new Problem(
    429,
    "rate_limited",
    "Too many requests",
    `More than ${points} ${kind === "all" ? "requests" : kind} per ${windowSeconds} s from this ${scope === "agent" ? "agent" : "client address"}; retry in ${wait} s`,
    { limit: points, windowSeconds, scope, class: kind, retryAfterSeconds: wait },
    wait,
  );
}

/**
 * Consumes one point. Resolves to the refusal (or null), and whether this is the first refusal of the
 * window: the counter is shared and incremented atomically, so exactly one request in all processes
 * sees `points + 1`, and only that one is audited.
 */
type Hit = { res: RateLimiterRes; first: boolean } | null;

async function take(rl: RateLimiterAbstract, key: string): Promise<Hit> {
  try {
    await rl.consume(key);
    return null;
  } catch (err) {
    if (err instanceof RateLimiterRes) return { res: err, first: err.consumedPoints === rl.points + 1 };
    throw err;
  }
}

export function createRateLimits(deps: AppDeps): RateLimits {
  const c = deps.config;
  const agent: Record<AgentLimit, RateLimiterAbstract> = {
    reads: limiter(deps, "agent:reads", c.RATE_LIMIT_READS),
    writes: limiter(deps, "agent:writes", c.RATE_LIMIT_WRITES),
    searches: limiter(deps, "agent:searches", c.RATE_LIMIT_SEARCHES),
  };
  const ip: Record<IpLimit, RateLimiterAbstract> = {
    all: limiter(deps, "ip:all", c.RATE_LIMIT_PER_IP),
    logins: limiter(deps, "ip:logins", c.RATE_LIMIT_LOGINS),
  };
  const window = c.RATE_LIMIT_WINDOW_SECONDS;
  const counted = new WeakSet<Request>();
  /** An agent's count started beside the client's (byIp), for checkAgent to take up. */
  const early = new WeakMap<Request, Promise<{ staffId: string; hit: Hit }>>();
  /**
   * Agents (per limit) whose first refusal of a window fell on a request their client's limit refused, so it
   * never reached checkAgent: this process records their next refusal in that window instead, and only it
   * (the others see the shared count past the first). Until the window ends.
   */
  const owed = new Map<string, number>();
  const owedKey = (kind: AgentLimit, staffId: string) => `${kind}:${staffId}`;

  /**
   * A request with a session token counts against its agent's limit in the same round trip as its client's:
   * the token is verified here to learn whose request it is (authenticate takes up the same verification
   * and decides), so two counters cost one database round trip on every signed-in request, not two in series.
   */
  const startAgentCount = (req: Request): void => {
    if (!req.headers.authorization) return;
    let token: string;
    try {
      token = bearerToken(req.headers.authorization);
    } catch {
      return;
    }
    const kind = agentLimitOf(req);
    const counting = verifyRequestSession(req, token, deps).then(
      async (session) => ({ staffId: session.staffId, hit: await take(agent[kind], session.staffId) }),
      // Not a valid session: nothing counted here; authenticate refuses it.
      () => ({ staffId: "", hit: null }),
    );
    // Awaited by checkAgent; a request that never gets there must not leave a rejection unhandled.
    counting.catch(() => undefined);
    early.set(req, counting);
  };

  /**
   * A request its client's limit refuses never reaches its agent: the point its early count took is given
   * back, so agents behind a busy shared address (an office's NAT) are not charged for requests never served.
   * Not when that count was itself over the limit: the agent is refused for the rest of the window anyway
   * (this process now blocks the key in memory), and a point given back would let a later refusal count as
   * the window's first again. Was it the first, the record of it is owed (above).
   */
  const giveBackEarly = async (req: Request): Promise<void> => {
    const counting = early.get(req);
    if (!counting) return;
    early.delete(req);
    const started = await counting.catch(() => undefined);
    if (!started?.staffId) return;
    if (started.hit?.first) owed.set(owedKey(agentLimitOf(req), started.staffId), Date.now() + started.hit.res.msBeforeNext);
    if (started.hit) return;
    await agent[agentLimitOf(req)].reward(started.staffId, 1).catch((err: unknown) => req.log?.warn({ err }, "could not give back an agent's point for a request its client's limit refused"));
  };

  const byIp: RequestHandler = async (req, res, next) => {
    try {
      if (UNLIMITED.has(req.path)) return next();
      const client = req.ip ?? req.socket.remoteAddress ?? "unknown";
      const classes: IpLimit[] = isLogin(req) ? ["all", "logins"] : ["all"];
      // A client this process already refuses without asking the database costs nothing, its agent included.
      if (classes.length === 1 && !blockedHere(ip.all, client)) startAgentCount(req);
      for (const kind of classes) {
        const hit = await take(ip[kind], client);
        if (!hit) continue;
        const problem = tooMany(kind, "ip", ip[kind].points, window, hit.res);
        req.log?.warn({ limit: kind, client }, "rate limit reached");
        await giveBackEarly(req);
        if (hit.first) {
          // No agent is known here (this runs before authentication and body parsing): Steward itself records it.
          try {
            await appendAudit(
              deps.database.db,
              {
                actor: systemActor("rate_limiter"),
                action: "request.rate_limited",
                target: { type: "system", id: null, accountId: null },
                ticketId: null,
                outcome: "denied",
                error: `rate_limited: client ${client.slice(0, 64)} over ${problem.extra.limit} ${kind === "all" ? "requests" : kind} per ${window} s`,
                requestId: String(req.id ?? "") || null,
              },
              deps.clock,
            );
          } catch (err) {
            req.log?.error({ err }, "could not audit a rate-limit refusal");
            throw auditWriteFailed(err);
          }
        }
        throw problem;
      }
      next();
    } catch (err) {
      next(err);
    }
  };

  return {
    byIp,
    async checkAgent(req, actor) {
      // Some routes authenticate twice on one request (staff changes pick their permission after reading the body).
      if (counted.has(req)) return;
      counted.add(req);
      const kind = agentLimitOf(req);
      const started = await early.get(req);
      early.delete(req);
      const hit = started?.staffId === actor.staffId ? started.hit : await take(agent[kind], actor.staffId);
      const key = owedKey(kind, actor.staffId);
      const owedUntil = owed.get(key) ?? 0;
      owed.delete(key);
      if (!hit) return;
      const problem = tooMany(kind, "agent", agent[kind].points, window, hit.res);
      req.log?.warn({ limit: kind, staffId: actor.staffId }, "rate limit reached");
      if (hit.first || Date.now() < owedUntil) await recordDenial(deps, { actor, action: "request.rate_limited", problem, req, target: { type: "system", id: null, accountId: null } });
      throw problem;
    },
  };
}
