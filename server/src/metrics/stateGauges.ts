import { sql } from "kysely";
import { Gauge, Registry } from "prom-client";
import type { AppDeps } from "../deps.js";

/** Scrapes must stay fast: if the database takes longer, its gauges are left out and `steward_database_up` is 0. */
const STATE_BUDGET_MS = 800;

interface State {
  unknownOperations: number;
  needsReview: number;
  oldestUnknownAt: Date | null;
  outboxDepth: number;
  oldestQueuedAt: Date | null;
  oldestDueGrantAt: Date | null;
}

/**
 * Unknown operations: the latest decisive entry of the operation is `unknown` (no later succeeded or
 * failed entry closed it yet), i.e. what the reconciler still has to settle. The partial and outcome
 * indexes keep these to index scans.
 */
async function readState(deps: Pick<AppDeps, "database">): Promise<State> {
  const { db } = deps.database;
  const unknown = await sql<{ n: number; oldest: Date | null }>`
    select count(distinct u.operation_id)::int as n, min(u.occurred_at) as oldest
    from audit_log u
    where u.outcome = 'unknown' and u.operation_id is not null
      and not exists (select 1 from audit_log c where c.operation_id = u.operation_id and c.seq > u.seq and c.outcome in ('succeeded', 'failed'))`.execute(db);
  const review = await db.selectFrom("provider_operations").select((eb) => eb.fn.countAll<number>().as("n")).where("status", "=", "needs_review").executeTakeFirstOrThrow();
  const outbox = await db
    .selectFrom("mail_outbox")
    .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.min("created_at").as("oldest")])
    .where("status", "=", "queued")
    .executeTakeFirstOrThrow();
  const grants = await sql<{ oldest: Date | null }>`
    select min(expires_at) as oldest from (
      select min(expires_at) as expires_at from role_elevations where reverted_at is null
      union all
      select min(expires_at) from seat_expansions where reverted_at is null
    ) due`.execute(db);
  return {
    unknownOperations: Number(unknown.rows[0]?.n ?? 0),
    needsReview: Number(review.n),
    oldestUnknownAt: unknown.rows[0]?.oldest ?? null,
    outboxDepth: Number(outbox.n),
    oldestQueuedAt: (outbox.oldest as Date | null) ?? null,
    oldestDueGrantAt: grants.rows[0]?.oldest ?? null,
  };
}

const ageSeconds = (since: Date | null, now: Date) => (since ? Math.max(0, (now.getTime() - new Date(since).getTime()) / 1000) : 0);

/** A fresh registry per scrape with what the database and the pool say right now. */
export async function stateRegistry(deps: Pick<AppDeps, "database" | "clock">): Promise<Registry> {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [registry] });

  const pool = deps.database.poolUsage();
  const connections = gauge("steward_db_pool_connections", "Database connections by state (PGlite: its one connection)", ["state"]);
  connections.set({ state: "in_use" }, pool.inUse);
  connections.set({ state: "idle" }, pool.open - pool.inUse);
  connections.set({ state: "waiting_requests" }, pool.waiting);
  gauge("steward_db_pool_max", "Largest number of database connections the pool opens").set(pool.max);

  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), STATE_BUDGET_MS)));
  const state = await Promise.race([readState(deps).catch(() => undefined), late]).finally(() => clearTimeout(timer));
  gauge("steward_database_up", "1 when the database answered the state queries of this scrape in time").set(state ? 1 : 0);
  if (!state) return registry;

  const now = deps.clock.now();
  gauge("steward_unknown_operations", "Provider operations whose outcome is unknown, waiting for the reconciler").set(state.unknownOperations);
  gauge("steward_operations_needs_review", "Provider operations the reconciler could not settle, blocking their account until operations resolves them").set(state.needsReview);
  gauge("steward_unknown_operation_oldest_age_seconds", "Age of the oldest operation still unknown (0 when none)").set(ageSeconds(state.oldestUnknownAt, now));
  gauge("steward_mail_outbox_depth", "Customer mails queued for delivery (including retries)").set(state.outboxDepth);
  gauge("steward_mail_outbox_oldest_age_seconds", "Age of the oldest queued mail (0 when none)").set(ageSeconds(state.oldestQueuedAt, now));
  const dueSince = state.oldestDueGrantAt && new Date(state.oldestDueGrantAt) <= now ? state.oldestDueGrantAt : null;
  gauge("steward_sweep_lag_seconds", "How long the oldest expired temporary grant has waited to be reverted (0 when none is due)").set(ageSeconds(dueSince, now));
  return registry;
}
