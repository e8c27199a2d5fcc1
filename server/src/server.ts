import { createServer, type Server } from "node:http";
import { answerClientErrors } from "./http/clientError.js";
import { systemClock, type Clock } from "./clock.js";
import { createApp, type AppOptions } from "./app.js";
import { startAuditSealer, type AuditSealer } from "./audit/sealerLoop.js";
import { auditKeysOf } from "./audit/sealKey.js";
import type { Config } from "./config.js";
import { openDatabase, type Database } from "./db/database.js";
import { migrateToLatest } from "./db/migrate.js";
import type { AppDeps } from "./deps.js";
import { HttpDrain } from "./http/drain.js";
import { createLogger, type Logger } from "./logger.js";
import { startImpersonationLoop } from "./impersonation/impersonationLoop.js";
import { grantKeysFor } from "./impersonation/signingKeys.js";
import { startMailDelivery } from "./mail/delivery.js";
import { activatePlanCatalog } from "./providers/planCatalog.js";
import { createBillingPort, createIdentityPort, type BillingPort, type IdentityPort } from "./providers/index.js";
import { createDirectoryPort, type DirectoryPort } from "./directory/index.js";
import { startReconciler } from "./reconcile/reconciler.js";
import { seedDemoData } from "./seed/demo.js";
import { startSweepLoop } from "./sweeps/sweepLoop.js";

/** Opens the database, applies migrations and (in demo mode) seeds it once. */
export async function buildDeps(
  config: Config,
  overrides: { logger?: Logger; clock?: Clock; database?: Database; identity?: IdentityPort; billing?: BillingPort; directory?: DirectoryPort } = {},
): Promise<AppDeps> {
  const logger = overrides.logger ?? createLogger(config.LOG_LEVEL);
  const auditKeys = auditKeysOf(config);
  activatePlanCatalog(config.planCatalog);
  const database = overrides.database ?? (await openServerDatabase(config, logger));
  if (!overrides.database) await migrateWithoutLimits(config, database);
  else await migrateToLatest(database.db);
  if (config.demo && config.DEMO_SEED) {
    const seeded = await database.unbounded(() => seedDemoData(database.db));
    logger.info({ seeded }, seeded.created ? "demo data seeded" : "demo data already present");
  }
  const clock = overrides.clock ?? systemClock;
  // The impersonation signing key: created in demo mode, refused at start when production has none.
  await grantKeysFor(config).current(clock.now());
  const providerDeps = { config, db: database.db, clock, logger };
  const identity = overrides.identity ?? createIdentityPort(providerDeps);
  const billing = overrides.billing ?? createBillingPort(providerDeps);
  const directory = overrides.directory ?? createDirectoryPort(providerDeps);
  logger.info({ identity: identity.name, billing: billing.name, directory: directory.name }, "providers ready");
  return { config, database, logger, clock, identity, billing, directory, auditKeys };
}

/** The server's database: bounded waits, and a broken connection logged instead of crashing the process. */
function openServerDatabase(config: Config, logger: Logger): Promise<Database> {
  return openDatabase({
    ...config.database,
    limits: config.databaseLimits,
    onConnectionError: (err) => logger.warn({ err: err.message }, "a database connection broke; the pool replaces it"),
  });
}

/** A migration on a large table may take longer than a request may: on PostgreSQL it gets its own unbounded pool. */
async function migrateWithoutLimits(config: Config, database: Database): Promise<void> {
  if (config.database.kind !== "postgres") {
    await database.unbounded(() => migrateToLatest(database.db));
    return;
  }
  const unbounded = await openDatabase({ ...config.database, poolSize: 1 });
  try {
    await migrateToLatest(unbounded.db);
  } catch (err) {
    throw withOwnerHint(err);
  } finally {
    await unbounded.close();
  }
}

/** The service role may not change the schema (deploy/postgres-roles.sql): say who must, rather than only "permission denied". */
function withOwnerHint(err: unknown): unknown {
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  if ((cause as { code?: unknown } | null)?.code !== "42501") return err;
  return new Error(
    `${err instanceof Error ? err.message : String(err)}: the database needs migrations this role may not run; run them as the owner role (DATABASE_URL=postgres://steward_owner@… node dist/server/src/cli/migrate.js), then deploy/postgres-grants.sql (docs/deploy.md, section 2)`,
    { cause: err },
  );
}

/** Work started beside the HTTP server (mail, sweeps…): stopped before the database closes. */
export interface BackgroundTask {
  name: string;
  /** Stop taking new work and finish (or safely abandon) the item in hand. */
  stop(): Promise<void>;
}

