import { afterEach, describe, expect, it } from "vitest";
import type { DirectoryPort } from "../../src/directory/port.js";
import { ProviderError } from "../../src/providers/providerError.js";
import { claimOperation } from "../../src/reconcile/providerOperations.js";
import { RECONCILER_LEASE, reconcileOnce } from "../../src/reconcile/reconciler.js";
import { databaseKinds } from "../support/databases.js";
import { act, auditOf, useHarness, type Harness } from "../actions/harness.js";

/**
 * Two Steward processes on one database, each with its reconciler (two instance ids on one deps here): the
 * first one's retry at the product outlasts the leases. The second must not take the operation as abandoned
 * and record it `unknown` (counting an attempt) while the first still works on it; and a reconciler whose
 * claim was taken over (it stalled past its lease) records nothing. Both databases.
 */
type UpdateUser = DirectoryPort["updateUser"];

const lost = () => new ProviderError({ provider: "product", code: "timeout", message: "no answer in time (staged)", operation: "users.update", wasWrite: true });
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The request's write reaches the product and its answer is lost (held until `releaseFirst` with `holdFirst`);
 * the reconciler's retry is held until `releaseRetry`.
 */
function holdRetry(h: Harness, userId: string, options: { holdFirst?: boolean } = {}) {
  const directory = h.deps.directory;
  const original: UpdateUser = directory.updateUser.bind(directory);
  let firstArrived!: () => void;
  const firstStalled = new Promise<void>((resolve) => (firstArrived = resolve));
  let releaseFirst: () => void = () => undefined;
  const firstGate = options.holdFirst ? new Promise<void>((resolve) => (releaseFirst = resolve)) : Promise.resolve();
  let retryArrived!: () => void;
  const retryStalled = new Promise<void>((resolve) => (retryArrived = resolve));
  let releaseRetry!: () => void;
  const retryGate = new Promise<void>((resolve) => (releaseRetry = resolve));
  let calls = 0;
  directory.updateUser = async (id, write, call) => {
    if (id !== userId) return original(id, write, call);
    if (++calls === 1) {
      await original(id, write, call);
      firstArrived();
      await firstGate;
      throw lost();
    }
    retryArrived();
    await retryGate;
    return original(id, write, call);
  };
  return { firstStalled, releaseFirst, retryStalled, releaseRetry, restore: () => void (directory.updateUser = original) };
}

/** An operation left `unknown` by its request (one attempt counted), due now. */
async function unknownOperation(h: Harness, userId: string): Promise<string> {
  const res = await act(h, "support_full", "user.deactivate", { target: { type: "user", id: userId } });
  expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
  const { db } = h.deps.database;
  const { operation_id } = await db.selectFrom("provider_operations").select("operation_id").where("target_id", "=", userId).where("status", "=", "unknown").executeTakeFirstOrThrow();
  await db.updateTable("provider_operations").set({ next_attempt_at: new Date(Date.now() - 60_000) }).where("operation_id", "=", operation_id).execute();
  return operation_id;
}

const recordOf = (h: Harness, operationId: string) => h.deps.database.db.selectFrom("provider_operations").select(["status", "attempts", "last_error"]).where("operation_id", "=", operationId).executeTakeFirstOrThrow();
const outcomes = async (h: Harness, operationId: string) => (await auditOf(h.deps, "user.deactivate")).filter((e) => e.operationId === operationId).map((e) => e.outcome);

