import request from "supertest";
import { describe, expect, it } from "vitest";
import { newOperationId } from "../../src/audit/operations.js";
import { openOperation } from "../../src/commands/operationRecord.js";
import { markNeedsReview } from "../../src/reconcile/providerOperations.js";
import { reconcileOnce } from "../../src/reconcile/reconciler.js";
import { databaseKinds } from "../support/databases.js";
import { accountRow, act, confirmAndAct, localState, sessionOf, useHarness, type Harness } from "../actions/harness.js";
import { retentionDate } from "../../src/commands/account/delete.js";
import { createStripeClient } from "../../src/providers/stripe/stripeClient.js";

/**
 * An account deactivation, activation or deletion whose provider outcome was lost past the key horizon
 * waits for a person (needs_review). Resolved as applied, it gets the local record its successful path
 * writes (hold, status, blocked copy), from what the request saw; resolved as not applied, the local
 * state is what the failed path leaves. Built-in identity and billing with the product's directory over
 * HTTP, and the Auth0/Stripe fakes; both databases.
 */
const DAY = 24 * 3_600_000;
const account = (id: string) => ({ type: "account" as const, id });
const subscriptions = /^\/v1\/subscriptions\//;

async function operation(h: Harness, operationId: string) {
  return h.deps.database.db.selectFrom("provider_operations").selectAll().where("operation_id", "=", operationId).executeTakeFirstOrThrow();
}

/** A pass of the reconciler now, whatever backoff the operation was given. */
async function reconcilePass(h: Harness) {
  await h.deps.database.db.updateTable("provider_operations").set({ next_attempt_at: new Date(0) }).where("status", "=", "unknown").execute();
  return reconcileOnce(h.deps, "test-reconciler");
}

/** The answer was lost (202), then a day passes: past the key horizon, with no re-read, it waits for a person. */
async function inReview(h: Harness, res: request.Response): Promise<string> {
  expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
  const operationId = res.body.operationId as string;
  h.stripe?.clearFaults();
  h.auth0?.clearFaults();
  h.deps.clock.advance(DAY);
  h.stripe?.ageIdempotencyKeys(DAY);
  await reconcilePass(h);
  expect((await operation(h, operationId)).status).toBe("needs_review");
  return operationId;
}

const resolve = (h: Harness, accountId: string, operationId: string, resolution: "applied" | "not_applied") =>
  act(h, "operations", "operation.resolve", { target: account(accountId), input: { operationId, resolution } });

async function holdsOf(h: Harness, accountId: string) {
  return h.deps.database.db.selectFrom("account_access_holds").selectAll().where("account_id", "=", accountId).orderBy("created_at").execute();
}

async function usersOf(h: Harness, accountId: string) {
  return h.deps.database.db.selectFrom("users").select(["id", "status", "blocked"]).where("account_id", "=", accountId).orderBy("id").execute();
}

/** Users who could sign in: whom a deactivation or deletion blocks. */
async function signInUsers(h: Harness, accountId: string): Promise<string[]> {
  return (await usersOf(h, accountId)).filter((u) => u.status === "active" && !u.blocked).map((u) => u.id);
}

/** The local rows as a request's failed path leaves them: everything but the counters the resolve itself bumps (version, steward_writes). */
async function unversioned(h: Harness, accountId: string) {
  const state = (await localState(h.deps, accountId)) as { account: Record<string, unknown> };
  return { ...state, account: { ...state.account, version: undefined, steward_writes: undefined, updated_at: undefined } };
}

