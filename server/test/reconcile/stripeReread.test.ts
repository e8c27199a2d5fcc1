import { describe, expect, it } from "vitest";
import { reconcileOnce } from "../../src/reconcile/reconciler.js";
import { sealAndVerify } from "../support/auditKeys.js";
import { databaseKinds } from "../support/databases.js";
import { accountRow, act, auditOf, confirmAndAct, useHarness, type Harness } from "../actions/harness.js";

/**
 * Stripe writes whose answer was lost and that the key cannot settle any more (past Stripe's 24 h key
 * retention, where a retry with the key would apply again): the reconciler re-reads the subscription
 * and decides from it — the intended seats, trial end or cancellation shows (succeeded, mirrored, no
 * second write), or the state the request read before shows (failed). And a key still in use by a
 * request Stripe is running (409 idempotency_key_in_use) is never taken for a failure.
 */
const DAY = 24 * 3_600_000;
const account = (id: string) => ({ type: "account" as const, id });
const subscriptionItems = /^\/v1\/subscription_items\//;

async function operation(h: Harness, operationId: string) {
  return h.deps.database.db.selectFrom("provider_operations").selectAll().where("operation_id", "=", operationId).executeTakeFirstOrThrow();
}

async function reconcilePass(h: Harness) {
  await h.deps.database.db.updateTable("provider_operations").set({ next_attempt_at: new Date(0) }).where("status", "=", "unknown").execute();
  return reconcileOnce(h.deps, "test-reconciler");
}

/** A day later: Stripe may have pruned the keys, so the reconciler must not send them again. */
function pastKeyRetention(h: Harness): void {
  h.deps.clock.advance(DAY);
  h.stripe!.ageIdempotencyKeys(DAY);
}

