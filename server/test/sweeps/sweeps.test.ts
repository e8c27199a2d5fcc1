import { describe, expect, it } from "vitest";
import { startServer } from "../../src/server.js";
import { runSweeps } from "../../src/sweeps/runSweeps.js";
import { act, auditOf, createHarness, HARNESS_TIMEOUT_MS, useHarness, type Harness } from "../actions/harness.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { databaseKinds } from "../support/databases.js";
import { raisedBy } from "../support/tickets.js";

/**
 * The sweeps that end temporary grants: a role elevation puts the previous role back
 * (user.elevation_expire), a seat expansion comes off the bill (seats.expansion_expire), each once,
 * as Steward's system actor, against the ticket the grant was made for. Time is a ManualClock.
 */
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

const user = (id: string) => ({ type: "user" as const, id });
const account = (id: string) => ({ type: "account" as const, id });

async function roleOf(h: Harness, userId: string) {
  const row = await h.deps.database.db.selectFrom("users").select(["role", "version"]).where("id", "=", userId).executeTakeFirstOrThrow();
  return row;
}

async function openGrants(h: Harness) {
  const { db } = h.deps.database;
  const [elevations, expansions] = await Promise.all([
    db.selectFrom("role_elevations").select("id").where("reverted_at", "is", null).execute(),
    db.selectFrom("seat_expansions").select("id").where("reverted_at", "is", null).execute(),
  ]);
  return [...elevations, ...expansions].map((r) => r.id).sort();
}

async function billedSeats(h: Harness, accountId: string): Promise<number> {
  const row = await h.deps.database.db
    .selectFrom("billing_subscriptions as s")
    .innerJoin("billing_customers as c", "c.id", "s.customer_id")
    .select("s.quantity")
    .where("c.account_id", "=", accountId)
    .executeTakeFirstOrThrow();
  return row.quantity;
}

