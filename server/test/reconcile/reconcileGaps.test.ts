import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import type { ActionName } from "../../../shared/actions.js";
import type { Actor } from "../../src/actor.js";
import { appendAudit } from "../../src/audit/auditLog.js";
import { newOperationId } from "../../src/audit/operations.js";
import { ManualClock } from "../../src/clock.js";
import { createStripeBilling } from "../../src/providers/index.js";
import { stripeIdempotencyKey } from "../../src/providers/stripe/stripeClient.js";
import { backoffMs, finishOperation } from "../../src/reconcile/finishOperation.js";
import { insertOperation, loadOperation } from "../../src/reconcile/providerOperations.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { databaseKinds } from "../support/databases.js";
import { testConfig } from "../support/testConfig.js";
import { auditOf, useHarness, type Harness } from "../actions/harness.js";

/**
 * The reconciler's less travelled paths (docs/mutation/survivors-auth-reconcile.md, gaps 2-7), each
 * through finishOperation with the real command, the real Stripe and Auth0 SDKs against the fakes, and
 * an operation left as runCommand leaves it when its answer was lost: the intent and an open record
 * nobody holds, with the request's billing reading where runCommand stores one.
 */
const DAY = 24 * 3_600_000;
const ops = DEMO_AGENTS[2];
const opsActor: Actor = { kind: "staff", staffId: ops.id, zendeskUserId: ops.zendeskUserId, email: ops.email, name: ops.name, panelRole: ops.role };
const creditPath = (customer: string) => `/v1/customers/${customer}/balance_transactions`;
const userPath = (idpId: string) => `/api/v2/users/${encodeURIComponent(idpId)}`;

interface Lost {
  action: ActionName;
  target: { type: "user" | "account"; id: string; accountId: string };
  input: Record<string, unknown>;
  /** The request's billing reading (runCommand stores one for billing commands), or none. */
  billing?: boolean;
  createdAt?: Date;
}

/** The intent and an open operation whose request died during the provider call, due now. */
async function lostOperation(h: Harness, lost: Lost): Promise<string> {
  const { db } = h.deps.database;
  const operationId = newOperationId();
  const createdAt = lost.createdAt ?? h.deps.clock.now();
  let providerBefore: unknown;
  if (lost.billing) {
    const billingCustomerId = (await db.selectFrom("accounts").select("billing_customer_id").where("id", "=", lost.target.accountId).executeTakeFirstOrThrow()).billing_customer_id;
    providerBefore = { billing: await h.deps.billing.getBilling({ id: lost.target.accountId, billingCustomerId }) };
  }
  await db.transaction().execute(async (trx) => {
    await appendAudit(trx, { actor: opsActor, action: lost.action, target: lost.target, ticketId: "1006", reason: "lost answer", outcome: "pending", operationId }, new ManualClock(createdAt));
    await insertOperation(trx, {
      operationId,
      action: lost.action,
      targetType: lost.target.type,
      targetId: lost.target.id,
      accountId: lost.target.accountId,
      keyOwner: ops.id,
      idempotencyKey: null,
      providerKey: `steward:${operationId}`,
      request: { actor: opsActor, ticketId: "1006", reason: "lost answer", requestId: null, input: lost.input, now: createdAt.toISOString() },
      providerBefore,
      leaseMs: 0,
      createdAt,
    });
  });
  await dueNow(h, operationId);
  return operationId;
}

async function dueNow(h: Harness, operationId: string): Promise<void> {
  await h.deps.database.db.updateTable("provider_operations").set({ lease_expires_at: new Date(0), next_attempt_at: new Date(0) }).where("operation_id", "=", operationId).execute();
}

async function finish(h: Harness, operationId: string) {
  return finishOperation(h.deps, await loadOperation(h.deps.database.db, operationId));
}

const outcomesOf = async (h: Harness, action: string, targetId: string, operationId: string) => (await auditOf(h.deps, action, targetId)).filter((e) => e.operationId === operationId).map((e) => e.outcome);