// Each test waits on provider timeouts and reconciler passes; a loaded shared machine can take a while.
describe.each(databaseKinds)("Stripe re-reads past the key horizon (%s)", { timeout: 90_000 }, (kind) => {
  const h = useHarness(kind, {
    stripe: true,
    env: { PROVIDER_TIMEOUT_MS: "4000", RECONCILE_INTERVAL_MS: "20", OPERATION_LEASE_MS: "3000", TARGET_LEASE_WAIT_MS: "10000" },
  });

  it("seats changed at Stripe, answered 500: past the horizon the reconciler re-reads the quantity and closes it succeeded, mirrored, without writing again", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_001";
    const seats = (await accountRow(h.deps, accountId)).seats_licensed;
    stripe.failAfterApply(1, 500, { method: "POST", path: subscriptionItems });
    const res = await act(h, "operations", "seats.change", { target: account(accountId), input: { seats: seats + 2 } }, { idempotencyKey: "seats-applied-500" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    stripe.clearFaults();
    pastKeyRetention(h);
    const sent = stripe.requestsTo("POST", subscriptionItems).length;

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, operationId)).status).toBe("succeeded");
    expect(stripe.requestsTo("POST", subscriptionItems)).toHaveLength(sent);
    expect((await accountRow(h.deps, accountId)).seats_licensed).toBe(seats + 2);
    const entries = (await auditOf(h.deps, "seats.change", accountId)).filter((e) => e.operationId === operationId);
    expect(entries.map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
    expect(entries.at(-1)?.after).toMatchObject({ seatsLicensed: seats + 2, billing: { seats: seats + 2 } });
  });

  it("seats refused 502 before Stripe ran it: past the horizon the re-read shows the earlier quantity, closed failed, nothing sent again", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_006";
    const seats = (await accountRow(h.deps, accountId)).seats_licensed;
    stripe.failNext(3, 502, { method: "POST", path: subscriptionItems });
    const res = await act(h, "operations", "seats.change", { target: account(accountId), input: { seats: seats + 3 } }, { idempotencyKey: "seats-refused-502" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    stripe.clearFaults();
    pastKeyRetention(h);
    const sent = stripe.requestsTo("POST", subscriptionItems).length;

    expect((await reconcilePass(h)).failed).toBe(1);
    const op = await operation(h, operationId);
    expect([op.status, op.last_error]).toEqual(["failed", expect.stringContaining("not applied")]);
    expect(stripe.requestsTo("POST", subscriptionItems)).toHaveLength(sent);
    expect((await accountRow(h.deps, accountId)).seats_licensed).toBe(seats);
    expect((await auditOf(h.deps, "seats.change", accountId)).filter((e) => e.operationId === operationId).map((e) => e.outcome)).toEqual(["pending", "unknown", "failed"]);
  });

  it("temporary seats Stripe applied, answered 500: past the horizon the re-read finds licence + expansion billed and records the expansion", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_018";
    const seats = (await accountRow(h.deps, accountId)).seats_licensed;
    stripe.failAfterApply(1, 500, { method: "POST", path: subscriptionItems });
    const res = await act(h, "operations", "seats.expand_temporarily", { target: account(accountId), input: { seats: 4, days: 7 } }, { idempotencyKey: "expand-applied-500" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    stripe.clearFaults();
    pastKeyRetention(h);
    const sent = stripe.requestsTo("POST", subscriptionItems).length;

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, operationId)).status).toBe("succeeded");
    expect(stripe.requestsTo("POST", subscriptionItems)).toHaveLength(sent);
    const expansions = await h.deps.database.db.selectFrom("seat_expansions").select(["seats", "reverted_at"]).where("account_id", "=", accountId).execute();
    expect(expansions).toEqual([{ seats: 4, reverted_at: null }]);
    const closing = (await auditOf(h.deps, "seats.expand_temporarily", accountId)).filter((e) => e.operationId === operationId).at(-1);
    expect(closing).toMatchObject({ outcome: "succeeded", after: { temporarySeats: 4, billing: { seats: seats + 4 } } });
  });

  it("a trial extension Stripe applied, answered 500: past the horizon the re-read finds the intended trial end and closes it succeeded", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_002";
    const sub = [...stripe.subscriptions.values()].find((s) => s.customer === "cus_demo_002")!;
    const trialBefore = sub.trial_end!;
    stripe.failAfterApply(1, 500, { method: "POST", path: `/v1/subscriptions/${sub.id}` });
    const res = await act(h, "operations", "billing.trial_extend", { target: account(accountId), input: { days: 7 } }, { idempotencyKey: "trial-applied-500" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    expect(stripe.subscriptions.get(sub.id)!.trial_end).toBe(trialBefore + 7 * 86_400);
    stripe.clearFaults();
    pastKeyRetention(h);
    const sent = stripe.requestsTo("POST", `/v1/subscriptions/${sub.id}`).length;

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, operationId)).status).toBe("succeeded");
    expect(stripe.requestsTo("POST", `/v1/subscriptions/${sub.id}`)).toHaveLength(sent);
    const closing = (await auditOf(h.deps, "billing.trial_extend", accountId)).filter((e) => e.operationId === operationId).at(-1);
    expect(closing).toMatchObject({ outcome: "succeeded", after: { billing: { trialEnd: new Date((trialBefore + 7 * 86_400) * 1000).toISOString() } } });
  });

  it("a cancellation at period end Stripe applied, answered 500: past the horizon the re-read shows it set to end and closes it succeeded", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_007";
    const sub = [...stripe.subscriptions.values()].find((s) => s.customer === "cus_demo_007")!;
    stripe.failAfterApply(1, 500, { method: "POST", path: `/v1/subscriptions/${sub.id}` });
    const res = await confirmAndAct(h, "operations", "billing.subscription_cancel", { target: account(accountId), input: { mode: "at_period_end" } }, { idempotencyKey: "cancel-applied-500" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    expect(stripe.subscriptions.get(sub.id)!.cancel_at_period_end).toBe(true);
    stripe.clearFaults();
    pastKeyRetention(h);

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, operationId)).status).toBe("succeeded");
    const closing = (await auditOf(h.deps, "billing.subscription_cancel", accountId)).filter((e) => e.operationId === operationId).at(-1);
    expect(closing).toMatchObject({ outcome: "succeeded", after: { billing: { cancelAtPeriodEnd: true } } });
    expect((await sealAndVerify(h.deps.database.db)).ok).toBe(true);
  });

  it("a plan change Stripe applied, answered 500: past the horizon the re-read shows the new plan and closes it succeeded, the plan mirrored", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_014";
    const sub = [...stripe.subscriptions.values()].find((s) => s.customer === "cus_demo_014")!;
    expect((await accountRow(h.deps, accountId)).plan).toBe("starter");
    stripe.failAfterApply(1, 500, { method: "POST", path: `/v1/subscriptions/${sub.id}` });
    const res = await confirmAndAct(h, "operations", "billing.plan_change", { target: account(accountId), input: { plan: "team" } }, { idempotencyKey: "plan-applied-500" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    stripe.clearFaults();
    pastKeyRetention(h);
    const sent = stripe.requestsTo("POST", `/v1/subscriptions/${sub.id}`).length;

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, operationId)).status).toBe("succeeded");
    expect(stripe.requestsTo("POST", `/v1/subscriptions/${sub.id}`)).toHaveLength(sent);
    expect((await accountRow(h.deps, accountId)).plan).toBe("team");
  });

  it("cancel now: Stripe canceled it, answered 500, and the check read failed too: 202 unknown (not 'nothing changed'); the reconciler's retry is refused (already canceled), so it re-reads and closes it succeeded", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_012";
    const sub = [...stripe.subscriptions.values()].find((s) => s.customer === "cus_demo_012")!;
    expect(sub.status).toBe("active");
    stripe.failAfterApply(1, 500, { method: "DELETE", path: `/v1/subscriptions/${sub.id}` });
    stripe.failNextAfter({ method: "DELETE", path: `/v1/subscriptions/${sub.id}` }, 3, 503, { method: "GET", path: "/v1/subscriptions" });
    const res = await confirmAndAct(h, "operations", "billing.subscription_cancel", { target: account(accountId), input: { mode: "now" } }, { idempotencyKey: "cancel-now-500" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    expect(res.body.detail).not.toMatch(/nothing (was )?changed/i);
    const operationId = res.body.operationId as string;
    expect(stripe.subscriptions.get(sub.id)!.status).toBe("canceled");
    stripe.clearFaults();
    const deletes = stripe.requestsTo("DELETE", `/v1/subscriptions/${sub.id}`).length;

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, operationId)).status).toBe("succeeded");
    // Nothing was sent to cancel it again: the retry stopped at reading the subscription already ended.
    expect(stripe.requestsTo("DELETE", `/v1/subscriptions/${sub.id}`)).toHaveLength(deletes);
    const closing = (await auditOf(h.deps, "billing.subscription_cancel", accountId)).filter((e) => e.operationId === operationId);
    expect(closing.map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
    expect(closing.at(-1)?.after).toMatchObject({ billing: { status: "canceled" } });
  });

  it("the reconciler's retry meets the key still in use (Stripe is still running the first attempt): not failed but unknown, and once that request finishes the same key settles it, one credit", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_008";
    const customer = "cus_demo_008";
    const creditPath = `/v1/customers/${customer}/balance_transactions`;
    const before = stripe.customers.get(customer)!.balance;
    stripe.failNext(3, 500, { method: "POST", path: creditPath });
    const res = await act(h, "support_full", "billing.credit_apply", { target: account(accountId), input: { amountCents: 1_200 } }, { idempotencyKey: "credit-key-in-use" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    const sent = stripe.requestsTo("POST", creditPath)[0]!;
    stripe.clearFaults();

    // The same request, with the same key, still running at Stripe: held before it applies until its client lets go.
    stripe.delayNext(60_000, 1, { method: "POST", path: creditPath });
    const arrivals = stripe.arrivals.filter((a) => a.path === creditPath).length;
    const letGo = new AbortController();
    const held = fetch(`${stripe.url}${creditPath}`, {
      method: "POST",
      headers: { authorization: `Bearer ${stripe.secretKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": sent.headers["idempotency-key"] as string },
      body: sent.rawBody,
      signal: letGo.signal,
    }).catch(() => null);
    while (stripe.arrivals.filter((a) => a.path === creditPath).length === arrivals) await new Promise((r) => setTimeout(r, 5));

    expect((await reconcilePass(h)).unknown).toBe(1);
    const open = await operation(h, operationId);
    expect([open.status, open.last_error]).toEqual(["unknown", expect.stringContaining("still in progress")]);
    expect(stripe.requestsTo("POST", creditPath).some((r) => r.status === 409)).toBe(true);

    // Released: Stripe finishes it (the credit applies and its answer is saved under the key).
    letGo.abort();
    await held;
    await stripe.idle();
    expect(stripe.balanceTransactions.filter((t) => t.customer === customer)).toHaveLength(1);
    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, operationId)).status).toBe("succeeded");
    expect(stripe.balanceTransactions.filter((t) => t.customer === customer)).toHaveLength(1);
    expect(stripe.customers.get(customer)!.balance).toBe(before - 1_200);
    expect((await auditOf(h.deps, "billing.credit_apply", accountId)).filter((e) => e.operationId === operationId).map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
  });
});