describe.each(databaseKinds)("sweeps on the built-in providers (%s)", (kind) => {
  const h = useHarness(kind);

  it("restores the previous role once the elevation expires, not before, audited against the original ticket", async () => {
    const userId = "usr_demo_008_5";
    const previous = (await roleOf(h, userId)).role;
    const granted = await act(h, "support_full", "user.elevate_temporarily", { target: user(userId), input: { role: "admin", hours: 2 }, ticketId: await raisedBy(h.deps, user(userId), "1008") });
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);

    h.deps.clock.advance(HOUR_MS);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 0 });
    expect((await roleOf(h, userId)).role).toBe("admin");
    expect(await auditOf(h.deps, "user.elevation_expire", userId)).toEqual([]);

    h.deps.clock.advance(HOUR_MS + 1);
    const version = (await roleOf(h, userId)).version;
    expect(await runSweeps(h.deps)).toEqual({ reverted: 1, skipped: 0, failed: 0 });
    expect(await roleOf(h, userId)).toEqual({ role: previous, version: version + 1 });
    const row = await h.deps.database.db.selectFrom("role_elevations").selectAll().where("user_id", "=", userId).executeTakeFirstOrThrow();
    expect(row.reverted_at).toEqual(h.deps.clock.now());
    const entries = await auditOf(h.deps, "user.elevation_expire", userId);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      outcome: "succeeded",
      ticketId: "1008",
      actor: { system: "sweeper", staffId: null, panelRole: null },
      target: { type: "user", id: userId, accountId: "acc_demo_008" },
      before: { role: "admin", elevation: { id: row.id, previousRole: previous, elevatedRole: "admin" } },
      after: { role: previous, roleRestored: true },
    });

    // A second run finds nothing left to do.
    expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 0 });
    expect(await auditOf(h.deps, "user.elevation_expire", userId)).toHaveLength(1);
  });

  it("takes expired temporary seats off the bill, leaving the licence", async () => {
    const accountId = "acc_demo_006";
    const billedBefore = await billedSeats(h, accountId);
    const granted = await act(h, "support_full", "seats.expand_temporarily", { target: account(accountId), input: { seats: 3, days: 2 }, ticketId: await raisedBy(h.deps, account(accountId), "1006") });
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);
    expect(await billedSeats(h, accountId)).toBe(billedBefore + 3);

    h.deps.clock.advance(DAY_MS);
    expect((await runSweeps(h.deps)).reverted).toBe(0);
    expect(await billedSeats(h, accountId)).toBe(billedBefore + 3);

    h.deps.clock.advance(DAY_MS);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 1, skipped: 0, failed: 0 });
    expect(await billedSeats(h, accountId)).toBe(billedBefore);
    const licence = await h.deps.database.db.selectFrom("accounts").select("seats_licensed").where("id", "=", accountId).executeTakeFirstOrThrow();
    expect(licence.seats_licensed).toBe(5);
    const [entry, ...more] = await auditOf(h.deps, "seats.expansion_expire", accountId);
    expect(more).toEqual([]);
    expect(entry).toMatchObject({
      outcome: "succeeded",
      ticketId: "1006",
      actor: { system: "sweeper" },
      before: { expansion: { id: granted.body.result.expansionId, seats: 3 }, billing: { seats: billedBefore + 3 } },
      after: { temporarySeats: 0, revertedExpansion: { seats: 3 }, billing: { seats: billedBefore } },
    });
  });

  it("two sweeps at once revert each grant once, with one entry each and no failures", async () => {
    const grants = [
      act(h, "support_full", "user.elevate_temporarily", { target: user("usr_demo_011_3"), input: { role: "admin", hours: 1 }, ticketId: await raisedBy(h.deps, user("usr_demo_011_3"), "1001") }),
      act(h, "support_full", "user.elevate_temporarily", { target: user("usr_demo_012_4"), input: { role: "admin", hours: 1 }, ticketId: await raisedBy(h.deps, user("usr_demo_012_4"), "1002") }),
      act(h, "support_full", "seats.expand_temporarily", { target: account("acc_demo_019"), input: { seats: 2, days: 1 }, ticketId: await raisedBy(h.deps, account("acc_demo_019"), "1003") }),
    ];
    for (const res of await Promise.all(grants)) expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await openGrants(h)).toHaveLength(3);
    const billedBefore = await billedSeats(h, "acc_demo_019");

    h.deps.clock.advance(DAY_MS + 1);
    const [a, b] = await Promise.all([runSweeps(h.deps), runSweeps(h.deps)]);
    expect(a.reverted + b.reverted).toBe(3);
    expect(a.failed + b.failed).toBe(0);
    expect(await openGrants(h)).toEqual([]);
    expect(await billedSeats(h, "acc_demo_019")).toBe(billedBefore - 2);
    for (const [action, target, ticket] of [
      ["user.elevation_expire", "usr_demo_011_3", "1001"],
      ["user.elevation_expire", "usr_demo_012_4", "1002"],
      ["seats.expansion_expire", "acc_demo_019", "1003"],
    ] as const) {
      const entries = await auditOf(h.deps, action, target);
      expect(entries.map((e) => [e.outcome, e.ticketId])).toEqual([["succeeded", ticket]]);
    }
  });

  it("keeps an elevated role that is the account's only active admin, and says why", async () => {
    // acc_demo_007 has no active owner/admin; an elevation gives it one for an hour.
    const userId = "usr_demo_007_3";
    expect((await act(h, "support_full", "user.elevate_temporarily", { target: user(userId), input: { role: "admin", hours: 1 }, ticketId: await raisedBy(h.deps, user(userId), "1007") })).status).toBe(200);
    h.deps.clock.advance(HOUR_MS + 1);
    expect((await runSweeps(h.deps)).reverted).toBe(1);
    expect((await roleOf(h, userId)).role).toBe("admin");
    const [entry] = await auditOf(h.deps, "user.elevation_expire", userId);
    expect(entry).toMatchObject({ outcome: "succeeded", after: { role: "admin", roleRestored: false, roleKeptBecause: expect.stringContaining("only active owner/admin") } });
    expect(await openGrants(h)).toEqual([]);
  });

  it("closes the elevation of a user deleted meanwhile, with an entry saying so", async () => {
    const userId = "usr_demo_013_3";
    expect((await act(h, "support_full", "user.elevate_temporarily", { target: user(userId), input: { role: "admin", hours: 1 }, ticketId: await raisedBy(h.deps, user(userId), "1005") })).status).toBe(200);
    await h.deps.database.db.updateTable("users").set({ status: "deleted" }).where("id", "=", userId).execute();
    h.deps.clock.advance(HOUR_MS + 1);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 1, skipped: 0, failed: 0 });
    expect(await openGrants(h)).toEqual([]);
    const [entry] = await auditOf(h.deps, "user.elevation_expire", userId);
    expect(entry).toMatchObject({ outcome: "succeeded", ticketId: "1005", actor: { system: "sweeper" }, after: { roleRestored: false, roleKeptBecause: "the user was deleted" } });
  });
});

