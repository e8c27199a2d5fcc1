import { mkdirSync } from "node:fs";
import { PGlite, types as pgliteTypes } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { unaccent } from "@electric-sql/pglite/contrib/unaccent";
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient, type RawBuilder } from "kysely";
import pg from "pg";
import { lockDataDir } from "./dataDirLock.js";
import { databaseFault } from "./databaseFaults.js";
import { PGliteDialect } from "./pgliteDialect.js";
import type { DB } from "./schema.js";

export type DatabaseKind = "pglite" | "postgres";

export interface Database {
  db: Kysely<DB>;
  kind: DatabaseKind;
  /** Where it lives: a PGlite data directory, "memory", or the PostgreSQL URL without its password. */
  location: string;
  close(): Promise<void>;
  /** Connections in use / open / requests waiting for one, for the metrics endpoint. */
  poolUsage(): { inUse: number; open: number; waiting: number; max: number };
  /** PGlite only: the whole data directory as a tarball, to open copies of it with `initialData`. */
  dumpDataDir?(): Promise<Blob>;
  /**
   * Runs `fn` without the per-request statement limit (migrations and the demo seed at start, before
   * any request is served). PostgreSQL migrations use a pool of their own instead; there this just runs `fn`.
   */
  unbounded<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * PostgreSQL: for counters a crash may lose the last moments of (rate limits), on connections whose
   * commits do not wait for the disk. A counter every request updates (one client address, one agent) is
   * a hot row: with durable commits each update holds its row lock through a flush, and the service goes
   * no faster than the disk flushes. Never for audit entries or customer data. PGlite: `db` itself.
   */
  counters?: Kysely<DB>;
}

/** Bounds on how long one request may wait on the database; without them a stuck lock stalls everyone. */
export interface DatabaseLimits {
  /** PostgreSQL statement_timeout; PGlite: how long one holder may keep its one connection busy or idle (pgliteDialect.ts). */
  statementTimeoutMs: number;
  /** PostgreSQL lock_timeout: waiting for a row or table lock. */
  lockTimeoutMs: number;
  /** Opening a connection or waiting for a free one in the pool (PGlite: for its one connection). */
  connectTimeoutMs: number;
}

export type DatabaseOptions = (
  | { kind: "postgres"; url: string; poolSize?: number }
  | {
      kind: "pglite";
      dataDir: string | "memory";
      /** Start from this `dumpDataDir()` tarball instead of an empty cluster (tests reuse one migrated copy). */
      initialData?: Blob;
    }
) & {
  /** None: wait as long as it takes (CLI, migrations, benchmarks). The server passes the configured ones. */
  limits?: DatabaseLimits;
  /** A pooled connection broke (restart, failover, pg_terminate_backend); the pool has already dropped it. */
  onConnectionError?: (err: Error) => void;
};

const INT8 = 20;

// At the start of a raw statement, or right after "select" (a query builder's modifyFront).
const PREPARED_MARK = /^(?:select )?\/\* prepared:([a-z0-9_]+) \*\//;

/**
 * Starts a statement that PostgreSQL parses and plans once per connection (a pg named statement), for
 * the hot request path. Only statements marked so are named: their text and parameter count must never
 * vary, or the name would stand for two statements. PGlite ignores the mark (it is a comment).
 */
export function preparedStatement(name: string): RawBuilder<unknown> {
  // Used in front of a raw statement, or as a select builder's modifyFront(preparedStatement(…)).
  return sql.raw(preparedMark(name));
}

/** The mark itself, for SQL text that does not go through a query builder (see preparedStatement). */
export function preparedMark(name: string): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`prepared statement name ${name}: use a-z, 0-9 and _`);
  return `/* prepared:${name} */`;
}

/** Statements that change nothing: run again on another connection, they cannot apply twice. */
const REPEATABLE = /^(?:\/\* prepared:[a-z0-9_]+ \*\/\s*)?(?:begin|select)\b/i;

/**
 * The pool Kysely sees: marked statements go out as named statements, everything else as before.
 *
 * A pooled connection the database ended while it sat idle (restart, failover, pg_terminate_backend,
 * a reset by the network) is only found out when a statement is sent on it. If that is the first
 * statement of a checkout and it is `begin` or a read, it runs again on another connection (the dead one
 * is discarded), so the request does not fail for a connection it never really used. A write, or
 * anything later in a checkout, still fails: whether it was applied is not known.
 */
