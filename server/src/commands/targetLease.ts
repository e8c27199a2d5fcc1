import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { DB } from "../db/schema.js";
import { Problem } from "../http/problem.js";

/**
 * A lease per account, held from before the version check until after the local write, across the
 * provider call: two writes to one account (or to users of it) never reach Auth0/Stripe at once.
 * A lease row with an expiry works the same on PGlite's one connection and across processes on
 * PostgreSQL; its holder renews it while working, and a crashed holder's lease simply runs out.
 * Expiry is database time, so processes with skewed clocks agree.
 */
export function accountLeaseKey(accountId: string): string {
  return `account:${accountId}`;
}

/**
 * A holder id of its own for each party working on an operation: a request that outlived its lease and the
 * reconciler that took the operation over must never renew or release each other's lease (one holder at a time).
 * The operation id is kept in it only to show whose lease it is.
 */
export function leaseHolderFor(operationId: string, party: "request" | "reconciler"): string {
  return `${operationId}:${party}:${randomUUID()}`;
}

/** Takes the lease if it is free, expired, or already ours; true when we hold it now. */
export async function tryLease(db: Kysely<DB>, leaseKey: string, holder: string, ttlMs: number): Promise<boolean> {
  const row = await db
    .insertInto("target_leases")
    .values({ lease_key: leaseKey, holder, expires_at: sql<Date>`now() + make_interval(secs => ${ttlMs / 1000})` })
    .onConflict((oc) =>
      oc
        .column("lease_key")
        .doUpdateSet({ holder, expires_at: sql<Date>`now() + make_interval(secs => ${ttlMs / 1000})` })
        .where(({ or, eb }) => or([eb("target_leases.expires_at", "<", sql<Date>`now()`), eb("target_leases.holder", "=", holder)])),
    )
    .returning("holder")
    .executeTakeFirst();
  return row?.holder === holder;
}

export async function renewLease(db: Kysely<DB>, leaseKey: string, holder: string, ttlMs: number): Promise<boolean> {
  const row = await db
    .updateTable("target_leases")
    .set({ expires_at: sql<Date>`now() + make_interval(secs => ${ttlMs / 1000})` })
    .where("lease_key", "=", leaseKey)
    .where("holder", "=", holder)
    .returning("holder")
    .executeTakeFirst();
  return row !== undefined;
}

export async function releaseLease(db: Kysely<DB>, leaseKey: string, holder: string): Promise<void> {
  await db.deleteFrom("target_leases").where("lease_key", "=", leaseKey).where("holder", "=", holder).execute();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits up to `waitMs` for the lease, then answers 409 `target_busy` (nothing has reached a provider). */
export async function acquireLease(db: Kysely<DB>, leaseKey: string, holder: string, options: { ttlMs: number; waitMs: number }): Promise<void> {
  const deadline = Date.now() + options.waitMs;
  for (let attempt = 0; ; attempt++) {
    if (await tryLease(db, leaseKey, holder, options.ttlMs)) return;
    if (Date.now() >= deadline) {
      throw Problem.conflict("target_busy", "Another action on this account is in progress; try again in a moment", { retryable: true });
    }
    // Short, jittered polls: waiters do not all wake at once.
    await sleep(Math.min(Math.max(0, deadline - Date.now()), 20 + Math.floor(Math.random() * 30 * Math.min(attempt + 1, 4))));
  }
}

/** Renews on an interval until stopped; a failed renewal is reported, not thrown (the holder finishes or expires). */
export function keepRenewing(renew: () => Promise<unknown>, ttlMs: number, onError: (err: unknown) => void): { stop(): void } {
  const timer = setInterval(() => void renew().catch(onError), Math.max(100, Math.floor(ttlMs / 3)));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
