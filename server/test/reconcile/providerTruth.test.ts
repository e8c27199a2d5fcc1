import { sql } from "kysely";
import request from "supertest";
import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import { sealAndVerify } from "../support/auditKeys.js";
import type { Actor } from "../../src/actor.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import { newOperationId, recordIntent } from "../../src/audit/operations.js";
import { ManualClock } from "../../src/clock.js";
import { accountLeaseKey, releaseLease, tryLease } from "../../src/commands/targetLease.js";
import { backoffMs, finishOperation, inFlightWindowMs } from "../../src/reconcile/finishOperation.js";
import { claimOperation, closeOperation, countUnresolvedOperations, dueOperations, insertOperation, loadOperation, markNeedsReview, markUnknown, openOperationsOf, renewOperationLease } from "../../src/reconcile/providerOperations.js";
import { reconcileOnce, RECONCILER_LEASE, startReconciler, type ReconcileReport } from "../../src/reconcile/reconciler.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { capturingLogger } from "../auth/helpers.js";
import { databaseKinds } from "../support/databases.js";
import { act, auditOf, sessionOf, userRow, useHarness, versionOf, type ActionCall, type Harness } from "../actions/harness.js";

/**
 * Provider truth through the HTTP API with the Auth0 and Stripe fakes: parallel writes to one
 * account reach the provider exactly as often as they are acknowledged; a provider call whose answer
 * is lost (timeout after the change, a failed read-back, a multi-call change failing midway) is
 * answered `outcome_unknown`, audited `unknown`, and finished by the reconciler with the provider's
 * state mirrored; a retry with the same key never applies twice.
 */
const account = (id: string) => ({ type: "account" as const, id });
const user = (id: string) => ({ type: "user" as const, id });
const creditWrite = (customer: string) => ({ method: "POST", path: `/v1/customers/${customer}/balance_transactions` });

/** Runs reconciler passes until one has nothing left to do (or the attempts run out). */
async function reconcile(h: Harness): Promise<ReconcileReport[]> {
  const reports: ReconcileReport[] = [];
  for (let i = 0; i < 20; i++) {
    const report = await reconcileOnce(h.deps, "test-reconciler");
    reports.push(report);
    const open = await h.deps.database.db.selectFrom("provider_operations").select("operation_id").where("status", "in", ["pending", "unknown"]).execute();
    if (open.length === 0) return reports;
    // A pass that met a slow provider backs the operation off; the test does not wait the backoff out.
    await h.deps.database.db.updateTable("provider_operations").set({ next_attempt_at: new Date(0) }).where("status", "=", "unknown").execute();
    await new Promise((r) => setTimeout(r, 60));
  }
  return reports;
}