describe.each(databaseKinds)("sweeps through Stripe (%s)", (kind) => {
  const fake = new StripeFake();
  const h = useHarness(kind, { stripe: fake });

  it("a Stripe failure leaves the expansion open (pending + failed entries); the next sweep reverts it with the same key", async () => {
    const write = { method: "POST", path: /^\/v1\/subscription_items\/si_demo_021$/ };
    const granted = await act(h, "support_full", "seats.expand_temporarily", { target: account("acc_demo_021"), input: { seats: 2, days: 1 }, ticketId: await raisedBy(h.deps, account("acc_demo_021"), "1006") });
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);
    expect(fake.subscriptions.get("sub_demo_021")?.items.data[0]?.quantity).toBe(5);

    h.deps.clock.advance(DAY_MS + 1);
    // Refused before anything ran (429); a 5xx would leave the revert unknown, for the reconciler.
    fake.failNext(3, 429, write);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 1 });
    fake.clearFaults();
    expect(fake.subscriptions.get("sub_demo_021")?.items.data[0]?.quantity).toBe(5);
    expect(await openGrants(h)).toEqual([granted.body.result.expansionId]);
    expect((await auditOf(h.deps, "seats.expansion_expire", "acc_demo_021")).map((e) => e.outcome)).toEqual(["pending", "failed"]);

    // The next sweep after the first failure's backoff (2 minutes).
    h.deps.clock.advance(2 * MINUTE_MS);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 1, skipped: 0, failed: 0 });
    expect(fake.subscriptions.get("sub_demo_021")?.items.data[0]?.quantity).toBe(3);
    expect(await openGrants(h)).toEqual([]);
    const entries = await auditOf(h.deps, "seats.expansion_expire", "acc_demo_021");
    expect(entries.map((e) => e.outcome)).toEqual(["pending", "failed", "pending", "succeeded"]);
    expect(entries.every((e) => e.ticketId === "1006" && e.actor.system === "sweeper")).toBe(true);
    // The expand and the revert are different writes; the failed and the successful revert share one key.
    const keys = fake.requestsTo(write.method, write.path).map((r) => r.headers["idempotency-key"]);
    expect(keys).toHaveLength(5);
    expect(new Set(keys.slice(1)).size).toBe(1);
    expect(keys[0]).not.toBe(keys[1]);
  });

  it("a revert that keeps failing waits min(2^n minutes, 1 hour) before its next attempt, instead of retrying on every run", async () => {
    const accountId = "acc_demo_019";
    const write = { method: "POST", path: /^\/v1\/subscription_items\/si_demo_019$/ };
    const granted = await act(h, "support_full", "seats.expand_temporarily", { target: account(accountId), input: { seats: 1, days: 1 }, ticketId: await raisedBy(h.deps, account(accountId), "1003") });
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);
    const failedAttempts = async () => (await auditOf(h.deps, "seats.expansion_expire", accountId)).filter((e) => e.outcome === "failed").length;
    const stripeWrites = () => fake.requestsTo(write.method, write.path).length;

    h.deps.clock.advance(DAY_MS + 1);
    // Stripe keeps refusing: every write fails, the adapter's own retries included. A refusal (429) fails
    // before anything ran; a 5xx would leave the revert's outcome unknown, for the reconciler.
    fake.failNext(1_000, 429, write);
    try {
      expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 1 });
      // After n failures the wait is min(2^n minutes, 1 hour).
      for (const [failures, waitMinutes] of [[1, 2], [2, 4], [3, 8], [4, 16], [5, 32], [6, 60], [7, 60]] as const) {
        const writes = stripeWrites();
        // Within the wait a sweep leaves the grant alone: no call to Stripe, no audit entry.
        h.deps.clock.advance(waitMinutes * MINUTE_MS - 1);
        expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 0 });
        expect(stripeWrites()).toBe(writes);
        expect(await failedAttempts()).toBe(failures);
        // Once the wait is over the next sweep tries again, and fails again.
        h.deps.clock.advance(1);
        expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 1 });
        expect(stripeWrites()).toBeGreaterThan(writes);
        expect(await failedAttempts()).toBe(failures + 1);
      }
    } finally {
      fake.clearFaults();
    }
    const expansionId = granted.body.result.expansionId as string;
    const row = await h.deps.database.db.selectFrom("seat_expansions").select(["revert_failures", "revert_failed_at", "reverted_at"]).where("id", "=", expansionId).executeTakeFirstOrThrow();
    expect(row).toEqual({ revert_failures: 8, revert_failed_at: h.deps.clock.now(), reverted_at: null });

    // Stripe is back: once the capped hour has passed, the grant is reverted, once.
    h.deps.clock.advance(HOUR_MS - 1);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 0 });
    h.deps.clock.advance(1);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 1, skipped: 0, failed: 0 });
    const outcomes = (await auditOf(h.deps, "seats.expansion_expire", accountId)).map((e) => e.outcome);
    expect(outcomes).toEqual([...Array.from({ length: 8 }, () => ["pending", "failed"]).flat(), "pending", "succeeded"]);
    expect(fake.subscriptions.get("sub_demo_019")?.items.data[0]?.quantity).toBe(20);
  });
});

describe("the sweep loop in a running server (pglite)", () => {
  it("runs on its interval and stops on shutdown", async () => {
    const h = await createHarness("pglite", { env: { SWEEP_INTERVAL_MS: "40" } });
    const running = await startServer(h.deps, { port: 0, host: "127.0.0.1" });
    try {
      const granted = await act(h, "support_full", "user.elevate_temporarily", { target: user("usr_demo_001_5"), input: { role: "admin", hours: 1 } });
      expect(granted.status).toBe(200);
      h.deps.clock.advance(HOUR_MS + 1);
      const deadline = Date.now() + 10_000;
      while ((await openGrants(h)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 40));
      expect(await openGrants(h)).toEqual([]);
      expect(await auditOf(h.deps, "user.elevation_expire", "usr_demo_001_5")).toHaveLength(1);
    } finally {
      await running.close();
    }
  }, HARNESS_TIMEOUT_MS);
});