describe.each(databaseKinds)("two reconcilers on one database, a retry longer than the lease, on %s", (kind) => {
  const h = useHarness(kind, { directory: "http" });
  let restore = () => undefined as void;
  afterEach(async () => {
    restore();
    const { db } = h.deps.database;
    // No test's operations or leases are part of the next (tests run in any order, some on one account): an
    // operation left open would block its account (409 outcome_pending) or be settled by the next test's pass.
    await db.updateTable("provider_operations").set({ status: "failed", last_error: "closed by the test's clean-up" }).where("status", "in", ["pending", "unknown", "needs_review"]).execute();
    // The account leases, and the last pass's leadership (the second process's, kept until it lapses).
    await db.deleteFrom("target_leases").execute();
  });
  const withLease = (leaseMs: number) => ({ ...h.deps, config: { ...h.deps.config, OPERATION_LEASE_MS: leaseMs } });

  it("the second process's pass, while the first's retry outlasts the lease, writes nothing; the first settles it once, its attempt counted once", async () => {
    const user = "usr_demo_025_4";
    const hold = holdRetry(h, user);
    restore = hold.restore;
    const operationId = await unknownOperation(h, user);
    const before = await recordOf(h, operationId);
    // Renewed every third of it: long enough that a loaded machine's event-loop delays do not let it lapse.
    const leaseMs = 1500;
    const first = reconcileOnce(withLease(leaseMs), "reconciler-a");
    await hold.retryStalled;
    await sleep(2 * leaseMs);
    const second = await reconcileOnce(withLease(leaseMs), "reconciler-b");
    expect(second).toMatchObject({ unknown: 0, skipped: 0, succeeded: 0 });
    expect(await recordOf(h, operationId)).toEqual(before);
    hold.releaseRetry();
    expect(await first).toMatchObject({ succeeded: 1, unknown: 0, skipped: 0 });
    expect(await outcomes(h, operationId)).toEqual(["pending", "unknown", "succeeded"]);
    expect(await recordOf(h, operationId)).toMatchObject({ status: "succeeded", attempts: before.attempts });
  });

  it("a second process that becomes leader (the first's leadership lapsed in a stall) leaves the operation the first still holds alone", async () => {
    const user = "usr_demo_026_4";
    const hold = holdRetry(h, user);
    restore = hold.restore;
    const operationId = await unknownOperation(h, user);
    const before = await recordOf(h, operationId);
    // Renewed every third of it: long enough that a loaded machine's event-loop delays do not let it lapse.
    const leaseMs = 1500;
    const first = reconcileOnce(withLease(leaseMs), "reconciler-a");
    await hold.retryStalled;
    await sleep(2 * leaseMs);
    const { db } = h.deps.database;
    // Lapsed, and not the first's to renew any more: a renewal of its own in the gap would otherwise keep it leader.
    await db.updateTable("target_leases").set({ holder: "reconciler-lapsed", expires_at: new Date(Date.now() - 60_000) }).where("lease_key", "=", RECONCILER_LEASE).execute();
    const second = await reconcileOnce(withLease(leaseMs), "reconciler-b");
    expect(second).toMatchObject({ leader: true, unknown: 0, skipped: 0, succeeded: 0 });
    expect(await recordOf(h, operationId)).toEqual(before);
    hold.releaseRetry();
    expect(await first).toMatchObject({ succeeded: 1 });
    expect(await outcomes(h, operationId)).toEqual(["pending", "unknown", "succeeded"]);
    expect(await recordOf(h, operationId)).toMatchObject({ status: "succeeded", attempts: before.attempts });
  });

  it("a reconciler whose claim another took over after it stalled past its lease records nothing: no outcome, no attempt, no audit entry", async () => {
    const user = "usr_demo_027_3";
    const hold = holdRetry(h, user);
    restore = hold.restore;
    const operationId = await unknownOperation(h, user);
    const before = await recordOf(h, operationId);
    // A lease long enough that no renewal ticks during the test: the stall is staged by hand.
    const first = reconcileOnce(withLease(60_000), "reconciler-a");
    await hold.retryStalled;
    const { db } = h.deps.database;
    await db.updateTable("provider_operations").set({ lease_expires_at: new Date(Date.now() - 60_000) }).where("operation_id", "=", operationId).execute();
    expect(await claimOperation(db, operationId, 60_000, "reconciler-b:claim")).toBe(true);
    hold.releaseRetry();
    expect(await first).toMatchObject({ succeeded: 0, unknown: 0, failed: 0, needs_review: 0, skipped: 1 });
    expect(await recordOf(h, operationId)).toEqual(before);
    expect(await outcomes(h, operationId)).toEqual(["pending", "unknown"]);
  });

  it("a request whose late answer is recorded unknown while the reconciler retries leaves the reconciler's claim in place: a second process takes nothing", async () => {
    const user = "usr_demo_026_5";
    const hold = holdRetry(h, user, { holdFirst: true });
    restore = hold.restore;
    const request = act(h, "support_full", "user.deactivate", { target: { type: "user", id: user } });
    await hold.firstStalled;
    const { db } = h.deps.database;
    // The request looks dead: its operation's and the account's leases lapse.
    const { operation_id: operationId } = await db.selectFrom("provider_operations").select("operation_id").where("target_id", "=", user).where("status", "=", "pending").executeTakeFirstOrThrow();
    const past = new Date(Date.now() - 60_000);
    await db.updateTable("provider_operations").set({ lease_expires_at: past, next_attempt_at: past }).where("operation_id", "=", operationId).execute();
    await db.updateTable("target_leases").set({ expires_at: past }).execute();
    const first = reconcileOnce(withLease(60_000), "reconciler-a");
    await hold.retryStalled;
    hold.releaseFirst();
    const res = await request;
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    // The request's back-off has passed too (the reconciler's retry is slower still).
    await db.updateTable("provider_operations").set({ next_attempt_at: past }).where("operation_id", "=", operationId).execute();
    const before = await recordOf(h, operationId);
    await db.deleteFrom("target_leases").where("lease_key", "=", RECONCILER_LEASE).execute();
    expect(await reconcileOnce(withLease(60_000), "reconciler-b")).toMatchObject({ leader: true, unknown: 0, skipped: 0 });
    expect(await recordOf(h, operationId)).toEqual(before);
    hold.releaseRetry();
    expect(await first).toMatchObject({ succeeded: 1 });
    expect(await outcomes(h, operationId)).toEqual(["pending", "unknown", "succeeded"]);
    expect(await recordOf(h, operationId)).toMatchObject({ status: "succeeded", attempts: before.attempts });
  });

  it("a pass that lost the leadership while it worked stops before its next operation, leaving it to the new leader", async () => {
    const firstUser = "usr_demo_029_3";
    const nextUser = "usr_demo_025_3";
    const hold = holdRetry(h, firstUser);
    const passes = holdRetry(h, nextUser);
    passes.releaseRetry();
    restore = () => {
      passes.restore();
      hold.restore();
    };
    const held = await unknownOperation(h, firstUser);
    const next = await unknownOperation(h, nextUser);
    const { db } = h.deps.database;
    // The held one first.
    await db.updateTable("provider_operations").set({ next_attempt_at: new Date(Date.now() - 120_000) }).where("operation_id", "=", held).execute();
    const nextBefore = await recordOf(h, next);
    const first = reconcileOnce(withLease(60_000), "reconciler-a");
    await hold.retryStalled;
    // Another process took the leadership (this one's had lapsed in a stall).
    await db.updateTable("target_leases").set({ holder: "reconciler-b" }).where("lease_key", "=", RECONCILER_LEASE).execute();
    hold.releaseRetry();
    expect(await first).toMatchObject({ succeeded: 1, skipped: 0 });
    expect(await recordOf(h, held)).toMatchObject({ status: "succeeded" });
    expect(await recordOf(h, next)).toEqual(nextBefore);
  });
});