/** Polls until `check` holds (a background reconciler's pass), failing after `ms`. */
async function until(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ORPHAN_ERROR = "the process stopped during the provider call and left no operation record; check the provider";
const orphanStaff = DEMO_AGENTS[1];
const orphanActor: Actor = { kind: "staff", staffId: orphanStaff.id, zendeskUserId: orphanStaff.zendeskUserId, email: orphanStaff.email, name: orphanStaff.name, panelRole: orphanStaff.role };

/** An intent whose process died before recording an operation (written at `at`), on a target no other test touches. */
async function orphanIntent(h: Harness, targetId: string, at: Date, actor: Actor = orphanActor) {
  const target = { type: "user" as const, id: targetId, accountId: "acc_orphans" };
  return recordIntent(h.deps.database.db, { actor, action: "user.password_reset", target, ticketId: "1006", reason: "left behind", before: { blocked: false } }, new ManualClock(at));
}

async function operation(h: Harness, operationId: string) {
  return h.deps.database.db.selectFrom("provider_operations").selectAll().where("operation_id", "=", operationId).executeTakeFirstOrThrow();
}

/** An agent who, told the account changed or is busy, reloads and tries again (a fresh key for each new attempt). */
async function persistently(h: Harness, role: PanelRole, action: string, call: Omit<ActionCall, "expectedVersion">, key: string) {
  for (let attempt = 0; attempt < 60; attempt++) {
    const res = await act(h, role, action, { ...call, expectedVersion: await versionOf(h.deps, call.target) }, { idempotencyKey: `${key}-${attempt}` });
    if (res.status !== 409 || !["stale_version", "target_busy"].includes(res.body.code as string)) return res;
  }
  throw new Error(`${action} never got through`);
}

describe.each(databaseKinds)("provider truth (%s)", (kind) => {
  const h = useHarness(kind, {
    auth0: true,
    stripe: true,
    env: { PROVIDER_TIMEOUT_MS: "4000", RECONCILE_INTERVAL_MS: "20", OPERATION_LEASE_MS: "3000", TARGET_LEASE_WAIT_MS: "10000" },
  });

  it("20 parallel credits with one version: one reaches Stripe and is acknowledged, the rest are refused before Stripe", async () => {
    const stripe = h.stripe!;
    const before = stripe.customers.get("cus_demo_003")!.balance;
    const version = await versionOf(h.deps, account("acc_demo_003"));
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => act(h, "support_full", "billing.credit_apply", { target: account("acc_demo_003"), input: { amountCents: 1_000 }, expectedVersion: version }, { idempotencyKey: `par-same-${i}` })),
    );
    const ok = answers.filter((a) => a.status === 200);
    expect(ok).toHaveLength(1);
    // Refused before Stripe's write: stale, or (on a loaded machine) a read timing out before anything was sent, or
    // the wait for the account's lease running out while 19 others queue for it.
    for (const a of answers.filter((x) => x.status !== 200)) expect([[409, "stale_version"], [504, "provider_timeout"], [409, "target_busy"]]).toContainEqual([a.status, a.body.code]);
    expect(stripe.requestsTo("POST", creditWrite("cus_demo_003").path)).toHaveLength(1);
    expect(stripe.customers.get("cus_demo_003")!.balance).toBe(before - 1_000);
    expect((await auditOf(h.deps, "billing.credit_apply", "acc_demo_003")).filter((e) => e.outcome === "succeeded")).toHaveLength(1);
  });

  it("a credit Stripe refuses for good after the operation was opened: answered as refused (not 202 unknown), the operation closed failed, audited failed; nothing credited", async () => {
    const stripe = h.stripe!;
    const customer = "cus_demo_013";
    const before = stripe.customers.get(customer)!.balance;
    stripe.failNext(1, 400, creditWrite(customer));
    const call = { target: account("acc_demo_013"), input: { amountCents: 1_100 }, expectedVersion: await versionOf(h.deps, account("acc_demo_013")) };
    const res = await act(h, "support_full", "billing.credit_apply", call, { idempotencyKey: "refused-credit" });
    // The write reached Stripe (so the operation was opened) and was refused: nothing for the reconciler to find out.
    expect(stripe.requestsTo("POST", creditWrite(customer).path)).toHaveLength(1);
    // Stripe's 400 is a definite refusal: passed on as 422 provider_rejected, not 202 outcome_unknown.
    expect([res.status, res.body.code, res.body.providerStatus], JSON.stringify(res.body)).toEqual([422, "provider_rejected", 400]);
    const ops = await h.deps.database.db.selectFrom("provider_operations").select(["operation_id", "status"]).where("account_id", "=", "acc_demo_013").execute();
    expect(ops.map((o) => o.status)).toEqual(["failed"]);
    const entries = await auditOf(h.deps, "billing.credit_apply", "acc_demo_013");
    expect(entries.map((e) => [e.outcome, e.operationId])).toEqual([
      ["pending", ops[0]!.operation_id],
      ["failed", ops[0]!.operation_id],
    ]);
    // The operation keeps the HTTP request's id: the reconciler's entry for it names the same request.
    const { request: stored } = await h.deps.database.db.selectFrom("provider_operations").select("request").where("operation_id", "=", ops[0]!.operation_id).executeTakeFirstOrThrow();
    expect(entries[0]?.requestId).toEqual(expect.any(String));
    expect(stored).toMatchObject({ requestId: entries[0]!.requestId });
    expect(stripe.customers.get(customer)!.balance).toBe(before);
    // Closed, not open: the account takes the next write at once, and the key was released for it.
    const again = await act(h, "support_full", "billing.credit_apply", { ...call, expectedVersion: await versionOf(h.deps, account("acc_demo_013")) }, { idempotencyKey: "refused-credit" });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(stripe.customers.get(customer)!.balance).toBe(before - 1_100);
  });

  it("two credits sent without an Idempotency-Key reach Stripe under different keys: both are applied, neither replays the other", async () => {
    const stripe = h.stripe!;
    const customer = "cus_demo_014";
    const before = stripe.customers.get(customer)!.balance;
    const first = await act(h, "support_full", "billing.credit_apply", { target: account("acc_demo_014"), input: { amountCents: 300 }, expectedVersion: await versionOf(h.deps, account("acc_demo_014")) });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const second = await act(h, "support_full", "billing.credit_apply", { target: account("acc_demo_014"), input: { amountCents: 400 }, expectedVersion: await versionOf(h.deps, account("acc_demo_014")) });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    const writes = stripe.requestsTo("POST", creditWrite(customer).path);
    expect(writes).toHaveLength(2);
    const keys = writes.map((w) => w.headers["idempotency-key"]);
    expect(keys.every((k) => typeof k === "string" && k.startsWith("steward:")), JSON.stringify(keys)).toBe(true);
    expect(new Set(keys).size).toBe(2);
    expect(writes.some((w) => w.replayed)).toBe(false);
    expect(stripe.balanceTransactions.filter((t) => t.customer === customer).map((t) => -t.amount)).toEqual([300, 400]);
    expect(stripe.customers.get(customer)!.balance).toBe(before - 700);
  });

  it("8 agents crediting one account, each retrying until it gets through: Stripe holds exactly the 8 acknowledged credits", async () => {
    const stripe = h.stripe!;
    const before = stripe.customers.get("cus_demo_004")!.balance;
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => persistently(h, "support_full", "billing.credit_apply", { target: account("acc_demo_004"), input: { amountCents: 100 + i } }, `par-retry-${i}`)));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    const credits = stripe.balanceTransactions.filter((t) => t.customer === "cus_demo_004");
    expect(credits.map((t) => -t.amount).sort((a, b) => a - b)).toEqual(Array.from({ length: 8 }, (_, i) => 100 + i));
    expect(stripe.customers.get("cus_demo_004")!.balance).toBe(before - credits.reduce((sum, t) => sum - t.amount, 0));
    const entries = await auditOf(h.deps, "billing.credit_apply", "acc_demo_004");
    expect(entries.filter((e) => e.outcome === "succeeded")).toHaveLength(8);
    expect(entries.filter((e) => e.outcome === "pending")).toHaveLength(8);
    expect((await sealAndVerify(h.deps.database.db)).ok).toBe(true);
  }, 90_000);

  it("blocks and suspensions racing on one account through Auth0: who is blocked at Auth0 is exactly what Steward acknowledged and shows", async () => {
    const auth0 = h.auth0!;
    const accountId = "acc_demo_008";
    const users = await h.deps.database.db.selectFrom("users").selectAll().where("account_id", "=", accountId).where("status", "=", "active").where("blocked", "=", false).orderBy("id").execute();
    expect(users.length).toBeGreaterThanOrEqual(5);
    const accountVersion = await versionOf(h.deps, account(accountId));
    const calls: Promise<{ action: string; userId?: string; res: Awaited<ReturnType<typeof act>> }>[] = [];
    for (const [i, u] of users.entries()) {
      for (const copy of [0, 1]) calls.push(act(h, "support_full", "user.block", { target: user(u.id), input: {}, expectedVersion: u.version }, { idempotencyKey: `race-block-${u.id}-${copy}` }).then((res) => ({ action: "user.block", userId: u.id, res })));
      if (i % 2 === 0) calls.push(act(h, "support_full", "account.suspend", { target: account(accountId), input: {}, expectedVersion: accountVersion }, { idempotencyKey: `race-suspend-${i}` }).then((res) => ({ action: "account.suspend", res })));
    }
    while (calls.length < 20) calls.push(act(h, "support_full", "user.sessions_revoke", { target: user(users[0]!.id), input: {}, expectedVersion: users[0]!.version }, { idempotencyKey: `race-revoke-${calls.length}` }).then((res) => ({ action: "user.sessions_revoke", res })));
    const done = await Promise.all(calls);
    // 504 only for a read timing out before any write (a write whose answer is lost is 202, and none is expected here).
    for (const d of done) expect([200, 409, 504], JSON.stringify(d.res.body)).toContain(d.res.status);
    const acknowledged = new Set<string>();
    for (const d of done.filter((x) => x.res.status === 200)) {
      if (d.action === "user.block") acknowledged.add(d.userId!);
      if (d.action === "account.suspend") for (const id of (d.res.body.after as { blockedUserIds: string[] }).blockedUserIds) acknowledged.add(id);
    }
    expect(done.filter((d) => d.action === "account.suspend" && d.res.status === 200).length).toBeLessThanOrEqual(1);
    const blockedAtAuth0 = users.filter((u) => auth0.users.get(u.idp_id as string)?.blocked === true).map((u) => u.id);
    expect(blockedAtAuth0.sort()).toEqual([...acknowledged].sort());
    const blockedHere = (await h.deps.database.db.selectFrom("users").select("id").where("id", "in", users.map((u) => u.id)).where("blocked", "=", true).execute()).map((r) => r.id);
    expect(blockedHere.sort()).toEqual(blockedAtAuth0);
    const suspended = done.some((d) => d.action === "account.suspend" && d.res.status === 200);
    expect((await h.deps.database.db.selectFrom("accounts").select("status").where("id", "=", accountId).executeTakeFirstOrThrow()).status).toBe(suspended ? "suspended" : "active");
    expect((await sealAndVerify(h.deps.database.db)).ok).toBe(true);
  });

  it("a credit that times out after Stripe applied it: 202 outcome_unknown, audited unknown, reconciled to succeeded; the same key never credits twice", async () => {
    const stripe = h.stripe!;
    const before = stripe.customers.get("cus_demo_009")!.balance;
    stripe.delayAfterApply(6_000, 1, creditWrite("cus_demo_009"));
    // The retry sends the same request (same version) with the same key, as the sidebar does.
    // The agent ticked "notify the customer" for a German-speaking requester: the reconciler's mail must say so, in German.
    const call = { target: account("acc_demo_009"), input: { amountCents: 2_500 }, expectedVersion: await versionOf(h.deps, account("acc_demo_009")), notifyCustomer: true, customerLocale: "de" };
    const first = await act(h, "support_full", "billing.credit_apply", call, { idempotencyKey: "timeout-credit" });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body).toMatchObject({ code: "outcome_unknown", operationId: expect.any(String) });
    const operationId = first.body.operationId as string;
    expect(stripe.customers.get("cus_demo_009")!.balance).toBe(before - 2_500);
    expect((await auditOf(h.deps, "billing.credit_apply", "acc_demo_009")).map((e) => [e.outcome, e.operationId])).toEqual([
      ["pending", operationId],
      ["unknown", operationId],
    ]);
    // Until it is settled, the same key answers with the same unknown outcome, and other writes wait for it.
    const again = await act(h, "support_full", "billing.credit_apply", call, { idempotencyKey: "timeout-credit" });
    expect([again.status, again.body.code, again.body.operationId]).toEqual([202, "outcome_unknown", operationId]);
    const other = await act(h, "support_full", "billing.credit_apply", call, { idempotencyKey: "timeout-credit-other" });
    expect([other.status, other.body.code]).toEqual([409, "outcome_pending"]);
    // The sidebar offers a retry and names what it waits for.
    expect(other.body).toMatchObject({ operationIds: [operationId], retryable: true });
    const shown = await request(h.app).get("/api/context").query({ email: (await userRow(h.deps, "usr_demo_009_1")).email }).set("Authorization", `Bearer ${await sessionOf(h, "support_full")}`).set("X-Ticket-Id", "1006");
    expect(shown.status, JSON.stringify(shown.body)).toBe(200);
    expect(shown.body.unresolvedOperations).toEqual([expect.objectContaining({ operationId, action: "billing.credit_apply", status: "unknown" })]);
    stripe.clearFaults();

    await reconcile(h);
    const settled = await operation(h, operationId);
    expect(settled.status, settled.last_error ?? "").toBe("succeeded");
    const entries = (await auditOf(h.deps, "billing.credit_apply", "acc_demo_009")).filter((e) => e.operationId === operationId);
    expect(entries.map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
    expect(entries.at(-1)).toMatchObject({ operationId, after: { balanceCents: before - 2_500, creditedCents: 2_500, customerNotice: expect.anything() } });
    const notices = await h.deps.database.db.selectFrom("mail_outbox").select(["kind", "subject"]).where("operation_id", "=", operationId).execute();
    expect(notices.length).toBeGreaterThan(0);
    expect(notices.every((m) => m.kind === "notice:billing.credit_apply" && m.subject === "Ihrem Guthaben wurde eine Gutschrift hinzugefügt"), JSON.stringify(notices)).toBe(true);
    // The reconciler's retry reached Stripe with the same key and was replayed: one credit.
    const writes = stripe.requestsTo("POST", creditWrite("cus_demo_009").path);
    expect(new Set(writes.map((w) => w.headers["idempotency-key"])).size).toBe(1);
    expect(stripe.balanceTransactions.filter((t) => t.customer === "cus_demo_009")).toHaveLength(1);
    const replay = await act(h, "support_full", "billing.credit_apply", call, { idempotencyKey: "timeout-credit" });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ replayed: true, operationId, outcome: "succeeded" });
    expect(stripe.balanceTransactions.filter((t) => t.customer === "cus_demo_009")).toHaveLength(1);
    const activity = await h.deps.database.db.selectFrom("activity_events").select("type").where("account_id", "=", "acc_demo_009").where("type", "=", "credit_applied").execute();
    expect(activity).toHaveLength(1);
  });

  it("seats changed at Stripe, then the read-back fails: not 'nothing changed' but unknown, and the reconciler mirrors Stripe's 8 seats", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_002";
    const sub = stripe.subscriptions.get("sub_demo_002")!;
    const seatsBefore = (await h.deps.database.db.selectFrom("accounts").select("seats_licensed").where("id", "=", accountId).executeTakeFirstOrThrow()).seats_licensed;
    const target = seatsBefore + 2;
    stripe.failNextAfter({ method: "POST", path: /^\/v1\/subscription_items\// }, 3, 503, { method: "GET", path: "/v1/customers/cus_demo_002" });
    // The preview reads the customer too, so faults are armed after it: this change needs no confirmation (it adds seats).
    const res = await act(h, "operations", "seats.change", { target: account(accountId), input: { seats: target } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.code).toBe("outcome_unknown");
    expect(res.body.detail).toContain("was made; reading it back failed");
    expect(stripe.subscriptions.get(sub.id)!.items.data[0]!.quantity).toBe(target);
    expect((await h.deps.database.db.selectFrom("accounts").select("seats_licensed").where("id", "=", accountId).executeTakeFirstOrThrow()).seats_licensed).toBe(seatsBefore);
    stripe.clearFaults();

    await reconcile(h);
    expect((await operation(h, res.body.operationId as string)).status).toBe("succeeded");
    expect((await h.deps.database.db.selectFrom("accounts").select("seats_licensed").where("id", "=", accountId).executeTakeFirstOrThrow()).seats_licensed).toBe(target);
    const entries = await auditOf(h.deps, "seats.change", accountId);
    expect(entries.map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
    expect(entries.at(-1)?.after).toMatchObject({ seatsLicensed: target, billing: { seats: target } });
    expect(stripe.requestsTo("POST", /^\/v1\/subscription_items\//).filter((r) => r.status === 200 && !r.replayed)).toHaveLength(1);
  });

  it("MFA reset with Auth0 failing after the factors were deleted: the answer says so, and the reconciler completes the reset", async () => {
    const auth0 = h.auth0!;
    const userId = "usr_demo_012_1";
    const idpId = (await userRow(h.deps, userId)).idp_id as string;
    expect(auth0.methods.get(idpId)?.length).toBeGreaterThan(0);
    auth0.failNext(3, 503, { method: "DELETE", path: `/api/v2/users/${encodeURIComponent(idpId)}/authenticators` });
    const call = { target: user(userId), input: { identityVerification: "callback_known_phone", verificationNote: "Called back" }, expectedVersion: await versionOf(h.deps, user(userId)) };
    const res = await act(h, "support_full", "user.mfa_reset", call, { idempotencyKey: "mfa-partial" });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.detail).toContain("authentication methods removed");
    expect(res.body.detail).not.toMatch(/nothing (was )?changed/i);
    expect(auth0.methods.get(idpId)).toEqual([]);
    auth0.clearFaults();

    await reconcile(h);
    expect(await userRow(h.deps, userId)).toMatchObject({ mfa_enrolled: false, mfa_methods: [] });
    expect(auth0.rememberBrowserInvalidated.has(idpId)).toBe(true);
    expect((await auditOf(h.deps, "user.mfa_reset", userId)).map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
    const replay = await act(h, "support_full", "user.mfa_reset", call, { idempotencyKey: "mfa-partial" });
    expect([replay.status, replay.body.replayed]).toEqual([200, true]);
  });

  it("identity actions decide from Auth0's state: unblock works on a user Auth0 shows blocked though Steward's copy does not", async () => {
    const auth0 = h.auth0!;
    // A user of an account no other test here touches (acc_demo_011 is left with an operation in review by another).
    const userId = "usr_demo_018_2";
    const row = await userRow(h.deps, userId);
    expect(row.blocked).toBe(false);
    auth0.users.set(row.idp_id as string, { ...auth0.users.get(row.idp_id as string), blocked: true });
    const block = await act(h, "support_full", "user.block", { target: user(userId), input: {} });
    expect([block.status, block.body.code]).toEqual([409, "invalid_transition"]);
    const unblock = await act(h, "support_full", "user.unblock", { target: user(userId), input: {} });
    expect(unblock.status, JSON.stringify(unblock.body)).toBe(200);
    expect(auth0.users.get(row.idp_id as string)?.blocked).toBe(false);
    expect(unblock.body.before).toMatchObject({ blocked: false, identity: { provider: "auth0", blocked: true } });
  });

  it("an intent left with no operation record is closed unknown once older than the operation lease on the injected clock, not before, and only once", async () => {
    const lease = h.deps.config.OPERATION_LEASE_MS;
    // Written an hour before the wall clock: a reconciler that read the wall clock would take it for long abandoned.
    const writtenAt = new Date(Date.now() - 3_600_000);
    const staff = await orphanIntent(h, "usr_orphan_staff", writtenAt);
    const system = await orphanIntent(h, "usr_orphan_system", writtenAt, { kind: "system", component: "sweeper" });
    // An intent whose operation record exists is the reconciler's through that record, never closed as an orphan.
    const recorded = "usr_orphan_recorded";
    const recordedId = newOperationId();
    await h.deps.database.db.transaction().execute(async (trx) => {
      await appendAudit(trx, { actor: orphanActor, action: "user.password_reset", target: { type: "user", id: recorded, accountId: "acc_orphans" }, ticketId: "1006", reason: "in flight", outcome: "pending", operationId: recordedId }, new ManualClock(writtenAt));
      await insertOperation(trx, { operationId: recordedId, action: "user.password_reset", targetType: "user", targetId: recorded, accountId: "acc_orphans", keyOwner: orphanStaff.id, idempotencyKey: null, providerKey: `steward:${recordedId}`, request: { actor: orphanActor, ticketId: "1006", reason: "in flight", requestId: null, input: {}, now: writtenAt.toISOString() }, providerBefore: undefined, leaseMs: 600_000, createdAt: writtenAt });
    });
    const at = (ms: number) => ({ ...h.deps, clock: new ManualClock(new Date(writtenAt.getTime() + ms)) });
    const outcomes = async (id: string) => (await auditOf(h.deps, "user.password_reset", id)).map((e) => e.outcome);
    try {
      expect((await reconcileOnce(at(lease - 1_000), "test-reconciler")).orphanedIntents).toBe(0);
      expect(await outcomes("usr_orphan_staff")).toEqual(["pending"]);

      expect(await reconcileOnce(at(lease + 1_000), "test-reconciler")).toMatchObject({ leader: true, orphanedIntents: 2 });
      const [, closed] = await auditOf(h.deps, "user.password_reset", "usr_orphan_staff");
      // The closing entry repeats the intent and is dated by the injected clock.
      expect(closed).toMatchObject({
        outcome: "unknown",
        operationId: staff.operationId,
        occurredAt: new Date(writtenAt.getTime() + lease + 1_000).toISOString(),
        actor: { staffId: orphanStaff.id, zendeskUserId: orphanStaff.zendeskUserId, email: orphanStaff.email, panelRole: orphanStaff.role, system: null },
        target: { type: "user", id: "usr_orphan_staff", accountId: "acc_orphans" },
        ticketId: "1006",
        reason: "left behind",
        before: { blocked: false },
        error: ORPHAN_ERROR,
      });
      expect((await auditOf(h.deps, "user.password_reset", "usr_orphan_system")).map((e) => [e.outcome, e.operationId, e.actor.system, e.actor.staffId])).toEqual([
        ["pending", system.operationId, "sweeper", null],
        ["unknown", system.operationId, "sweeper", null],
      ]);
      expect(await outcomes(recorded)).toEqual(["pending"]);
      expect((await reconcileOnce(at(lease + 2_000), "test-reconciler")).orphanedIntents).toBe(0);
      expect(await outcomes("usr_orphan_staff")).toEqual(["pending", "unknown"]);
    } finally {
      await h.deps.database.db.updateTable("provider_operations").set({ status: "failed", closed_at: writtenAt }).where("operation_id", "=", recordedId).execute();
    }
  });

  it("the reconciler started with the server runs passes on its own as the one leader, logs only the passes that settled something, and hands leadership over when stopped", async () => {
    const { logger, lines } = capturingLogger();
    const lease = h.deps.config.OPERATION_LEASE_MS;
    const { db } = h.deps.database;
    // An operation on a user that no longer exists: the reconciler can only close it failed.
    const stray = newOperationId();
    await db.transaction().execute((trx) =>
      insertOperation(trx, { operationId: stray, action: "user.elevation_end", targetType: "user", targetId: "usr_orphan_stray", accountId: "acc_orphans_stray", keyOwner: orphanStaff.id, idempotencyKey: null, providerKey: `steward:${stray}`, request: { actor: orphanActor, ticketId: "1006", reason: "stray", requestId: null, input: {}, now: h.deps.clock.now().toISOString() }, providerBefore: undefined, leaseMs: 0, createdAt: h.deps.clock.now() }),
    );
    await db.updateTable("provider_operations").set({ lease_expires_at: new Date(0), next_attempt_at: new Date(0) }).where("operation_id", "=", stray).execute();
    const reconciler = startReconciler({ ...h.deps, logger }, 20);
    expect(reconciler.instanceId).toMatch(/^reconciler:[0-9a-f-]{36}$/);
    const passes = () => lines().filter((l) => l.msg === "provider operations reconciled");
    let orphan: Awaited<ReturnType<typeof orphanIntent>>;
    try {
      // No runNow: scheduled passes (once the lease an earlier test's reconciler holds has lapsed) close the operation, then the orphan.
      await until(async () => passes().length === 1);
      expect(passes()[0]).toMatchObject({ level: 30, reconcile: { failed: 1, orphanedIntents: 0, leader: true, succeeded: 0, unknown: 0, needs_review: 0, skipped: 0 } });
      expect(await operation(h, stray)).toMatchObject({ status: "failed", last_error: "not_found: No user usr_orphan_stray (settled by the reconciler)" });
      orphan = await orphanIntent(h, "usr_orphan_started", new Date(h.deps.clock.now().getTime() - lease - 1_000));
      await until(async () => (await auditOf(h.deps, "user.password_reset", "usr_orphan_started")).length === 2);
      await until(async () => passes().length === 2);
      expect(passes()[1]).toMatchObject({ level: 30, reconcile: { orphanedIntents: 1, leader: true, succeeded: 0, failed: 0, unknown: 0, needs_review: 0, skipped: 0 } });
      // While it leads, another process's reconciler does nothing.
      expect(await reconcileOnce(h.deps, "another-process")).toMatchObject({ leader: false, orphanedIntents: 0 });
      // A pass asked for while one runs is that pass.
      const first = reconciler.runNow();
      expect(reconciler.runNow()).toBe(first);
      expect(await first).toMatchObject({ leader: true, orphanedIntents: 0 });
      // Passes that found nothing to do (several ran by now) write no line.
      await new Promise((r) => setTimeout(r, 200));
      expect(passes()).toHaveLength(2);
      expect((await auditOf(h.deps, "user.password_reset", "usr_orphan_started")).map((e) => [e.outcome, e.operationId])).toEqual([
        ["pending", orphan.operationId],
        ["unknown", orphan.operationId],
      ]);
    } finally {
      await reconciler.stop();
    }
    // Stopped, it gave the leadership up: another process leads at once (then lets it go for the other tests).
    expect((await reconcileOnce(h.deps, "another-process")).leader).toBe(true);
    await releaseLease(h.deps.database.db, RECONCILER_LEASE, "another-process");
    // And it schedules no more passes.
    const later = await orphanIntent(h, "usr_orphan_after_stop", new Date(h.deps.clock.now().getTime() - lease - 1_000));
    await new Promise((r) => setTimeout(r, 200));
    expect((await auditOf(h.deps, "user.password_reset", "usr_orphan_after_stop")).map((e) => e.outcome)).toEqual(["pending"]);
    await reconcileOnce(h.deps, "test-reconciler");
    expect((await auditOf(h.deps, "user.password_reset", "usr_orphan_after_stop")).map((e) => [e.outcome, e.operationId])).toEqual([
      ["pending", later.operationId],
      ["unknown", later.operationId],
    ]);
  });

  it("waits 2 s, doubling per attempt up to 5 minutes, and counts a lost request in flight for every attempt's timeout and backoff", () => {
    expect([0, 1, 2, 7, 8, 12, 40].map(backoffMs)).toEqual([2_000, 4_000, 8_000, 256_000, 300_000, 300_000, 300_000]);
    // 4 s per attempt, 3 attempts, and up to 5 s of backoff before each of the 2 retries.
    expect([h.deps.config.PROVIDER_TIMEOUT_MS, h.deps.config.PROVIDER_MAX_RETRIES]).toEqual([4_000, 2]);
    expect(inFlightWindowMs(h.deps.config)).toBe(22_000);
  });

  it("finishes an open operation as its request would have: waits while the account is busy, then closes it repeating the intent's actor, ticket, approval and before", async () => {
    const accountId = "acc_demo_012";
    const { db } = h.deps.database;
    const stripe = h.stripe!;
    const operationId = newOperationId();
    const ticketSnapshot = { id: "1006", subject: "Refund please", status: "open", requester: { id: "77", email: "owner@acme.test", externalId: null, organizationId: null, name: "Owner" }, assigneeId: null, match: "email" as const, overrideReason: null, fetchedAt: h.deps.clock.now().toISOString() };
    const approval = { requestId: "apr_reconciled", requestedBy: { staffId: DEMO_AGENTS[1].id, email: DEMO_AGENTS[1].email }, approvedBy: { staffId: DEMO_AGENTS[2].id, email: DEMO_AGENTS[2].email } };
    const ops = DEMO_AGENTS[2];
    const opsActor: Actor = { kind: "staff", staffId: ops.id, zendeskUserId: ops.zendeskUserId, email: ops.email, name: ops.name, panelRole: ops.role };
    const before = { version: 3, recordedBy: "the request" };
    // The billing reading the request took (runCommand stores it with the operation; the reconciler works from it).
    const billingCustomerId = (await db.selectFrom("accounts").select("billing_customer_id").where("id", "=", accountId).executeTakeFirstOrThrow()).billing_customer_id;
    const billing = await h.deps.billing.getBilling({ id: accountId, billingCustomerId });
    const customer = stripe.customers.get(billingCustomerId as string)!;
    const balance = customer.balance;
    // What runCommand leaves when its process dies during the provider call: the intent and an operation nobody holds.
    await db.transaction().execute(async (trx) => {
      await appendAudit(trx, { actor: opsActor, action: "billing.credit_apply", target: { type: "account", id: accountId, accountId }, ticketId: "1006", reason: "approved goodwill", before, outcome: "pending", operationId, requestId: "req-approved-1", ticketSnapshot, approval }, h.deps.clock);
      await insertOperation(trx, { operationId, action: "billing.credit_apply", targetType: "account", targetId: accountId, accountId, keyOwner: ops.id, idempotencyKey: null, providerKey: `steward:${operationId}`, request: { actor: opsActor, ticketId: "1006", reason: "approved goodwill", requestId: "req-approved-1", input: { amountCents: 300 }, now: h.deps.clock.now().toISOString() }, providerBefore: { billing }, leaseMs: 0, createdAt: h.deps.clock.now() });
    });
    await db.updateTable("provider_operations").set({ lease_expires_at: new Date(0), next_attempt_at: new Date(0) }).where("operation_id", "=", operationId).execute();

    // Another request holds the account: the reconciler leaves it, due again in 2 s (the first backoff).
    expect(await tryLease(db, accountLeaseKey(accountId), "a-request", 60_000)).toBe(true);
    try {
      const passStarted = Date.now();
      expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ skipped: 1, succeeded: 0 });
      const waiting = await operation(h, operationId);
      expect(waiting).toMatchObject({ status: "unknown", attempts: 1, last_error: "waiting for the account to be free" });
      const due = new Date(waiting.next_attempt_at).getTime();
      expect(due).toBeGreaterThanOrEqual(passStarted + 2_000);
      expect(due).toBeLessThanOrEqual(Date.now() + 2_000);
      expect(stripe.balanceTransactions.filter((t) => t.customer === customer.id && t.amount === -300)).toHaveLength(0);
    } finally {
      await releaseLease(db, accountLeaseKey(accountId), "a-request");
    }

    // Another reconciler claimed the operation after this one listed it: it is theirs, the credit is not applied twice.
    // markUnknown ended the hold at the database's now(); the claim must see a later now() (PGlite's clock is coarse).
    await new Promise((r) => setTimeout(r, 20));
    const listed = await loadOperation(db, operationId);
    expect(await claimOperation(db, operationId, 60_000)).toBe(true);
    expect(await finishOperation(h.deps, listed)).toBe("skipped");
    expect(stripe.balanceTransactions.filter((t) => t.customer === customer.id && t.amount === -300)).toHaveLength(0);
    expect(await operation(h, operationId)).toMatchObject({ status: "unknown", attempts: 1 });

    await db.updateTable("provider_operations").set({ next_attempt_at: new Date(0), lease_expires_at: new Date(0) }).where("operation_id", "=", operationId).execute();
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
    expect(await operation(h, operationId)).toMatchObject({ status: "succeeded" });
    const [intent, closing] = (await auditOf(h.deps, "billing.credit_apply", accountId)).filter((e) => e.operationId === operationId);
    expect(intent?.outcome).toBe("pending");
    expect(closing).toMatchObject({
      outcome: "succeeded",
      actor: { staffId: ops.id, panelRole: ops.role },
      target: { type: "account", id: accountId, accountId },
      ticketId: "1006",
      reason: "approved goodwill",
      requestId: "req-approved-1",
      ticketSnapshot,
      approval,
      before,
      after: { creditedCents: 300, balanceCents: balance - 300 },
    });
    expect(stripe.customers.get(customer.id)!.balance).toBe(balance - 300);
  });

  it("a retry Stripe refuses for good while the subscription shows it not canceled: closed failed with Stripe's refusal, never recorded as done", async () => {
    const accountId = "acc_demo_007";
    const { db } = h.deps.database;
    const stripe = h.stripe!;
    const sub = [...stripe.subscriptions.values()].find((s) => s.customer === "cus_demo_007")!;
    expect(sub.status).toBe("active");
    const operationId = newOperationId();
    const ops = DEMO_AGENTS[2];
    const opsActor: Actor = { kind: "staff", staffId: ops.id, zendeskUserId: ops.zendeskUserId, email: ops.email, name: ops.name, panelRole: ops.role };
    const billingCustomerId = (await db.selectFrom("accounts").select("billing_customer_id").where("id", "=", accountId).executeTakeFirstOrThrow()).billing_customer_id;
    const billing = await h.deps.billing.getBilling({ id: accountId, billingCustomerId });
    // A cancel whose first call was lost: the intent and an open operation nobody holds.
    await db.transaction().execute(async (trx) => {
      await appendAudit(trx, { actor: opsActor, action: "billing.subscription_cancel", target: { type: "account", id: accountId, accountId }, ticketId: "1006", reason: "customer asked", outcome: "pending", operationId }, h.deps.clock);
      await insertOperation(trx, { operationId, action: "billing.subscription_cancel", targetType: "account", targetId: accountId, accountId, keyOwner: ops.id, idempotencyKey: null, providerKey: `steward:${operationId}`, request: { actor: opsActor, ticketId: "1006", reason: "customer asked", requestId: null, input: { mode: "now" }, now: h.deps.clock.now().toISOString() }, providerBefore: { billing }, leaseMs: 0, createdAt: h.deps.clock.now() });
    });
    await db.updateTable("provider_operations").set({ lease_expires_at: new Date(0), next_attempt_at: new Date(0) }).where("operation_id", "=", operationId).execute();
    stripe.failNext(1, 400, { method: "DELETE", path: `/v1/subscriptions/${sub.id}` });
    try {
      expect(await finishOperation(h.deps, await loadOperation(db, operationId))).toBe("failed");
    } finally {
      stripe.clearFaults();
    }
    expect(stripe.subscriptions.get(sub.id)!.status).toBe("active");
    expect(await operation(h, operationId)).toMatchObject({ status: "failed" });
    const closing = (await auditOf(h.deps, "billing.subscription_cancel", accountId)).filter((e) => e.operationId === operationId);
    expect(closing.map((e) => e.outcome)).toEqual(["pending", "failed"]);
    expect(closing[1]?.error).toMatch(/^provider_rejected: .*\(settled by the reconciler\)$/);
  });

  it("hands a billing operation without the request's stored billing reading to a person: the call is not repeated from a fresh reading, nor left unknown for ever", async () => {
    // Rows written before the reading was stored with the operation have none; the reconciler cannot rebuild the request's parameters (a trial end, a seat count) without it.
    const accountId = "acc_demo_011";
    const { db } = h.deps.database;
    const stripe = h.stripe!;
    const operationId = newOperationId();
    const ops = DEMO_AGENTS[2];
    const opsActor: Actor = { kind: "staff", staffId: ops.id, zendeskUserId: ops.zendeskUserId, email: ops.email, name: ops.name, panelRole: ops.role };
    const billingCustomerId = (await db.selectFrom("accounts").select("billing_customer_id").where("id", "=", accountId).executeTakeFirstOrThrow()).billing_customer_id as string;
    const balance = stripe.customers.get(billingCustomerId)!.balance;
    await db.transaction().execute(async (trx) => {
      await appendAudit(trx, { actor: opsActor, action: "billing.credit_apply", target: { type: "account", id: accountId, accountId }, ticketId: "1006", reason: "older row", before: { version: 1 }, outcome: "pending", operationId, requestId: null }, h.deps.clock);
      await insertOperation(trx, { operationId, action: "billing.credit_apply", targetType: "account", targetId: accountId, accountId, keyOwner: ops.id, idempotencyKey: null, providerKey: `steward:${operationId}`, request: { actor: opsActor, ticketId: "1006", reason: "older row", requestId: null, input: { amountCents: 400 }, now: h.deps.clock.now().toISOString() }, providerBefore: undefined, leaseMs: 0, createdAt: h.deps.clock.now() });
    });
    await db.updateTable("provider_operations").set({ lease_expires_at: new Date(0), next_attempt_at: new Date(0) }).where("operation_id", "=", operationId).execute();

    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ needs_review: 1, succeeded: 0, unknown: 0 });
    expect(await operation(h, operationId)).toMatchObject({ status: "needs_review", attempts: 1, last_error: expect.stringContaining("billing reading") });
    expect(stripe.customers.get(billingCustomerId)!.balance).toBe(balance);
    expect((await auditOf(h.deps, "billing.credit_apply", accountId)).filter((e) => e.operationId === operationId).map((e) => [e.outcome, e.error?.startsWith("needs_review: ") ?? false])).toEqual([
      ["pending", false],
      ["unknown", true],
    ]);
    // The entry handing it over says where the operation stands: waiting for a person after its first attempt.
    const handedOver = (await auditOf(h.deps, "billing.credit_apply", accountId)).filter((e) => e.operationId === operationId)[1];
    expect(handedOver?.after).toEqual({ status: "needs_review", attempts: 1 });
    // Waiting for a person, it is not taken again.
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ needs_review: 0, succeeded: 0, unknown: 0, skipped: 0 });
  });

  it("keeps an operation record's states: nobody claims it while its request holds it, one worker at a time after, errors cut to 2,000 characters, a closed one never reopened", async () => {
    const { db } = h.deps.database;
    const accountId = "acc_records";
    const createdAt = h.deps.clock.now();
    const open = async (operationId: string) =>
      db.transaction().execute((trx) =>
        insertOperation(trx, { operationId, action: "billing.credit_apply", targetType: "account", targetId: accountId, accountId, keyOwner: "stf_demo_full", idempotencyKey: null, providerKey: `steward:${operationId}`, request: { actor: orphanActor, ticketId: "1", reason: "r", requestId: null, input: {}, now: createdAt.toISOString() }, providerBefore: undefined, leaseMs: 60_000, createdAt: h.deps.clock.now() }),
      );
    const id = newOperationId();
    await open(id);
    const due = async () => (await dueOperations(db, 50)).map((r) => r.operation_id);
    expect(await loadOperation(db, id)).toMatchObject({ status: "pending", provider_before: null, attempts: 0, last_error: null, closed_at: null, next_attempt_at: createdAt });
    const leaseSeconds = async () => Number((await sql<{ s: number }>`select extract(epoch from lease_expires_at - now())::float8 as s from provider_operations where operation_id = ${id}`.execute(db)).rows[0]!.s);
    // Held for the time asked (60 s), not more.
    expect(await leaseSeconds()).toBeGreaterThan(50);
    expect(await leaseSeconds()).toBeLessThanOrEqual(60);
    // Its request holds it, renewing the hold (even once it had lapsed): not due, nobody claims it.
    await db.updateTable("provider_operations").set({ lease_expires_at: new Date(0) }).where("operation_id", "=", id).execute();
    await renewOperationLease(db, id, 60_000);
    expect(await leaseSeconds()).toBeGreaterThan(50);
    expect(await claimOperation(db, id, 60_000)).toBe(false);
    expect(await due()).not.toContain(id);
    const unresolvedBefore = await countUnresolvedOperations(db);

    // Unknown, due later: still not due; due now: one worker takes it, the next is refused until the lease lapses.
    await markUnknown(db, id, "e".repeat(2_500), new Date(Date.now() + 60_000));
    expect(await loadOperation(db, id)).toMatchObject({ status: "unknown", attempts: 1, last_error: "e".repeat(2_000) });
    expect(await countUnresolvedOperations(db)).toEqual({ ...unresolvedBefore, unknown: unresolvedBefore.unknown + 1 });
    expect(await due()).not.toContain(id);
    await markUnknown(db, id, "timeout", new Date(0));
    // markUnknown ends the hold at the database's now(); the next statement must see a later now() (PGlite's clock is coarse).
    await new Promise((r) => setTimeout(r, 20));
    // A renewal from its request that lands after it was marked unknown does not take it back from the reconciler.
    await renewOperationLease(db, id, 60_000);
    expect(await due()).toContain(id);
    expect(await claimOperation(db, id, 60_000)).toBe(true);
    expect(await claimOperation(db, id, 60_000)).toBe(false);
    expect(await due()).not.toContain(id);

    await markNeedsReview(db, id, "r".repeat(2_500));
    expect(await loadOperation(db, id)).toMatchObject({ status: "needs_review", attempts: 3, last_error: "r".repeat(2_000) });
    expect(await countUnresolvedOperations(db)).toEqual({ ...unresolvedBefore, needsReview: unresolvedBefore.needsReview + 1 });
    // In review it is nobody's to retry, and it still blocks its account (shown newest first).
    expect(await claimOperation(db, id, 60_000)).toBe(false);
    await markUnknown(db, id, "late answer", new Date(0));
    expect((await loadOperation(db, id)).status).toBe("needs_review");
    const newer = newOperationId();
    h.deps.clock.advance(1);
    await open(newer);
    expect((await openOperationsOf(db, accountId)).map((o) => [o.operation_id, o.status])).toEqual([
      [newer, "pending"],
      [id, "needs_review"],
    ]);

    await closeOperation(db, id, "failed", h.deps.clock.now(), "f".repeat(2_500));
    await closeOperation(db, newer, "succeeded", h.deps.clock.now());
    expect(await loadOperation(db, id)).toMatchObject({ status: "failed", last_error: "f".repeat(2_000), closed_at: h.deps.clock.now() });
    expect(await loadOperation(db, newer)).toMatchObject({ status: "succeeded", last_error: null });
    expect(await openOperationsOf(db, accountId)).toEqual([]);
    expect(await countUnresolvedOperations(db)).toEqual(unresolvedBefore);
  });

  it("seats.reclaim ends access at the identity provider: blocked at Auth0 and every session ended", async () => {
    const auth0 = h.auth0!;
    const accountId = "acc_demo_006";
    const holders = await h.deps.database.db.selectFrom("users").selectAll().where("account_id", "=", accountId).where("status", "=", "active").where("role", "not in", ["owner", "admin"]).where("idp_id", "is not", null).orderBy("id").execute();
    const chosen = holders.slice(0, 2);
    expect(chosen).toHaveLength(2);
    const res = await act(h, "support_full", "seats.reclaim", { target: account(accountId), input: { userIds: chosen.map((u) => u.id) } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    for (const u of chosen) {
      expect(auth0.users.get(u.idp_id as string)?.blocked).toBe(true);
      expect(auth0.sessions.get(u.idp_id as string)).toEqual([]);
      expect(await userRow(h.deps, u.id)).toMatchObject({ status: "deactivated", blocked: true });
    }
  });
});

