import { sql } from "kysely";
import { afterEach, describe, expect, it, vi } from "vitest";
import { accountLeaseKey } from "../../src/commands/targetLease.js";
import type { DirectoryPort } from "../../src/directory/port.js";
import { ProviderError } from "../../src/providers/providerError.js";
import { reconcileOnce } from "../../src/reconcile/reconciler.js";
import { databaseKinds } from "../support/databases.js";
import { act, auditOf, useHarness, versionOf, type Harness } from "../actions/harness.js";

/**
 * A request whose provider call stalls long enough for its leases to lapse: the reconciler takes the
 * operation over and may settle it before the request's own answer arrives. Whichever writes first, the
 * log never shows a later `unknown` (or `failed`) after the closing entry, and the late request answers
 * with the outcome known, not "unknown". The product's directory over HTTP; both databases.
 */
type UpdateUser = DirectoryPort["updateUser"];
type Release = "lost" | "refused";

const lost = () => new ProviderError({ provider: "product", code: "timeout", message: "no answer in time (staged)", operation: "users.update", wasWrite: true });
const refused = () => new ProviderError({ provider: "product", code: "rejected", message: "refused (staged)", status: 422, operation: "users.update", wasWrite: true });

/**
 * Stalls the first write to `userId` (applied at the product first when `applies`) until `release`, which
 * ends it as an answer lost or a definite refusal. Later calls (the reconciler's retry) pass, or are held
 * too with `holdRetry` until `releaseRetry`, or refused with `refuseRetry`.
 */
function stallWrite(h: Harness, userId: string, options: { applies: boolean; holdRetry?: boolean; refuseRetry?: boolean }) {
  const directory = h.deps.directory;
  const original: UpdateUser = directory.updateUser.bind(directory);
  let arrived!: () => void;
  const stalled = new Promise<void>((resolve) => (arrived = resolve));
  let release!: (how: Release) => void;
  const gate = new Promise<Release>((resolve) => (release = resolve));
  let retryArrived!: () => void;
  const retryStalled = new Promise<void>((resolve) => (retryArrived = resolve));
  let releaseRetry!: () => void;
  const retryGate = new Promise<void>((resolve) => (releaseRetry = resolve));
  let calls = 0;
  directory.updateUser = async (id, write, call) => {
    if (id !== userId) return original(id, write, call);
    calls++;
    if (calls === 1) {
      if (options.applies) await original(id, write, call);
      arrived();
      throw (await gate) === "lost" ? lost() : refused();
    }
    if (options.refuseRetry) throw refused();
    if (options.holdRetry) {
      retryArrived();
      await retryGate;
    }
    return original(id, write, call);
  };
  return { stalled, release, retryStalled, releaseRetry, restore: () => void (directory.updateUser = original) };
}

/** The request looks dead: its operation's and the account's leases lapse, and the operation is due. */
async function leasesLapse(h: Harness, userId: string): Promise<string> {
  const { db } = h.deps.database;
  const op = await db.selectFrom("provider_operations").select("operation_id").where("target_id", "=", userId).where("status", "=", "pending").executeTakeFirstOrThrow();
  const past = new Date(Date.now() - 60_000);
  await db.updateTable("provider_operations").set({ lease_expires_at: past, next_attempt_at: past }).where("operation_id", "=", op.operation_id).execute();
  await db.updateTable("target_leases").set({ expires_at: past }).execute();
  return op.operation_id;
}

/** The account's lease row as it stands: who holds it, until when. */
const leaseOf = (h: Harness, accountId: string) => h.deps.database.db.selectFrom("target_leases").select(["holder", "expires_at"]).where("lease_key", "=", accountLeaseKey(accountId)).executeTakeFirst();
const operationLeaseOf = async (h: Harness, operationId: string) =>
  new Date((await h.deps.database.db.selectFrom("provider_operations").select("lease_expires_at").where("operation_id", "=", operationId).executeTakeFirstOrThrow()).lease_expires_at).getTime();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const outcomes = async (h: Harness, operationId: string, action = "user.deactivate") => (await auditOf(h.deps, action)).filter((e) => e.operationId === operationId).map((e) => e.outcome);
const statusOf = async (h: Harness, operationId: string) => (await h.deps.database.db.selectFrom("provider_operations").select("status").where("operation_id", "=", operationId).executeTakeFirstOrThrow()).status;