function namedStatementPool(pool: pg.Pool, attempts: number): PostgresPool {
  // One wrapper per pg client: Kysely keys its connection objects by client.
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient & { fresh: boolean }>();
  const send = (client: pg.PoolClient, text: unknown, values?: unknown[]) => {
    const name = typeof text === "string" ? PREPARED_MARK.exec(text)?.[1] : undefined;
    if (name) return client.query({ name, text: text as string, values });
    return (client.query as (t: unknown, v?: unknown[]) => Promise<unknown>)(text, values);
  };
  const wrap = (first: pg.PoolClient) => {
    const known = wrappers.get(first);
    if (known) return known;
    let client = first;
    // Between discarding a dead client and drawing its replacement there is none to hand back.
    let held = true;
    const wrapper = {
      fresh: true,
      query: (async (text: unknown, values?: unknown[]) => {
        const retryable = wrapper.fresh && typeof text === "string" && REPEATABLE.test(text);
        wrapper.fresh = false;
        for (let attempt = 1; ; attempt++) {
          try {
            return await send(client, text, values);
          } catch (err) {
            // A statement on a checked-out connection can only meet the "unavailable" faults of a lost connection.
            if (!retryable || attempt >= attempts || databaseFault(err) !== "unavailable") throw err;
            // Passing the error makes the pool destroy the client instead of keeping it.
            client.release(err as Error);
            held = false;
            client = await pool.connect();
            held = true;
          }
        }
      }) as PostgresPoolClient["query"],
      release: (...args: unknown[]) => {
        if (held) (client.release as (...a: unknown[]) => void)(...args);
      },
    };
    wrappers.set(first, wrapper);
    return wrapper;
  };
  return {
    connect: async () => {
      const wrapper = wrap(await pool.connect());
      wrapper.fresh = true;
      return wrapper;
    },
    end: () => pool.end(),
  };
}

/** Opens the database; PGlite (embedded) unless a PostgreSQL URL is given. Same SQL dialect on both. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.kind === "postgres") {
    const limits = options.limits;
    const max = options.poolSize ?? 10;
    const onConnectionError = options.onConnectionError ?? (() => undefined);
    const open = (size: number, settings?: string) => {
      const pool = new pg.Pool({
        connectionString: options.url,
        max: size,
        ...(settings ? { options: settings } : {}),
        ...(limits ? { statement_timeout: limits.statementTimeoutMs, lock_timeout: limits.lockTimeoutMs, connectionTimeoutMillis: limits.connectTimeoutMs } : {}),
        // Counts and sequence numbers are int8; they fit in a JS number for this domain.
        types: { getTypeParser: (oid: number, format?: string) => (oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) },
      });
      // Without these listeners a terminated backend is an unhandled 'error' event and kills the process.
      // The broken client is not queryable any more, so the pool discards it on release and opens a new one.
      pool.on("error", (err) => onConnectionError(err));
      pool.on("connect", (client) => client.on("error", (err) => onConnectionError(err)));
      // Every idle connection may be dead after a restart: one more attempt than the pool holds reaches a new one.
      return { pool, db: new Kysely<DB>({ dialect: new PostgresDialect({ pool: namedStatementPool(pool, size + 1) }) }) };
    };
    const { pool, db } = open(max);
    // One statement each, and short: a few connections serve every request's counters.
    const counters = open(Math.max(2, Math.ceil(max / 4)), "-c synchronous_commit=off").db;
    return {
      db,
      counters,
      kind: "postgres",
      location: redactUrl(options.url),
      close: async () => {
        await Promise.all([db.destroy(), counters.destroy()]);
      },
      poolUsage: () => ({ inUse: pool.totalCount - pool.idleCount, open: pool.totalCount, waiting: pool.waitingCount, max }),
      unbounded: (fn) => fn(),
    };
  }
  const memory = options.dataDir === "memory";
  if (!memory) mkdirSync(options.dataDir, { recursive: true });
  // One process per directory: a second server or CLI command is refused while this one holds it.
  const unlock = memory ? () => undefined : lockDataDir(options.dataDir);
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(memory ? undefined : options.dataDir, {
      extensions: { pg_trgm, unaccent },
      ...(options.initialData ? { loadDataDir: options.initialData } : {}),
      parsers: { [pgliteTypes.INT8]: (v: string) => Number(v) },
    });
  } catch (err) {
    unlock();
    throw err;
  }
  const dialect = new PGliteDialect(pglite, { acquireTimeoutMs: options.limits?.connectTimeoutMs, statementTimeoutMs: options.limits?.statementTimeoutMs });
  const db = new Kysely<DB>({ dialect });
  return {
    db,
    kind: "pglite",
    location: options.dataDir,
    close: async () => {
      try {
        await db.destroy();
      } finally {
        unlock();
      }
    },
    poolUsage: () => dialect.usage(),
    dumpDataDir: () => pglite.dumpDataDir("none"),
    unbounded: (fn) => dialect.withoutStatementTimeout(fn),
  };
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparseable url)";
  }
}