describe.each(databaseKinds)("operation.resolve on account status actions, Auth0 and Stripe (%s)", { timeout: 90_000 }, (kind) => {
  const h = useHarness(kind, { auth0: true, stripe: true, directory: "builtin", env: { PROVIDER_TIMEOUT_MS: "4000" } });

  it("deactivate, applied: the hold (status and subscription the request saw, users it blocked), the status and the blocked copy; activation then restores them", async () => {
    const accountId = "acc_demo_003";
    expect((await accountRow(h.deps, accountId)).status).toBe("past_due");
    const blocked = await signInUsers(h, accountId);
    expect(blocked.length).toBeGreaterThan(0);
    const requestedAt = h.deps.clock.now();
    // Stripe sets the subscription to end, but its answer is lost.
    h.stripe!.failAfterApply(3, 502, { method: "POST", path: subscriptions });
    const operationId = await inReview(h, await confirmAndAct(h, "operations", "account.deactivate", { target: account(accountId) }));

    const resolved = await resolve(h, accountId, operationId, "applied");
    expect(resolved.status, JSON.stringify(resolved.body)).toBe(200);
    const holds = await holdsOf(h, accountId);
    // Stripe's answer never reached Steward; the resolve reads Stripe instead and records when the cancel was asked for, as the answer would have.
    const canceledAt = h.stripe!.subscriptions.get("sub_demo_003")!.canceled_at;
    expect(canceledAt).not.toBeNull();
    expect(holds.map((x) => ({ ...x, created_at: new Date(x.created_at).toISOString(), subscription_cancel_requested_at: x.subscription_cancel_requested_at && new Date(x.subscription_cancel_requested_at).toISOString() }))).toEqual([
      expect.objectContaining({ kind: "deactivation", previous_status: "past_due", blocked_user_ids: blocked, operation_id: operationId, created_at: requestedAt.toISOString(), released_at: null, subscription_set_to_end: "sub_demo_003", subscription_cancel_requested_at: new Date(canceledAt! * 1000).toISOString() }),
    ]);
    expect((await accountRow(h.deps, accountId)).status).toBe("deactivated");
    expect((await usersOf(h, accountId)).filter((u) => blocked.includes(u.id)).every((u) => u.blocked)).toBe(true);

    // The hold is what activation lifts: the users sign in again, the status and the subscription come back.
    const activated = await act(h, "operations", "account.activate", { target: account(accountId) });
    expect(activated.status, JSON.stringify(activated.body)).toBe(200);
    expect(activated.body.result).toMatchObject({ unblockedUsers: blocked.length, status: "past_due", subscriptionResumed: true });
    expect((await usersOf(h, accountId)).filter((u) => blocked.includes(u.id)).some((u) => u.blocked)).toBe(false);
    expect(h.stripe!.subscriptions.get("sub_demo_003")!.cancel_at_period_end).toBe(false);
  });

  it("deactivate, applied, then the customer renews and cancels again themselves: activation keeps the customer's cancel (the hold dates its own)", async () => {
    const accountId = "acc_demo_018";
    const subId = "sub_demo_018";
    const before = h.stripe!.subscriptions.get(subId)!;
    expect([before.status, before.cancel_at_period_end], "a live subscription the deactivation sets to end").toEqual(["active", false]);
    h.stripe!.failAfterApply(3, 502, { method: "POST", path: subscriptions });
    const operationId = await inReview(h, await confirmAndAct(h, "operations", "account.deactivate", { target: account(accountId) }));
    expect((await resolve(h, accountId, operationId, "applied")).status).toBe(200);
    // In Stripe's portal, a minute later: renewed, then cancelled again.
    const stripe = createStripeClient({ secretKey: h.stripe!.secretKey, baseUrl: `${h.stripe!.url}${h.stripe!.mountPath}`, timeoutMs: 5_000 });
    await stripe.subscriptions.update(subId, { cancel_at_period_end: false });
    h.stripe!.advanceClock(60_000);
    await stripe.subscriptions.update(subId, { cancel_at_period_end: true });

    const activated = await act(h, "operations", "account.activate", { target: account(accountId) });
    expect(activated.status, JSON.stringify(activated.body)).toBe(200);
    expect(activated.body.result).toMatchObject({ subscriptionResumed: false, cancellationKept: true });
    expect(h.stripe!.subscriptions.get(subId)!.cancel_at_period_end).toBe(true);
  });

  it("deactivate, applied while Stripe cannot be read: resolved all the same, the hold without a time (activation goes by the subscription id)", async () => {
    const accountId = "acc_demo_019";
    h.stripe!.failAfterApply(3, 502, { method: "POST", path: subscriptions });
    const operationId = await inReview(h, await confirmAndAct(h, "operations", "account.deactivate", { target: account(accountId) }));
    h.stripe!.failNext(30, 503, { method: "GET" });
    const resolved = await resolve(h, accountId, operationId, "applied");
    h.stripe!.clearFaults();
    expect(resolved.status, JSON.stringify(resolved.body)).toBe(200);
    expect(await holdsOf(h, accountId)).toEqual([expect.objectContaining({ kind: "deactivation", subscription_set_to_end: "sub_demo_019", subscription_cancel_requested_at: null })]);
  });

  it("delete, applied: the deletion hold, the status with the request's retention date, the blocked copy and the ended sessions", async () => {
    const accountId = "acc_demo_002";
    expect((await accountRow(h.deps, accountId)).status).toBe("trialing");
    const blocked = await signInUsers(h, accountId);
    const requestedAt = h.deps.clock.now();
    // The last provider step, ending the sessions at Auth0, happens; its answer is lost.
    h.auth0!.failAfterApply(3, 502, { method: "DELETE", path: /\/sessions$/ });
    const operationId = await inReview(h, await confirmAndAct(h, "operations", "account.delete", { target: account(accountId) }));
    // A session the local copy got after the request (a sync, say): ended too, but never before it began.
    h.deps.clock.advance(3_600_000);
    await h.deps.database.db.insertInto("user_sessions").values({ id: "ses_after_delete_request", user_id: blocked[0]!, created_at: h.deps.clock.now(), last_seen_at: h.deps.clock.now(), ip: null, user_agent: null, revoked_at: null }).execute();

    const resolved = await resolve(h, accountId, operationId, "applied");
    expect(resolved.status, JSON.stringify(resolved.body)).toBe(200);
    expect(await holdsOf(h, accountId)).toEqual([expect.objectContaining({ kind: "deletion", previous_status: "trialing", blocked_user_ids: blocked, operation_id: operationId, released_at: null })]);
    const row = await accountRow(h.deps, accountId);
    expect([row.status, new Date(row.retention_until!).toISOString()]).toEqual(["deleted", retentionDate(requestedAt).toISOString()]);
    expect((await usersOf(h, accountId)).filter((u) => blocked.includes(u.id)).every((u) => u.blocked)).toBe(true);
    const open = await h.deps.database.db.selectFrom("user_sessions").select("id").where("revoked_at", "is", null).where("user_id", "in", blocked).execute();
    expect(open).toEqual([]);
    const later = await h.deps.database.db.selectFrom("user_sessions").select(["created_at", "revoked_at"]).where("id", "=", "ses_after_delete_request").executeTakeFirstOrThrow();
    expect(new Date(later.revoked_at!).getTime()).toBeGreaterThanOrEqual(new Date(later.created_at).getTime());
  });

  it("activate, applied: the holds are lifted, the status the deactivation replaced comes back, the blocked copy is cleared", async () => {
    const accountId = "acc_demo_011";
    expect((await accountRow(h.deps, accountId)).status).toBe("active");
    const deactivated = await confirmAndAct(h, "operations", "account.deactivate", { target: account(accountId) });
    expect(deactivated.status, JSON.stringify(deactivated.body)).toBe(200);
    const blocked = deactivated.body.after.blockedUserIds as string[];
    expect(blocked.length).toBeGreaterThan(0);
    // Stripe resumes the subscription, but its answer is lost.
    h.stripe!.failAfterApply(3, 502, { method: "POST", path: subscriptions });
    const operationId = await inReview(h, await act(h, "operations", "account.activate", { target: account(accountId) }));

    const resolved = await resolve(h, accountId, operationId, "applied");
    expect(resolved.status, JSON.stringify(resolved.body)).toBe(200);
    expect((await holdsOf(h, accountId)).map((x) => x.released_at !== null)).toEqual([true]);
    expect((await accountRow(h.deps, accountId)).status).toBe("active");
    expect((await usersOf(h, accountId)).filter((u) => blocked.includes(u.id)).some((u) => u.blocked)).toBe(false);
  });

  it("deactivate, not applied: the local rows are as the failed path leaves them (no hold, status and users as they were)", async () => {
    const accountId = "acc_demo_012";
    const before = await unversioned(h, accountId);
    h.stripe!.failNext(3, 502, { method: "POST", path: subscriptions });
    const operationId = await inReview(h, await confirmAndAct(h, "operations", "account.deactivate", { target: account(accountId) }));
    const resolved = await resolve(h, accountId, operationId, "not_applied");
    expect(resolved.status, JSON.stringify(resolved.body)).toBe(200);
    expect((await operation(h, operationId)).status).toBe("failed");
    expect(await unversioned(h, accountId)).toEqual(before);
  });

  it("activate and delete, not applied: the holds stay open and the rows are as the failed path leaves them", async () => {
    const deactivated = await confirmAndAct(h, "operations", "account.deactivate", { target: account("acc_demo_014") });
    expect(deactivated.status, JSON.stringify(deactivated.body)).toBe(200);
    const beforeActivate = await unversioned(h, "acc_demo_014");
    h.stripe!.failNext(3, 502, { method: "POST", path: subscriptions });
    const activation = await inReview(h, await act(h, "operations", "account.activate", { target: account("acc_demo_014") }));
    expect((await resolve(h, "acc_demo_014", activation, "not_applied")).status).toBe(200);
    expect(await unversioned(h, "acc_demo_014")).toEqual(beforeActivate);

    const beforeDelete = await unversioned(h, "acc_demo_015");
    h.auth0!.failNext(3, 502, { method: "DELETE", path: /\/sessions$/ });
    const deletion = await inReview(h, await confirmAndAct(h, "operations", "account.delete", { target: account("acc_demo_015") }));
    expect((await resolve(h, "acc_demo_015", deletion, "not_applied")).status).toBe(200);
    expect(await unversioned(h, "acc_demo_015")).toEqual(beforeDelete);
  });

  it("two agents resolve the same deactivation at once: one wins, one hold, one closing entry", async () => {
    const accountId = "acc_demo_013";
    h.stripe!.failAfterApply(3, 502, { method: "POST", path: subscriptions });
    const operationId = await inReview(h, await confirmAndAct(h, "operations", "account.deactivate", { target: account(accountId) }));
    const [a, b] = await Promise.all([resolve(h, accountId, operationId, "applied"), resolve(h, accountId, operationId, "applied")]);
    expect([a.status, b.status].sort(), JSON.stringify([a.body, b.body])).toEqual([200, 409]);
    expect(await holdsOf(h, accountId)).toHaveLength(1);
    const closing = await h.deps.database.db.selectFrom("audit_log").select("action").where("operation_id", "=", operationId).where("outcome", "=", "succeeded").execute();
    expect(closing).toEqual([{ action: "account.deactivate" }]);
    const resolutions = await h.deps.database.db.selectFrom("audit_log").select("outcome").where("action", "=", "operation.resolve").where("target_id", "=", accountId).where("outcome", "=", "succeeded").execute();
    expect(resolutions).toHaveLength(1);
  });
});