describe.each(databaseKinds)("a request's late outcome after the reconciler took its operation over, on %s", (kind) => {
  const h = useHarness(kind, { directory: "http" });
  let restore = () => undefined as void;
  afterEach(() => {
    vi.useRealTimers();
    restore();
  });

  it("reconciler first (succeeded), then the request's answer is lost: no `unknown` after the closing entry, and the request answers 200 with what the reconciler recorded (as its key replays it)", async () => {
    const user = "usr_demo_025_4";
    const stall = stallWrite(h, user, { applies: true });
    restore = stall.restore;
    const key = `late-lost-${kind}`;
    const call = { target: { type: "user" as const, id: user }, expectedVersion: await versionOf(h.deps, { type: "user", id: user }) };
    const request = act(h, "support_full", "user.deactivate", call, { idempotencyKey: key });
    await stall.stalled;
    const operationId = await leasesLapse(h, user);
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
    stall.release("lost");
    const res = await request;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ outcome: "succeeded", operationId, after: { status: "deactivated" } });
    expect(await outcomes(h, operationId)).toEqual(["pending", "succeeded"]);
    expect(await statusOf(h, operationId)).toBe("succeeded");
    const replay = await act(h, "support_full", "user.deactivate", call, { idempotencyKey: key });
    expect(replay.body).toEqual({ ...res.body, replayed: true });
  });

  it("request first (its `unknown` while the reconciler's retry is still at the product), then the reconciler closes it: `unknown` before `succeeded`, and the request answers 202", async () => {
    const user = "usr_demo_026_4";
    const stall = stallWrite(h, user, { applies: true, holdRetry: true });
    restore = stall.restore;
    const request = act(h, "support_full", "user.deactivate", { target: { type: "user", id: user } });
    await stall.stalled;
    const operationId = await leasesLapse(h, user);
    const settling = reconcileOnce(h.deps, "test-reconciler");
    await stall.retryStalled;
    stall.release("lost");
    const res = await request;
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    stall.releaseRetry();
    expect(await settling).toMatchObject({ succeeded: 1 });
    expect(await outcomes(h, operationId)).toEqual(["pending", "unknown", "succeeded"]);
    expect(await statusOf(h, operationId)).toBe("succeeded");
  });

  it("reconciler first (failed: the product refused its retry and nothing was applied), then the request's answer is lost: no `unknown` after `failed`, and the request answers the failure", async () => {
    const user = "usr_demo_026_5";
    const { role } = await h.deps.database.db.selectFrom("users").select("role").where("id", "=", user).executeTakeFirstOrThrow();
    const stall = stallWrite(h, user, { applies: false, refuseRetry: true });
    restore = stall.restore;
    // One write, nothing before it that could have happened: the reconciler's refused retry is a definite failure.
    const request = act(h, "support_full", "user.role_change", { target: { type: "user", id: user }, input: { role: role === "viewer" ? "member" : "viewer" } });
    await stall.stalled;
    const operationId = await leasesLapse(h, user);
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ failed: 1 });
    stall.release("lost");
    const res = await request;
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([502, "provider_failed"]);
    expect(await outcomes(h, operationId, "user.role_change")).toEqual(["pending", "failed"]);
    expect(await statusOf(h, operationId)).toBe("failed");
  });

  it("reconciler first (succeeded), then the request's own call is refused for sure: no `failed` after `succeeded`, the operation stays succeeded, and the request answers 200", async () => {
    const user = "usr_demo_012_4";
    const stall = stallWrite(h, user, { applies: true });
    restore = stall.restore;
    const request = act(h, "support_full", "user.deactivate", { target: { type: "user", id: user } });
    await stall.stalled;
    const operationId = await leasesLapse(h, user);
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
    stall.release("refused");
    const res = await request;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ outcome: "succeeded", operationId, replayed: false });
    expect(await outcomes(h, operationId)).toEqual(["pending", "succeeded"]);
    expect(await statusOf(h, operationId)).toBe("succeeded");
  });

  it("a late request does not renew or release the lease of the reconciler that took its operation over, and another write on the account waits for the reconciler", async () => {
    const account = "acc_demo_032";
    const user = "usr_demo_032_4";
    const stall = stallWrite(h, user, { applies: true, holdRetry: true });
    restore = stall.restore;
    // The request's renewals tick only when the test advances them; timeouts, dates and the databases stay real.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const request = act(h, "support_full", "user.deactivate", { target: { type: "user", id: user } });
    await stall.stalled;
    const operationId = await leasesLapse(h, user);
    // A reconciler on a longer lease: its own renewal does not tick within the request's first renewal interval.
    const settling = reconcileOnce({ ...h.deps, config: { ...h.deps.config, OPERATION_LEASE_MS: 3 * h.deps.config.OPERATION_LEASE_MS } }, "test-reconciler");
    await stall.retryStalled;
    // The account's lease as the reconciler took it (the request's had lapsed).
    const reconcilers = await leaseOf(h, account);
    expect(reconcilers).toBeDefined();

    // The late request's renewal ticks (seen by its operation lease moving) while the reconciler holds the account.
    const operationLease = await operationLeaseOf(h, operationId);
    vi.advanceTimersByTime(Math.ceil(h.deps.config.OPERATION_LEASE_MS / 3));
    for (let i = 0; i < 100 && (await operationLeaseOf(h, operationId)) === operationLease; i++) await sleep(20);
    expect(await operationLeaseOf(h, operationId)).not.toBe(operationLease);
    // Its account-lease renewal went out in the same tick.
    await sleep(100);
    stall.release("lost");
    const res = await request;
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    expect(await leaseOf(h, account)).toEqual(reconcilers);

    // Another user of the same account: its write waits for the lease until the reconciler is done, then runs.
    let answered = false;
    const second = act(h, "support_full", "user.deactivate", { target: { type: "user", id: "usr_demo_032_3" } }).finally(() => (answered = true));
    await sleep(300);
    expect(answered).toBe(false);
    expect(await leaseOf(h, account)).toEqual(reconcilers);
    stall.releaseRetry();
    expect(await settling).toMatchObject({ succeeded: 1 });
    const after = await second;
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(await outcomes(h, operationId)).toEqual(["pending", "unknown", "succeeded"]);
    expect(await leaseOf(h, account)).toBeUndefined();
  });

  it("the reconciler neither takes over nor releases the account lease of a request still working (only its operation lease lapsed)", async () => {
    const account = "acc_demo_029";
    const user = "usr_demo_029_3";
    const stall = stallWrite(h, user, { applies: true });
    restore = stall.restore;
    const request = act(h, "support_full", "user.deactivate", { target: { type: "user", id: user } });
    await stall.stalled;
    const { db } = h.deps.database;
    const op = await db.selectFrom("provider_operations").select("operation_id").where("target_id", "=", user).where("status", "=", "pending").executeTakeFirstOrThrow();
    const past = new Date(Date.now() - 60_000);
    await db.updateTable("provider_operations").set({ lease_expires_at: past, next_attempt_at: past }).where("operation_id", "=", op.operation_id).execute();
    const requests = await leaseOf(h, account);
    expect(requests).toBeDefined();

    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ skipped: 1, succeeded: 0 });
    expect(await leaseOf(h, account)).toEqual(requests);

    stall.release("lost");
    const res = await request;
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    expect(await leaseOf(h, account)).toBeUndefined();
    // Free now: the next pass takes it over and settles it.
    await db.updateTable("provider_operations").set({ lease_expires_at: past, next_attempt_at: past }).where("operation_id", "=", op.operation_id).execute();
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
    expect(await statusOf(h, op.operation_id)).toBe("succeeded");
  });

  it("the reconciler keeps the account's lease while its retry outlasts the lease, so another write on the account waits until it is done", async () => {
    const account = "acc_demo_027";
    const user = "usr_demo_027_3";
    const stall = stallWrite(h, user, { applies: true, holdRetry: true });
    restore = stall.restore;
    const request = act(h, "support_full", "user.deactivate", { target: { type: "user", id: user } });
    await stall.stalled;
    stall.release("lost");
    const res = await request;
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    // Due now (the request has already let its leases go).
    const { db } = h.deps.database;
    const { operation_id: operationId } = await db.selectFrom("provider_operations").select("operation_id").where("target_id", "=", user).where("status", "=", "unknown").executeTakeFirstOrThrow();
    await db.updateTable("provider_operations").set({ next_attempt_at: new Date(Date.now() - 60_000) }).where("operation_id", "=", operationId).execute();
    const leaseMs = 400;
    const settling = reconcileOnce({ ...h.deps, config: { ...h.deps.config, OPERATION_LEASE_MS: leaseMs } }, "test-reconciler");
    await stall.retryStalled;
    const taken = await leaseOf(h, account);
    expect(taken).toBeDefined();
    await sleep(3 * leaseMs);
    const held = await db.selectFrom("target_leases").select(["holder", sql<boolean>`expires_at > now()`.as("live")]).where("lease_key", "=", accountLeaseKey(account)).executeTakeFirst();
    expect(held).toEqual({ holder: taken!.holder, live: true });

    let answered = false;
    const second = act(h, "support_full", "user.deactivate", { target: { type: "user", id: "usr_demo_027_2" } }).finally(() => (answered = true));
    await sleep(3 * leaseMs);
    expect(answered).toBe(false);
    stall.releaseRetry();
    expect(await settling).toMatchObject({ succeeded: 1 });
    const after = await second;
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(await outcomes(h, operationId)).toEqual(["pending", "unknown", "succeeded"]);
  });
});
