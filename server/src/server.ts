import type { Server } from "node:http";
import { systemClock, type Clock } from "./clock.js";
import { createApp, type AppOptions } from "./app.js";
import type { Config } from "./config.js";
import { openDatabase, type Database } from "./db/database.js";
import { migrateToLatest } from "./db/migrate.js";
import type { AppDeps } from "./deps.js";
import { createLogger, type Logger } from "./logger.js";
import { startImpersonationLoop } from "./impersonation/impersonationLoop.js";
import { grantKeysFor } from "./impersonation/signingKeys.js";
import { startMailDelivery } from "./mail/delivery.js";
import { activatePlanCatalog } from "./providers/planCatalog.js";
import { createBillingPort, createIdentityPort, type BillingPort, type IdentityPort } from "./providers/index.js";
import { seedDemoData } from "./seed/demo.js";
import { startSweepLoop } from "./sweeps/sweepLoop.js";

/** Opens the database, applies migrations and (in demo mode) seeds it once. */
export async function buildDeps(
  config: Config,
  overrides: { logger?: Logger; clock?: Clock; database?: Database; identity?: IdentityPort; billing?: BillingPort } = {},
): Promise<AppDeps> {
  const logger = overrides.logger ?? createLogger(config.LOG_LEVEL);
  activatePlanCatalog(config.planCatalog);
  const database = overrides.database ?? (await openDatabase(config.database));
  await migrateToLatest(database.db);
  if (config.demo && config.DEMO_SEED) {
    const seeded = await seedDemoData(database.db);
    logger.info({ seeded }, seeded.created ? "demo data seeded" : "demo data already present");
  }
  const clock = overrides.clock ?? systemClock;
  // The impersonation signing key: created in demo mode, refused at start when production has none.
  await grantKeysFor(config).current(clock.now());
  const providerDeps = { config, db: database.db, clock, logger };
  const identity = overrides.identity ?? createIdentityPort(providerDeps);
  const billing = overrides.billing ?? createBillingPort(providerDeps);
  logger.info({ identity: identity.name, billing: billing.name }, "providers ready");
  return { config, database, logger, clock, identity, billing };
}

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to the grace period), closes the database. */
  close(): Promise<void>;
}

export async function startServer(deps: AppDeps, options: AppOptions & { port?: number; host?: string } = {}): Promise<RunningServer> {
  const app = createApp(deps, options);
  const server = app.listen(options.port ?? deps.config.PORT, options.host ?? deps.config.HOST);
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  // Customer mail leaves from the outbox, retried with backoff, until shutdown.
  const mailDelivery = startMailDelivery(deps);
  // Expired temporary grants (role elevations, seat expansions) are reverted on an interval, until shutdown.
  const sweeps = startSweepLoop(deps, deps.config.SWEEP_INTERVAL_MS);
  // Impersonation sessions past a deadline end, and Zendesk internal notes are sent, until shutdown.
  const impersonation = startImpersonationLoop(deps);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      deps.logger.info("shutting down: no new connections, finishing in-flight requests");
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), deps.config.SHUTDOWN_GRACE_MS).unref());
      if ((await Promise.race([drained, grace])) === "timeout") {
        deps.logger.warn("grace period over: closing remaining connections");
        server.closeAllConnections();
      }
      await mailDelivery.stop();
      await sweeps.stop();
      await impersonation.stop();
      await deps.database.close();
      deps.logger.info("stopped");
    })());
  return { server, port, close };
}