/**
 * Stripe's documented semantics, modelled by the fake: a 500 is indeterminate (the endpoint may have
 * run) and is saved under the idempotency key, so a retry with the key replays the 500; keys may be
 * pruned once 24 h old, after which the same key applies again. The reconciler settles a replayed 500
 * by re-reading, never retries with a key past RECONCILE_KEY_HORIZON_MS, and what a re-read cannot
 * settle waits in `needs_review` until operations resolves it.
 */
describe.each(databaseKinds)("Stripe 5xx and the key-retention horizon (%s)", (kind) => {
  const h = useHarness(kind, {
    auth0: true,
    stripe: true,
    env: { PROVIDER_TIMEOUT_MS: "4000", RECONCILE_INTERVAL_MS: "20", OPERATION_LEASE_MS: "3000", TARGET_LEASE_WAIT_MS: "10000", METRICS_TOKEN: "metrics-token-for-truth-0123456789" },
  });
  const DAY = 24 * 3_600_000;

  it("the fake keeps keys 24 h: within them a retry replays, after them the same key credits again", async () => {
    const stripe = h.stripe!;
    const post = (key: string) =>
      fetch(`${stripe.url}/v1/customers/cus_demo_013/balance_transactions`, {
        method: "POST",
        headers: { authorization: `Bearer ${stripe.secretKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": key },
        body: "amount=-100&currency=usd",
      });
    const count = () => stripe.balanceTransactions.filter((t) => t.customer === "cus_demo_013").length;
    const before = count();
    expect((await post("retention-key")).status).toBe(200);
    expect((await post("retention-key")).headers.get("idempotent-replayed")).toBe("true");
    expect(count()).toBe(before + 1);
    stripe.ageIdempotencyKeys(DAY);
    expect((await post("retention-key")).headers.get("idempotent-replayed")).toBeNull();
    expect(count()).toBe(before + 2);
  });

  it("a credit answered 500 after Stripe applied it: 202 unknown (not 'nothing changed'); the key replays the 500; the reconciler finds the credit by re-reading and closes it succeeded, once", async () => {
    const stripe = h.stripe!;
    const customer = "cus_demo_010";
    const before = stripe.customers.get(customer)!.balance;
    stripe.failAfterApply(1, 500, creditWrite(customer));
    const call = { target: account("acc_demo_010"), input: { amountCents: 1_700 }, expectedVersion: await versionOf(h.deps, account("acc_demo_010")) };
    const res = await act(h, "support_full", "billing.credit_apply", call, { idempotencyKey: "credit-500" });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.code).toBe("outcome_unknown");
    const operationId = res.body.operationId as string;
    expect(stripe.customers.get(customer)!.balance).toBe(before - 1_700);
    // Steward's own retries sent the same key and got the saved 500 back: still one credit.
    const writes = stripe.requestsTo("POST", creditWrite(customer).path);
    expect(writes.length).toBeGreaterThan(1);
    expect(writes.slice(1).every((w) => w.status === 500 && w.replayed)).toBe(true);
    expect((await auditOf(h.deps, "billing.credit_apply", "acc_demo_010")).map((e) => e.outcome)).toEqual(["pending", "unknown"]);

    await reconcile(h);
    const op = await operation(h, operationId);
    expect(op.status, op.last_error ?? "").toBe("succeeded");
    expect(stripe.balanceTransactions.filter((t) => t.customer === customer)).toHaveLength(1);
    expect(stripe.requestsTo("GET", `/v1/customers/${customer}/balance_transactions`).length).toBeGreaterThan(0);
    const entries = await auditOf(h.deps, "billing.credit_apply", "acc_demo_010");
    expect(entries.map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
    expect(entries.at(-1)).toMatchObject({ after: { balanceCents: before - 1_700, creditedCents: 1_700 } });
    const replay = await act(h, "support_full", "billing.credit_apply", call, { idempotencyKey: "credit-500" });
    expect([replay.status, replay.body.replayed, replay.body.operationId]).toEqual([200, true, operationId]);
  });

  it("a credit refused 500 before anything ran, still open after Stripe's key retention: the reconciler never sends the key again, re-reads, finds nothing and closes it failed; the key is free again", async () => {
    const stripe = h.stripe!;
    const customer = "cus_demo_001";
    const before = stripe.customers.get(customer)!.balance;
    stripe.failNext(3, 500, creditWrite(customer));
    const call = { target: account("acc_demo_001"), input: { amountCents: 900 }, expectedVersion: await versionOf(h.deps, account("acc_demo_001")) };
    const res = await act(h, "support_full", "billing.credit_apply", call, { idempotencyKey: "credit-old" });
    expect([res.status, res.body.code]).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    stripe.clearFaults();
    const sent = stripe.requestsTo("POST", creditWrite(customer).path).length;
    // A day later (the injected clock; Stripe's store ages with it): a retry with the key would credit now.
    h.deps.clock.advance(DAY);
    stripe.ageIdempotencyKeys(DAY);
    await reconcile(h);
    expect(stripe.requestsTo("POST", creditWrite(customer).path)).toHaveLength(sent);
    expect(stripe.customers.get(customer)!.balance).toBe(before);
    const op = await operation(h, operationId);
    expect(op.status).toBe("failed");
    expect(op.last_error).toContain("not applied");
    expect((await auditOf(h.deps, "billing.credit_apply", "acc_demo_001")).map((e) => e.outcome)).toEqual(["pending", "unknown", "failed"]);
    // The agent's key was released: asking again is a fresh attempt that credits once.
    const again = await act(h, "support_full", "billing.credit_apply", { ...call, expectedVersion: await versionOf(h.deps, account("acc_demo_001")) }, { idempotencyKey: "credit-old" });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(stripe.customers.get(customer)!.balance).toBe(before - 900);
  });

  it("an operation no re-read can settle (Stripe shows neither the intended nor the earlier seats), past the horizon: needs_review (audited, in the context and metrics, blocking the account) until operations resolves it", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_007";
    const seats = (await h.deps.database.db.selectFrom("accounts").select("seats_licensed").where("id", "=", accountId).executeTakeFirstOrThrow()).seats_licensed;
    stripe.failNext(3, 502, { method: "POST", path: /^\/v1\/subscription_items\// });
    const call = { target: account(accountId), input: { seats: seats + 1 } };
    const res = await act(h, "operations", "seats.change", call, { idempotencyKey: "seats-review" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    stripe.clearFaults();
    h.deps.clock.advance(DAY);
    // Meanwhile someone changed the seats at Stripe directly: neither the intended nor the earlier quantity shows.
    const sub = [...stripe.subscriptions.values()].find((x) => x.customer === "cus_demo_007")!;
    stripe.subscriptions.set(sub.id, { ...sub, items: { ...sub.items, data: sub.items.data.map((i) => (i.id.includes("_addon") ? i : { ...i, quantity: seats + 5 })) } });
    const sent = stripe.requestsTo("POST", /^\/v1\/subscription_items\//).length;
    const reports = await reconcile(h);
    expect(reports.reduce((n, r) => n + r.needs_review, 0)).toBe(1);
    expect(stripe.requestsTo("POST", /^\/v1\/subscription_items\//)).toHaveLength(sent);
    const op = await operation(h, operationId);
    expect(op.status).toBe("needs_review");
    expect(op.attempts).toBeGreaterThan(0);
    const entries = await auditOf(h.deps, "seats.change", accountId);
    expect(entries.map((e) => e.outcome)).toEqual(["pending", "unknown", "unknown"]);
    expect(entries.at(-1)!.error).toMatch(/^needs_review: /);
    expect((await sealAndVerify(h.deps.database.db)).ok).toBe(true);

    // Visible: the sidebar's context, the metrics, the agent's key; blocking: a new write waits.
    const owner = await h.deps.database.db.selectFrom("users").select("email").where("account_id", "=", accountId).orderBy("id").executeTakeFirstOrThrow();
    const shown = await request(h.app).get("/api/context").query({ email: owner.email }).set("Authorization", `Bearer ${await sessionOf(h, "support_full")}`).set("X-Ticket-Id", "1006");
    expect(shown.body.unresolvedOperations).toEqual([expect.objectContaining({ operationId, status: "needs_review" })]);
    const metrics = await request(h.app).get("/metrics").set("Authorization", "Bearer metrics-token-for-truth-0123456789");
    expect(metrics.text).toMatch(/^steward_operations_needs_review 1$/m);
    const replay = await act(h, "operations", "seats.change", call, { idempotencyKey: "seats-review" });
    expect([replay.status, replay.body.code, replay.body.status]).toEqual([202, "outcome_unknown", "needs_review"]);
    const blocked = await act(h, "operations", "seats.change", { target: account(accountId), input: { seats: seats + 2 } }, { idempotencyKey: "seats-after" });
    expect([blocked.status, blocked.body.code]).toEqual([409, "outcome_pending"]);
    // The reconciler leaves it alone now.
    await reconcileOnce(h.deps, "test-reconciler");
    expect((await operation(h, operationId)).status).toBe("needs_review");

    // Only operations+ resolve, only operations in review, naming the field when the id is wrong.
    const resolve = (role: PanelRole, input: Record<string, unknown>, key: string) => act(h, role, "operation.resolve", { target: account(accountId), input }, { idempotencyKey: key });
    expect((await resolve("support_full", { operationId, resolution: "not_applied" }, "resolve-1")).status).toBe(403);
    const wrong = await resolve("operations", { operationId: "op_nope", resolution: "not_applied" }, "resolve-2");
    expect([wrong.status, wrong.body.errors?.[0]?.field]).toEqual([400, "body.input.operationId"]);
    const done = await resolve("operations", { operationId, resolution: "not_applied" }, "resolve-3");
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(await operation(h, operationId)).toMatchObject({ status: "failed" });
    // The operation's own entries (the refused write above has its own `failed` entry).
    expect((await auditOf(h.deps, "seats.change", accountId)).filter((e) => e.operationId === operationId).map((e) => e.outcome)).toEqual(["pending", "unknown", "unknown", "failed"]);
    // The refusals are audited too: the denial, the wrong id, then the resolution.
    expect((await auditOf(h.deps, "operation.resolve", accountId)).map((e) => e.outcome)).toEqual(["denied", "failed", "succeeded"]);
    const twice = await resolve("operations", { operationId, resolution: "applied" }, "resolve-4");
    expect([twice.status, twice.body.code]).toEqual([409, "operation_not_in_review"]);
    // The account takes writes again, and the freed key starts afresh.
    const after = await act(h, "operations", "seats.change", call, { idempotencyKey: "seats-review" });
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect((await sealAndVerify(h.deps.database.db)).ok).toBe(true);
  });
  it("an operation whose command has no re-read, past the horizon: handed to a person at once, the call not repeated (not left unknown for ever)", async () => {
    // A password reset has no `verify`: once its key may be gone, nothing can tell whether the lost call landed.
    const { db } = h.deps.database;
    const user = await userRow(h.deps, "usr_demo_005_1");
    const operationId = newOperationId();
    const createdAt = new Date(h.deps.clock.now().getTime() - 2 * DAY);
    const actor: Actor = { kind: "staff", staffId: DEMO_AGENTS[1].id, zendeskUserId: DEMO_AGENTS[1].zendeskUserId, email: DEMO_AGENTS[1].email, name: DEMO_AGENTS[1].name, panelRole: DEMO_AGENTS[1].role };
    await db.transaction().execute(async (trx) => {
      await appendAudit(trx, { actor, action: "user.password_reset", target: { type: "user", id: user.id, accountId: user.account_id }, ticketId: "1006", reason: "locked out", outcome: "pending", operationId }, new ManualClock(createdAt));
      await insertOperation(trx, { operationId, action: "user.password_reset", targetType: "user", targetId: user.id, accountId: user.account_id, keyOwner: actor.staffId, idempotencyKey: null, providerKey: `steward:${operationId}`, request: { actor, ticketId: "1006", reason: "locked out", requestId: null, input: {}, now: createdAt.toISOString() }, providerBefore: undefined, leaseMs: 0, createdAt });
    });
    await db.updateTable("provider_operations").set({ lease_expires_at: new Date(0), next_attempt_at: new Date(0) }).where("operation_id", "=", operationId).execute();
    const sent = h.auth0!.requests.length;
    try {
      expect(await finishOperation(h.deps, await loadOperation(db, operationId))).toBe("needs_review");
      expect(await operation(h, operationId)).toMatchObject({ status: "needs_review", last_error: expect.stringContaining("user.password_reset has no re-read") });
      expect((await operation(h, operationId)).last_error).toContain("Last error: no re-read can tell whether it was applied");
      expect(h.auth0!.requests).toHaveLength(sent);
      expect((await auditOf(h.deps, "user.password_reset", user.id)).filter((e) => e.operationId === operationId).map((e) => e.outcome)).toEqual(["pending", "unknown"]);
    } finally {
      await db.updateTable("provider_operations").set({ status: "failed", closed_at: createdAt }).where("operation_id", "=", operationId).execute();
    }
  });
});