describe.each(databaseKinds)("operation.resolve on account status actions, built-in identity and billing, the product's directory over HTTP (%s)", { timeout: 90_000 }, (kind) => {
  const h = useHarness(kind, { directory: "http", env: { PROVIDER_TIMEOUT_MS: "700", PROVIDER_MAX_RETRIES: "1" } });

  it("deactivate, applied: the hold keeps the status the request saw, not the one a lookup copied back since", async () => {
    const accountId = "acc_demo_020";
    expect((await accountRow(h.deps, accountId)).status).toBe("trialing");
    const blocked = await signInUsers(h, accountId);
    // The product applies the write; its answer comes too late.
    h.product!.faults.answerDelayMs = 1_500;
    const res = await confirmAndAct(h, "operations", "account.deactivate", { target: account(accountId) });
    await new Promise((r) => setTimeout(r, 1_600));
    h.product!.faults.answerDelayMs = 0;
    // An agent's lookup meanwhile copies the product's status into Steward's row.
    const email = (await h.deps.database.db.selectFrom("users").select("email").where("id", "=", blocked[0]!).executeTakeFirstOrThrow()).email;
    await request(h.app).get("/api/context").query({ email }).set("Authorization", `Bearer ${await sessionOf(h, "operations")}`);
    expect((await accountRow(h.deps, accountId)).status).toBe("deactivated");
    const operationId = await inReview(h, res);

    const resolved = await resolve(h, accountId, operationId, "applied");
    expect(resolved.status, JSON.stringify(resolved.body)).toBe(200);
    expect(await holdsOf(h, accountId)).toEqual([expect.objectContaining({ kind: "deactivation", previous_status: "trialing", blocked_user_ids: blocked, subscription_set_to_end: "sub_demo_020" })]);
    // Built-in billing dates the cancel too (canceled_at), and the resolve records it as the answer would have.
    const { canceled_at } = await h.deps.database.db.selectFrom("billing_subscriptions").select("canceled_at").where("id", "=", "sub_demo_020").executeTakeFirstOrThrow();
    expect(canceled_at).not.toBeNull();
    expect(new Date((await holdsOf(h, accountId))[0]!.subscription_cancel_requested_at!).getTime()).toBe(new Date(canceled_at!).getTime());
    expect((await usersOf(h, accountId)).filter((u) => blocked.includes(u.id)).every((u) => u.blocked)).toBe(true);

    const activated = await act(h, "operations", "account.activate", { target: account(accountId) });
    expect(activated.status, JSON.stringify(activated.body)).toBe(200);
    expect(activated.body.result).toMatchObject({ unblockedUsers: blocked.length, status: "trialing" });
    expect((await accountRow(h.deps, accountId)).status).toBe("trialing");
  });

  it("without the account state the request saw on record, applied is refused (409) and the operation stays in review", async () => {
    const accountId = "acc_demo_021";
    const operationId = newOperationId();
    const now = h.deps.clock.now();
    const actor = { kind: "system" as const, component: "test" };
    await openOperation(h.deps, { actor, action: "account.deactivate", target: { type: "account", id: accountId, accountId }, ticketId: "T-1", reason: "test" }, null, {
      operationId,
      action: "account.deactivate",
      targetType: "account",
      targetId: accountId,
      accountId,
      keyOwner: "system:test",
      idempotencyKey: null,
      providerKey: `steward:${operationId}`,
      request: { actor, ticketId: "T-1", reason: "test", requestId: null, input: {}, now: now.toISOString() },
      providerBefore: { billing: null },
      createdAt: now,
    });
    await markNeedsReview(h.deps.database.db, operationId, "test: lost");
    const before = await unversioned(h, accountId);

    const resolved = await resolve(h, accountId, operationId, "applied");
    expect([resolved.status, resolved.body.code], JSON.stringify(resolved.body)).toEqual([409, "request_state_unknown"]);
    expect((await operation(h, operationId)).status).toBe("needs_review");
    expect(await unversioned(h, accountId)).toEqual(before);
  });
});
