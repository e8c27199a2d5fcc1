import { sql, type DialectAdapter, type Kysely, type Transaction } from "kysely";
import type { DB } from "../db/schema.js";

/**
 * audit_log has no default partition (migration 018), so an entry needs its month's partition to exist.
 * The sealer keeps this and next month ready; this is the fallback for an entry outside that window (a
 * clock far off, a CLI run before any server did): the first append of a month in this process creates
 * the month, inside the appender's transaction (audit_log_add_month is a no-op when it exists).
 *
 * Known months are remembered per database. The key is the dialect adapter: a Kysely instance and every
 * transaction opened from it share that one object, while two databases in one process (tests) do not.
 */
const knownMonths = new WeakMap<DialectAdapter, Set<string>>();

const monthOf = (occurredAt: string) => occurredAt.slice(0, 7);

/** This database's entry of a per-database map, made on first use. */
function perDatabase<T>(map: WeakMap<DialectAdapter, T>, executor: Kysely<DB> | Transaction<DB>, make: () => T): T {
  const adapter = executor.getExecutor().adapter;
  let value = map.get(adapter);
  if (value === undefined) {
    value = make();
    map.set(adapter, value);
  }
  return value;
}

const monthsOf = (executor: Kysely<DB> | Transaction<DB>) => perDatabase(knownMonths, executor, () => new Set<string>());

/** Month creations under way outside any transaction, per database (same key as knownMonths). */
const creatingMonths = new WeakMap<DialectAdapter, Map<string, Promise<void>>>();

const creatingOf = (executor: Kysely<DB>) => perDatabase(creatingMonths, executor, () => new Map<string, Promise<void>>());

/** Makes sure the month of `occurredAt` (ISO, UTC) has its partition; one round trip the first time per month, none after. */
export async function ensureMonthPartition(executor: Kysely<DB> | Transaction<DB>, occurredAt: string): Promise<void> {
  const months = monthsOf(executor);
  const month = monthOf(occurredAt);
  if (months.has(month)) return;
  const create = () => sql`select audit_log_add_month(${`${month}-01`}::date)`.execute(executor);
  if (executor.isTransaction) {
    // Created in this transaction, and gone if it rolls back: not something to share with other appenders.
    await create();
    months.add(month);
    return;
  }
  // An autocommit statement: appenders that arrive while it runs wait for it rather than each asking again,
  // so a burst of entries reaches the shared INSERT (auditLog.ts) together instead of one by one.
  const creating = creatingOf(executor);
  let pending = creating.get(month);
  if (!pending) {
    pending = create().then(
      () => {
        months.add(month);
        creating.delete(month);
      },
      (err: unknown) => {
        creating.delete(month);
        throw err;
      },
    );
    creating.set(month, pending);
  }
  await pending;
}

/**
 * An insert found no partition for its row although this process thought the month was there (it was
 * created in a transaction that then rolled back, or dropped since): forget it, so the next append creates it.
 */
export function forgetMonthPartition(executor: Kysely<DB> | Transaction<DB>, occurredAt: string): void {
  monthsOf(executor).delete(monthOf(occurredAt));
}

/** PostgreSQL's answer to an insert whose row no partition accepts. */
export function isMissingPartition(err: unknown): boolean {
  return err instanceof Error && "code" in err && err.code === "23514" && /no partition of relation/.test(err.message);
}