/** Time kept back from the grace period for closing the database and logging. */
const CLOSE_RESERVE_MS = 1_000;

const within = <T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve("timeout"), Math.max(0, ms));
    timer.unref();
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    );
  });

export interface RunningServer {
  server: Server;
  sealer: AuditSealer;
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to the grace period), closes the database. */
  close(): Promise<void>;
}

export async function startServer(deps: AppDeps, options: AppOptions & { port?: number; host?: string } = {}): Promise<RunningServer> {
  const app = createApp(deps, options);
  const drain = new HttpDrain();
  const server = createServer(drain.listener(app));
  answerClientErrors(server);
  drain.attach(server);
  server.listen(options.port ?? deps.config.PORT, options.host ?? deps.config.HOST);
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const background: BackgroundTask[] = [
    // Customer mail leaves from the outbox, retried with backoff, until shutdown.
    { name: "mail delivery", ...startMailDelivery(deps) },
    // Expired temporary grants (role elevations, seat expansions) are reverted on an interval, until shutdown.
    { name: "sweeps", ...startSweepLoop(deps, deps.config.SWEEP_INTERVAL_MS) },
    // Provider operations whose outcome is not known (or left pending by a crash) are finished or closed, until shutdown.
    { name: "reconciler", ...startReconciler(deps, deps.config.RECONCILE_INTERVAL_MS) },
    // Impersonation sessions past a deadline end, and Zendesk internal notes are sent, until shutdown.
    { name: "impersonation", ...startImpersonationLoop(deps) },
  ];
  // Committed audit entries are chained and checkpointed within about a second, until shutdown.
  const sealer = startAuditSealer({
    db: deps.database.db,
    keys: deps.auditKeys,
    logger: deps.logger,
    clock: deps.clock,
    intervalMs: deps.config.AUDIT_SEAL_INTERVAL_MS,
    sinks: { dir: deps.config.AUDIT_CHECKPOINT_DIR, url: deps.config.AUDIT_CHECKPOINT_URL },
    seal: { checkpointEvery: deps.config.AUDIT_CHECKPOINT_EVERY, checkpointIntervalMs: deps.config.AUDIT_CHECKPOINT_INTERVAL_MS },
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const deadline = Date.now() + deps.config.SHUTDOWN_GRACE_MS - CLOSE_RESERVE_MS;
      // A loop's item in hand (one mail, one grant) normally takes well under a second; one stuck on a
      // silent server is abandoned after half the grace period (its lease hands it to the next process).
      const loopDeadline = Date.now() + deps.config.SHUTDOWN_GRACE_MS / 2;
      deps.logger.info({ inFlight: drain.active }, "shutting down: no new requests, finishing in-flight ones");
      const drained = drain.start();
      // Background loops stop taking work at once, alongside the HTTP drain.
      const loopsStopped = background.map((task) =>
        within(task.stop(), loopDeadline - Date.now()).then(
          (r) => r === "timeout" && deps.logger.warn({ task: task.name }, "did not stop within the grace period; its work resumes elsewhere after its lease"),
          (err: unknown) => deps.logger.error({ err, task: task.name }, "stopping failed"),
        ),
      );
      if ((await within(drained, deadline - Date.now())) === "timeout") {
        deps.logger.warn({ inFlight: drain.active }, "grace period over: closing remaining connections");
        drain.abort();
      }
      await Promise.all(loopsStopped);
      // The sealer last of the loops: it chains what they wrote, in one final round. A checkpoint sink that does
      // not answer (a hung mount, a silent endpoint) must not hold the exit: its progress is recorded per checkpoint.
      const sealerStopped = await within(sealer.stop(), deadline - Date.now()).catch((err: unknown) => deps.logger.error({ err }, "stopping the audit sealer failed"));
      if (sealerStopped === "timeout") deps.logger.warn("the audit sealer did not stop within the grace period (a checkpoint sink not answering?); the next start seals and sends the rest");
      // The database last: nothing above uses it any more (or has given up).
      const closed = await within(deps.database.close(), Math.max(deadline + CLOSE_RESERVE_MS - Date.now() - 200, 200)).catch((err: unknown) => {
        deps.logger.error({ err }, "closing the database failed");
      });
      if (closed === "timeout") deps.logger.warn("the database did not close in time");
      deps.logger.info({ refused: drain.refused }, "stopped");
    })());
  return { server, port, sealer, close };
}