async function customerOf(h: Harness, accountId: string): Promise<string> {
  return (await h.deps.database.db.selectFrom("accounts").select("billing_customer_id").where("id", "=", accountId).executeTakeFirstOrThrow()).billing_customer_id as string;
}

/** Active, unblocked users of an account that Auth0 knows, in id order. */
async function signInUsers(h: Harness, accountId: string) {
  return h.deps.database.db.selectFrom("users").selectAll().where("account_id", "=", accountId).where("status", "=", "active").where("blocked", "=", false).where("idp_id", "is not", null).orderBy("id").execute();
}

describe.each(databaseKinds)("reconciler paths: answered retries, partly applied, failed recording, no re-read, several ports (%s)", { timeout: 60_000 }, (kind) => {
  const h = useHarness(kind, {
    auth0: true,
    stripe: true,
    env: { PROVIDER_TIMEOUT_MS: "4000", RECONCILE_INTERVAL_MS: "20", OPERATION_LEASE_MS: "3000", TARGET_LEASE_WAIT_MS: "10000" },
  });

  it("a retry Stripe answers 500 under the key while the credit shows not applied: closed failed at once (the answer is final), nothing credited", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_003";
    const customer = await customerOf(h, accountId);
    const balance = stripe.customers.get(customer)!.balance;
    const operationId = await lostOperation(h, { action: "billing.credit_apply", target: { type: "account", id: accountId, accountId }, input: { amountCents: 700 }, billing: true });
    // Every attempt of the retry is answered 500 before the endpoint runs.
    stripe.failNext(10, 500, { method: "POST", path: creditPath(customer) });
    try {
      expect(await finish(h, operationId)).toBe("failed");
    } finally {
      stripe.clearFaults();
    }
    const op = await loadOperation(h.deps.database.db, operationId);
    expect(op.status).toBe("failed");
    expect(op.last_error).toMatch(/^the provider shows it was not applied \(re-read by the reconciler; the retry was answered: .+\)$/);
    expect(stripe.customers.get(customer)!.balance).toBe(balance);
    expect(stripe.requestsTo("GET", creditPath(customer)).length).toBeGreaterThan(0);
    expect(await outcomesOf(h, "billing.credit_apply", accountId, operationId)).toEqual(["pending", "failed"]);
  });

  it("a retry refused because the key is still in use at Stripe, the credit not there yet: waits (unknown, backed off); the next pass gets the first request's credit under the key, once", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_004";
    const customer = await customerOf(h, accountId);
    const balance = stripe.customers.get(customer)!.balance;
    const operationId = await lostOperation(h, { action: "billing.credit_apply", target: { type: "account", id: accountId, accountId }, input: { amountCents: 800 }, billing: true });
    // The lost request itself, still running at Stripe (held before it applies) with the operation's key.
    stripe.delayNext(60_000, 1, { method: "POST", path: creditPath(customer) });
    const marker = stripeIdempotencyKey(`steward:${operationId}`);
    const letGo = new AbortController();
    const held = fetch(`${stripe.url}${creditPath(customer)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${stripe.secretKey}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": marker },
      body: new URLSearchParams({ amount: "-800", currency: stripe.customers.get(customer)!.currency ?? "usd", description: "Support credit (ticket 1006)", "metadata[steward_key]": marker }).toString(),
      signal: letGo.signal,
    }).catch(() => null);
    while (!stripe.arrivals.some((a) => a.method === "POST" && a.path === creditPath(customer))) await new Promise((r) => setTimeout(r, 5));
    try {
      const started = Date.now();
      expect(await finish(h, operationId)).toBe("unknown");
      const op = await loadOperation(h.deps.database.db, operationId);
      expect(op.status).toBe("unknown");
      expect(op.last_error).toContain("still in progress");
      expect(new Date(op.next_attempt_at).getTime()).toBeGreaterThanOrEqual(started + backoffMs(1));
      expect(stripe.requestsTo("POST", creditPath(customer)).filter((r) => r.status === 409).length).toBeGreaterThan(0);
      expect(stripe.customers.get(customer)!.balance).toBe(balance);
      expect(await outcomesOf(h, "billing.credit_apply", accountId, operationId)).toEqual(["pending"]);
    } finally {
      // The held request finishes (the fake applies it once its client gives up).
      letGo.abort();
      await held;
      await stripe.idle();
    }
    expect(stripe.customers.get(customer)!.balance).toBe(balance - 800);
    await dueNow(h, operationId);
    expect(await finish(h, operationId)).toBe("succeeded");
    expect(stripe.balanceTransactions.filter((t) => t.customer === customer)).toHaveLength(1);
    expect(await outcomesOf(h, "billing.credit_apply", accountId, operationId)).toEqual(["pending", "succeeded"]);
  });
  it("a retry whose every attempt times out (Stripe never answered) while the credit shows not applied: waits, since the request may still land; not closed failed", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_012";
    const customer = await customerOf(h, accountId);
    const balance = stripe.customers.get(customer)!.balance;
    const operationId = await lostOperation(h, { action: "billing.credit_apply", target: { type: "account", id: accountId, accountId }, input: { amountCents: 650 }, billing: true });
    // The same Stripe SDK and adapter, with a short timeout so the test need not wait 4 s an attempt.
    const billing = createStripeBilling({ config: testConfig({ ...stripe.env(), PROVIDER_TIMEOUT_MS: "300" }), policy: { baseDelayMs: 5, maxDelayMs: 20 } });
    // Each attempt is held past the client's timeout; once it gives up, Stripe refuses it without running it.
    stripe.delayNext(5_000, 10, { method: "POST", path: creditPath(customer) });
    stripe.failNext(10, 500, { method: "POST", path: creditPath(customer) });
    try {
      expect(await finishOperation({ ...h.deps, billing }, await loadOperation(h.deps.database.db, operationId))).toBe("unknown");
      await stripe.idle();
    } finally {
      stripe.clearFaults();
    }
    const op = await loadOperation(h.deps.database.db, operationId);
    expect(op.status).toBe("unknown");
    expect(stripe.requestsTo("POST", creditPath(customer)).length).toBeGreaterThan(0);
    expect(stripe.customers.get(customer)!.balance).toBe(balance);
    expect(await outcomesOf(h, "billing.credit_apply", accountId, operationId)).toEqual(["pending"]);
    // Stripe answering again, the next pass credits it once.
    await dueNow(h, operationId);
    expect(await finish(h, operationId)).toBe("succeeded");
    expect(stripe.customers.get(customer)!.balance).toBe(balance - 650);
  });

  it("a password reset (no re-read) whose retry Auth0 refuses for good: closed failed with the refusal (nothing to re-read)", async () => {
    const auth0 = h.auth0!;
    const target = (await signInUsers(h, "acc_demo_013"))[0]!;
    const operationId = await lostOperation(h, { action: "user.password_reset", target: { type: "user", id: target.id, accountId: target.account_id }, input: {} });
    auth0.failNext(1, 400, { method: "POST", path: "/api/v2/tickets/password-change" });
    try {
      expect(await finish(h, operationId)).toBe("failed");
    } finally {
      auth0.clearFaults();
    }
    expect((await loadOperation(h.deps.database.db, operationId)).last_error).toMatch(/^[a-z_]+: .+ \(settled by the reconciler\)$/);
    expect(await outcomesOf(h, "user.password_reset", target.id, operationId)).toEqual(["pending", "failed"]);
  });

  it("an account suspension Auth0 shows in part whose retry stays unknown: waits with the retry's error, backed off, nothing recorded; the next pass completes it", async () => {
    const auth0 = h.auth0!;
    const accountId = "acc_demo_006";
    const users = await signInUsers(h, accountId);
    expect(users.length).toBeGreaterThanOrEqual(3);
    // The lost request blocked the first user only.
    const first = users[0]!.idp_id as string;
    auth0.users.set(first, { ...auth0.users.get(first), blocked: true });
    const operationId = await lostOperation(h, { action: "account.suspend", target: { type: "account", id: accountId, accountId }, input: {} });
    auth0.failNext(10, 500, { method: "PATCH", path: userPath(users[1]!.idp_id as string) });
    const started = Date.now();
    try {
      expect(await finish(h, operationId)).toBe("unknown");
    } finally {
      auth0.clearFaults();
    }
    const op = await loadOperation(h.deps.database.db, operationId);
    expect(op.status).toBe("unknown");
    // The retry's own failure, naming the user it stopped at.
    expect(op.last_error).toContain(users[1]!.id);
    expect(new Date(op.next_attempt_at).getTime()).toBeGreaterThanOrEqual(started + backoffMs(1));
    expect(auth0.users.get(users[1]!.idp_id as string)?.blocked).not.toBe(true);
    expect((await h.deps.database.db.selectFrom("accounts").select("status").where("id", "=", accountId).executeTakeFirstOrThrow()).status).toBe("active");
    expect(await outcomesOf(h, "account.suspend", accountId, operationId)).toEqual(["pending"]);

    await dueNow(h, operationId);
    expect(await finish(h, operationId)).toBe("succeeded");
    for (const u of users) expect(auth0.users.get(u.idp_id as string)?.blocked).toBe(true);
    expect(await outcomesOf(h, "account.suspend", accountId, operationId)).toEqual(["pending", "succeeded"]);
  });

  it("an account suspension Auth0 shows in part, past the key horizon: handed to a person, no write repeated", async () => {
    const auth0 = h.auth0!;
    const accountId = "acc_demo_008";
    const users = await signInUsers(h, accountId);
    expect(users.length).toBeGreaterThanOrEqual(2);
    const first = users[0]!.idp_id as string;
    auth0.users.set(first, { ...auth0.users.get(first), blocked: true });
    const operationId = await lostOperation(h, { action: "account.suspend", target: { type: "account", id: accountId, accountId }, input: {}, createdAt: new Date(h.deps.clock.now().getTime() - 2 * DAY) });
    const writes = auth0.requests.filter((r) => r.method === "PATCH").length;
    try {
      expect(await finish(h, operationId)).toBe("needs_review");
      const op = await loadOperation(h.deps.database.db, operationId);
      expect(op.status).toBe("needs_review");
      expect(op.last_error).toBe("past the horizon after 1 attempts, and the re-read shows it only partly applied: check the provider, then resolve it (operation.resolve). Last error: none");
      expect(auth0.requests.filter((r) => r.method === "PATCH")).toHaveLength(writes);
      expect(users.slice(1).map((u) => auth0.users.get(u.idp_id as string)?.blocked === true)).toEqual(users.slice(1).map(() => false));
      const entries = (await auditOf(h.deps, "account.suspend", accountId)).filter((e) => e.operationId === operationId);
      expect(entries.map((e) => [e.outcome, e.error])).toEqual([
        ["pending", null],
        ["unknown", `needs_review: ${op.last_error}`],
      ]);
    } finally {
      await h.deps.database.db.updateTable("provider_operations").set({ status: "failed", closed_at: h.deps.clock.now() }).where("operation_id", "=", operationId).execute();
    }
  });

  it("an account suspension (identity and directory) Auth0 shows not applied: Auth0 is re-read first and nothing is written; unknown while the lost request may land, then failed", async () => {
    const auth0 = h.auth0!;
    const accountId = "acc_demo_001";
    const users = await signInUsers(h, accountId);
    expect(users.length).toBeGreaterThanOrEqual(1);
    const operationId = await lostOperation(h, { action: "account.suspend", target: { type: "account", id: accountId, accountId }, input: {} });
    const writes = auth0.requests.filter((r) => r.method === "PATCH").length;
    expect(await finish(h, operationId)).toBe("unknown");
    expect((await loadOperation(h.deps.database.db, operationId)).last_error).toBe("the provider shows it not applied yet; the lost request may still be in flight");
    // Once the lost request can no longer land, "not applied" is final.
    await h.deps.database.db.updateTable("provider_operations").set({ created_at: new Date(h.deps.clock.now().getTime() - 120_000) }).where("operation_id", "=", operationId).execute();
    await dueNow(h, operationId);
    expect(await finish(h, operationId)).toBe("failed");
    expect((await loadOperation(h.deps.database.db, operationId)).last_error).toBe("the provider shows it was not applied (re-read by the reconciler)");
    expect(auth0.requests.filter((r) => r.method === "PATCH")).toHaveLength(writes);
    for (const u of users) expect(auth0.users.get(u.idp_id as string)?.blocked).not.toBe(true);
    expect(await outcomesOf(h, "account.suspend", accountId, operationId)).toEqual(["pending", "failed"]);
  });

  it("a seat change (billing and directory) stored without the request's billing reading: handed to a person, Stripe not called", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_005";
    const seats = (await h.deps.database.db.selectFrom("accounts").select("seats_licensed").where("id", "=", accountId).executeTakeFirstOrThrow()).seats_licensed;
    const operationId = await lostOperation(h, { action: "seats.change", target: { type: "account", id: accountId, accountId }, input: { seats: seats + 1 } });
    const sent = stripe.requests.length;
    try {
      expect(await finish(h, operationId)).toBe("needs_review");
      expect(await loadOperation(h.deps.database.db, operationId)).toMatchObject({ status: "needs_review", last_error: expect.stringContaining("billing reading was not stored") });
      expect(stripe.requests).toHaveLength(sent);
    } finally {
      await h.deps.database.db.updateTable("provider_operations").set({ status: "failed", closed_at: h.deps.clock.now() }).where("operation_id", "=", operationId).execute();
    }
  });

  it("the credit applied on the retry but its recording fails: left unknown with the reason and a backoff, nothing recorded; the next pass replays the key and records it, one credit", async () => {
    const stripe = h.stripe!;
    const { db } = h.deps.database;
    const accountId = "acc_demo_009";
    const customer = await customerOf(h, accountId);
    const balance = stripe.customers.get(customer)!.balance;
    const operationId = await lostOperation(h, { action: "billing.credit_apply", target: { type: "account", id: accountId, accountId }, input: { amountCents: 450 }, billing: true });
    // The recording transaction closes the operation; for this one operation that update fails.
    await sql
      .raw(`create or replace function test_fail_recording() returns trigger language plpgsql as $$ begin if new.operation_id = '${operationId}' and new.status = 'succeeded' then raise exception 'injected recording failure'; end if; return new; end $$`)
      .execute(db);
    await sql.raw("create trigger test_fail_recording before update on provider_operations for each row execute function test_fail_recording()").execute(db);
    const started = Date.now();
    try {
      expect(await finish(h, operationId)).toBe("unknown");
    } finally {
      await sql.raw("drop trigger if exists test_fail_recording on provider_operations").execute(db);
    }
    const op = await loadOperation(db, operationId);
    expect(op.status).toBe("unknown");
    // The database's own message stays in the logs, under the operation id the record names (a reconcile has no request id).
    expect(op.last_error).toBe(`the provider call succeeded, recording it failed (internal error, logged with operation id ${operationId})`);
    // The first attempt's backoff, as for any unknown answer (the row was listed with no attempts yet).
    expect(new Date(op.next_attempt_at).getTime()).toBeGreaterThanOrEqual(started + backoffMs(1));
    expect(new Date(op.next_attempt_at).getTime()).toBeLessThanOrEqual(Date.now() + backoffMs(1));
    expect(stripe.customers.get(customer)!.balance).toBe(balance - 450);
    expect(await outcomesOf(h, "billing.credit_apply", accountId, operationId)).toEqual(["pending"]);
    expect(await db.selectFrom("activity_events").select("id").where("account_id", "=", accountId).where("type", "=", "credit_applied").execute()).toEqual([]);

    await dueNow(h, operationId);
    expect(await finish(h, operationId)).toBe("succeeded");
    expect(stripe.balanceTransactions.filter((t) => t.customer === customer)).toHaveLength(1);
    expect(stripe.requestsTo("POST", creditPath(customer)).at(-1)?.replayed).toBe(true);
    expect(await outcomesOf(h, "billing.credit_apply", accountId, operationId)).toEqual(["pending", "succeeded"]);
  });

  it("a password reset (no re-read) within the horizon whose retry stays unknown: waits with the retry's error, no mail; the next pass issues the link once", async () => {
    const auth0 = h.auth0!;
    const target = (await signInUsers(h, "acc_demo_007"))[0]!;
    const operationId = await lostOperation(h, { action: "user.password_reset", target: { type: "user", id: target.id, accountId: target.account_id }, input: {} });
    const mails = () => h.deps.database.db.selectFrom("mail_outbox").select("kind").where("operation_id", "=", operationId).execute();
    auth0.failNext(10, 500, { method: "POST", path: "/api/v2/tickets/password-change" });
    const started = Date.now();
    try {
      expect(await finish(h, operationId)).toBe("unknown");
    } finally {
      auth0.clearFaults();
    }
    const op = await loadOperation(h.deps.database.db, operationId);
    expect(op.status).toBe("unknown");
    expect(op.last_error).not.toBe("no re-read can tell whether it was applied");
    expect(op.last_error).toMatch(/500|password/i);
    expect(new Date(op.next_attempt_at).getTime()).toBeGreaterThanOrEqual(started + backoffMs(1));
    expect(await mails()).toEqual([]);
    expect(await outcomesOf(h, "user.password_reset", target.id, operationId)).toEqual(["pending"]);

    await dueNow(h, operationId);
    expect(await finish(h, operationId)).toBe("succeeded");
    expect((await mails()).map((m) => m.kind)).toEqual(["password_reset"]);
  });

  it("a credit past the key horizon whose re-read fails for now (Stripe 503): retried later, not handed to a person, and no write; once Stripe reads again it closes failed", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_010";
    const customer = await customerOf(h, accountId);
    const balance = stripe.customers.get(customer)!.balance;
    const operationId = await lostOperation(h, { action: "billing.credit_apply", target: { type: "account", id: accountId, accountId }, input: { amountCents: 300 }, billing: true, createdAt: new Date(h.deps.clock.now().getTime() - 2 * DAY) });
    stripe.failNext(10, 503, { method: "GET", path: creditPath(customer) });
    const started = Date.now();
    try {
      expect(await finish(h, operationId)).toBe("unknown");
    } finally {
      stripe.clearFaults();
    }
    const op = await loadOperation(h.deps.database.db, operationId);
    expect(op.status).toBe("unknown");
    expect(op.last_error).toMatch(/^re-read failed: /);
    expect(new Date(op.next_attempt_at).getTime()).toBeGreaterThanOrEqual(started + backoffMs(1));
    expect(stripe.requestsTo("POST", creditPath(customer))).toHaveLength(0);
    expect(await outcomesOf(h, "billing.credit_apply", accountId, operationId)).toEqual(["pending"]);

    await dueNow(h, operationId);
    expect(await finish(h, operationId)).toBe("failed");
    expect((await loadOperation(h.deps.database.db, operationId)).last_error).toBe("the provider shows it was not applied (re-read by the reconciler)");
    expect(stripe.customers.get(customer)!.balance).toBe(balance);
  });

  it("an operation whose action makes no provider call (none to repeat): closed failed, saying so", async () => {
    const accountId = "acc_demo_011";
    const operationId = await lostOperation(h, { action: "operation.resolve", target: { type: "account", id: accountId, accountId }, input: {} });
    expect(await finish(h, operationId)).toBe("failed");
    expect(await loadOperation(h.deps.database.db, operationId)).toMatchObject({ status: "failed", last_error: "reconcile: no command operation.resolve with a provider call" });
    expect(await outcomesOf(h, "operation.resolve", accountId, operationId)).toEqual(["pending", "failed"]);
  });

  it("an operation whose action a later release removed: closed failed, saying so", async () => {
    const accountId = "acc_demo_011";
    const removed = "billing.refund_legacy" as ActionName;
    const operationId = await lostOperation(h, { action: removed, target: { type: "account", id: accountId, accountId }, input: {} });
    expect(await finish(h, operationId)).toBe("failed");
    expect(await loadOperation(h.deps.database.db, operationId)).toMatchObject({ status: "failed", last_error: "reconcile: no command billing.refund_legacy with a provider call" });
    expect(await outcomesOf(h, removed, accountId, operationId)).toEqual(["pending", "failed"]);
  });
});
