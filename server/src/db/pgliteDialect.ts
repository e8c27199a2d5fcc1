import type { PGlite } from "@electric-sql/pglite";
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from "kysely";
import { DatabaseBusyError } from "./databaseFaults.js";

/**
 * PGlite has one connection: queries and transactions take turns through this lock. A waiter gives
 * up after `timeoutMs` (if set) so a long transaction cannot stall every request behind it.
 */
class Mutex {
  private held = false;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly timeoutMs?: number) {}

  get usage(): { inUse: number; open: number; waiting: number; max: number } {
    return { inUse: this.held ? 1 : 0, open: 1, waiting: this.waiters.length, max: 1 };
  }

  lock(): Promise<() => void> {
    const release = () => {
      const next = this.waiters.shift();
      if (next) next();
      else this.held = false;
    };
    if (!this.held) {
      this.held = true;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const granted = () => {
        clearTimeout(timer);
        resolve(release);
      };
      this.waiters.push(granted);
      if (this.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const at = this.waiters.indexOf(granted);
          if (at >= 0) this.waiters.splice(at, 1);
          reject(new DatabaseBusyError(this.timeoutMs ?? 0));
        }, this.timeoutMs);
      }
    });
  }
}

/**
 * PGlite runs in this thread: its `statement_timeout` never fires (no timer signals in WASM) and a
 * running statement blocks the event loop, so nothing can interrupt it. What can be bounded is how
 * long one holder keeps the single connection: a statement inside a transaction that ran past the
 * limit fails (57014, like PostgreSQL's statement_timeout) and its transaction is rolled back; a
 * holder that sits on the connection without running anything for longer than the limit loses it
 * (rolled back, handed to the next waiter), and its later statements fail the same way. Either way
 * the request answers 503 and the connection stays usable.
 */
export class PGliteStatementTimeout extends Error {
  readonly code = "57014";
  constructor(detail: string) {
    super(`canceling statement due to statement timeout (${detail})`);
    this.name = "PGliteStatementTimeout";
  }
}

const isRollback = (sqlText: string) => /^\s*rollback\b/i.test(sqlText);
const isBegin = (sqlText: string) => /^\s*(begin|start transaction)\b/i.test(sqlText);
const endsTransaction = (sqlText: string) => /^\s*(commit|rollback|end)\b/i.test(sqlText);

/** One holder's turn on the connection: from acquire to release (or until it is taken away). */
class PGliteLease implements DatabaseConnection {
  private revokedFor: string | null = null;
  private inTransaction = false;
  private running = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private released = false;

  constructor(
    private readonly pg: PGlite,
    private readonly release: () => void,
    private readonly limitMs: number | undefined,
  ) {
    this.armIdle();
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.revokedFor !== null) {
      // Kysely rolls back after a failure; the transaction is already gone.
      if (isRollback(query.sql)) return { rows: [] };
      throw new PGliteStatementTimeout(this.revokedFor);
    }
    clearTimeout(this.idleTimer);
    this.running++;
    const started = performance.now();
    let result: Awaited<ReturnType<PGlite["query"]>>;
    try {
      result = await this.pg.query<R>(query.sql, [...query.parameters]);
    } finally {
      this.running--;
    }
    const took = performance.now() - started;
    if (isBegin(query.sql)) this.inTransaction = true;
    else if (endsTransaction(query.sql)) this.inTransaction = false;
    // Outside a transaction the statement has taken effect; failing it would misreport a done write.
    if (this.limitMs !== undefined && took > this.limitMs && this.inTransaction) {
      await this.revoke(`a statement ran ${Math.round(took)} ms, limit ${this.limitMs} ms`);
      throw new PGliteStatementTimeout(`ran ${Math.round(took)} ms, limit ${this.limitMs} ms`);
    }
    this.armIdle();
    return {
      rows: result.rows as R[],
      ...(result.affectedRows !== undefined ? { numAffectedRows: BigInt(result.affectedRows) } : {}),
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("PGlite does not stream; page with keyset queries instead");
  }

  /** The holder is done: the next waiter gets the connection (once, even after a revoke). */
  giveBack(): void {
    clearTimeout(this.idleTimer);
    if (this.released) return;
    this.released = true;
    this.release();
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    if (this.limitMs === undefined || this.released) return;
    this.idleTimer = setTimeout(() => {
      if (this.running === 0) void this.revoke(`the connection was held idle for more than ${this.limitMs} ms`).then(() => this.giveBack());
    }, this.limitMs);
    this.idleTimer.unref();
  }

  /** Rolls back what the holder started and refuses its further statements. */
  private async revoke(reason: string): Promise<void> {
    if (this.revokedFor !== null) return;
    this.revokedFor = reason;
    clearTimeout(this.idleTimer);
    if (this.inTransaction) {
      this.inTransaction = false;
      await this.pg.query("rollback").catch(() => undefined);
    }
  }
}

class PGliteDriver implements Driver {
  constructor(
    private readonly pg: PGlite,
    private readonly mutex: Mutex,
    private readonly statementTimeoutMs: () => number | undefined,
  ) {}

  async init(): Promise<void> {
    await this.pg.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.mutex.lock();
    return new PGliteLease(this.pg, release, this.statementTimeoutMs());
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const level = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : "";
    await connection.executeQuery(CompiledQuery.raw(`begin${level}`));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("rollback"));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as PGliteLease).giveBack();
  }

  async destroy(): Promise<void> {
    if (!this.pg.closed) await this.pg.close();
  }
}

export class PGliteDialect implements Dialect {
  private readonly mutex: Mutex;
  private readonly statementTimeoutMs: number | undefined;
  private unboundedRuns = 0;
  constructor(
    private readonly pg: PGlite,
    options: { acquireTimeoutMs?: number; statementTimeoutMs?: number } = {},
  ) {
    this.mutex = new Mutex(options.acquireTimeoutMs);
    this.statementTimeoutMs = options.statementTimeoutMs;
  }
  usage(): { inUse: number; open: number; waiting: number; max: number } {
    return this.mutex.usage;
  }
  /** Connections taken while `fn` runs have no statement limit (migrations, seeding at start). */
  async withoutStatementTimeout<T>(fn: () => Promise<T>): Promise<T> {
    this.unboundedRuns++;
    try {
      return await fn();
    } finally {
      this.unboundedRuns--;
    }
  }
  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pg, this.mutex, () => (this.unboundedRuns > 0 ? undefined : this.statementTimeoutMs));
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
}
