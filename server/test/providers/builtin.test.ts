import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BillingSummary, IdentitySummary } from "../../../shared/schemas/context.js";
import type { Transaction } from "kysely";
import type { DatabaseKind } from "../../src/db/database.js";
import type { DB } from "../../src/db/schema.js";
import { BuiltinBilling } from "../../src/providers/builtin/builtinBilling.js";
import { BuiltinIdentity } from "../../src/providers/builtin/builtinIdentity.js";
import { ProviderError } from "../../src/providers/providerError.js";
import { createTestDeps, databaseKinds } from "../support/databases.js";

type Deps = Awaited<ReturnType<typeof createTestDeps>>;
const DAY = 86_400_000;

async function failure(work: Promise<unknown>): Promise<ProviderError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

/** Runs `work` in a transaction that is then rolled back. */
async function rolledBack(deps: Deps, work: (trx: Transaction<DB>) => Promise<unknown>): Promise<void> {
  const rollback = new Error("roll back");
  await deps.database.db
    .transaction()
    .execute(async (trx) => {
      await work(trx);
      throw rollback;
    })
    .catch((err: unknown) => {
      if (err !== rollback) throw err;
    });
}

describe.each(databaseKinds)("built-in providers on %s", (kind: DatabaseKind) => {
  let deps: Deps;
  const user = (id: string) => ({ id, idpId: null, email: "" });
  const account = (n: string) => ({ id: `acc_demo_${n}`, billingCustomerId: `cus_demo_${n}` });

  // Seeding PGlite (WASM) on a shared 2-core machine can take longer than the default hook timeout.
  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: true });
  }, 180_000);
  afterAll(() => deps.database.close());

  it("createTestDeps builds the built-in adapters from the default config", () => {
    expect(deps.identity).toBeInstanceOf(BuiltinIdentity);
    expect(deps.billing).toBeInstanceOf(BuiltinBilling);
    expect([deps.identity.name, deps.billing.name]).toEqual(["builtin", "builtin"]);
  });

  describe("identity", () => {
    it("a locked user: lock until, failed attempts, recent failures, sessions", async () => {
      const summary = IdentitySummary.parse(await deps.identity.getIdentity(user("usr_demo_001_3")));
      expect(summary).toMatchObject({ providerUserId: "usr_demo_001_3", blocked: false, locked: true, failedLoginCount: 7, activeSessions: 1 });
      expect(Date.parse(summary.lockedUntil ?? "")).toBeGreaterThan(deps.clock.now().getTime());
      expect(summary.recentAuthEvents.slice(0, 3).map((e) => e.type)).toEqual(["login_failed", "login_failed", "login_failed"]);
      expect(summary.recentAuthEvents.some((e) => e.type === "settings_changed")).toBe(false);
    });

    it("the lock lapses on its own once locked_until passes", async () => {
      deps.clock.advance(2 * 3_600_000);
      try {
        expect(await deps.identity.getIdentity(user("usr_demo_001_3"))).toMatchObject({ locked: false, lockedUntil: null, failedLoginCount: 7 });
      } finally {
        deps.clock.advance(-2 * 3_600_000);
      }
    });

    it("an admin-blocked user, and a user without MFA", async () => {
      expect(await deps.identity.getIdentity(user("usr_demo_009_2"))).toMatchObject({ blocked: true, locked: false });
      expect(await deps.identity.getIdentity(user("usr_demo_008_3"))).toMatchObject({ mfaEnrolled: false, mfaMethods: [] });
      expect(await deps.identity.getIdentity(user("usr_demo_shared_1"))).toMatchObject({ mfaEnrolled: true, mfaMethods: ["totp"] });
    });

    it("an unknown user is ProviderError not_found", async () => {
      expect(await failure(deps.identity.getIdentity(user("usr_nobody")))).toMatchObject({ provider: "builtin", code: "not_found" });
      expect(await failure(deps.identity.clearLockout(user("usr_nobody"), { idempotencyKey: "k" }))).toMatchObject({ code: "not_found" });
    });

    it("writes commit or roll back with the caller's transaction", async () => {
      // A locked user of its own: the read tests above look at usr_demo_001_3 and must find it still locked.
      await rolledBack(deps, async (trx) => {
        await deps.identity.clearLockout(user("usr_demo_014_2"), { idempotencyKey: "op-1", executor: trx });
        const inside = await trx.selectFrom("users").select(["failed_login_count", "locked_until"]).where("id", "=", "usr_demo_014_2").executeTakeFirstOrThrow();
        expect(inside).toEqual({ failed_login_count: 0, locked_until: null });
      });
      expect(await deps.identity.getIdentity(user("usr_demo_014_2"))).toMatchObject({ locked: true, failedLoginCount: 7 });

      const before = await deps.database.db.selectFrom("users").select(["version"]).where("id", "=", "usr_demo_014_2").executeTakeFirstOrThrow();
      await deps.database.db.transaction().execute((trx) => deps.identity.clearLockout(user("usr_demo_014_2"), { idempotencyKey: "op-2", executor: trx }));
      expect(await deps.identity.getIdentity(user("usr_demo_014_2"))).toMatchObject({ locked: false, lockedUntil: null, failedLoginCount: 0 });
      const after = await deps.database.db.selectFrom("users").select(["version", "updated_at"]).where("id", "=", "usr_demo_014_2").executeTakeFirstOrThrow();
      expect(after.version).toBe(before.version + 1);
      expect(after.updated_at.getTime()).toBe(deps.clock.now().getTime());
    });

    it("resetMfa, setBlocked and revokeSessions change the user's rows", async () => {
      const ctx = { idempotencyKey: "op-3" };
      // Users no other test reads: the read tests expect usr_demo_shared_1 enrolled and usr_demo_009_2 blocked.
      expect(await deps.identity.getIdentity(user("usr_demo_012_1"))).toMatchObject({ mfaEnrolled: true, mfaMethods: ["totp"] });
      await deps.identity.resetMfa(user("usr_demo_012_1"), ctx);
      expect(await deps.identity.getIdentity(user("usr_demo_012_1"))).toMatchObject({ mfaEnrolled: false, mfaMethods: [] });

      expect((await deps.identity.getIdentity(user("usr_demo_012_2"))).blocked).toBe(false);
      await deps.identity.setBlocked(user("usr_demo_012_2"), true, ctx);
      expect((await deps.identity.getIdentity(user("usr_demo_012_2"))).blocked).toBe(true);
      await deps.identity.setBlocked(user("usr_demo_012_2"), false, ctx);
      expect((await deps.identity.getIdentity(user("usr_demo_012_2"))).blocked).toBe(false);

      await deps.database.db.insertInto("user_sessions").values({ id: "ses_extra_1", user_id: "usr_demo_002_1", ip: "192.0.2.1", user_agent: "test" }).execute();
      expect((await deps.identity.getIdentity(user("usr_demo_002_1"))).activeSessions).toBe(2);
      expect(await deps.identity.revokeSessions(user("usr_demo_002_1"), ctx)).toEqual({ revoked: 2 });
      expect((await deps.identity.getIdentity(user("usr_demo_002_1"))).activeSessions).toBe(0);
      expect(await deps.identity.revokeSessions(user("usr_demo_002_1"), ctx)).toEqual({ revoked: 0 });
      const revokedAt = await deps.database.db.selectFrom("user_sessions").select("revoked_at").where("id", "=", "ses_extra_1").executeTakeFirstOrThrow();
      expect(revokedAt.revoked_at?.getTime()).toBe(deps.clock.now().getTime());
    });

    it("sendPasswordReset asks the caller to mail the reset and records the request as an auth event", async () => {
      expect(await deps.identity.sendPasswordReset(user("usr_demo_004_1"), { idempotencyKey: "op-4" })).toEqual({ method: "email" });
      const events = (await deps.identity.getIdentity(user("usr_demo_004_1"))).recentAuthEvents;
      expect(events[0]).toMatchObject({ type: "password_reset_requested", at: deps.clock.now().toISOString(), detail: "requested by support" });
    });
  });

  describe("billing", () => {
    it("an active customer: plan, seats, MRR, next invoice, recent invoices", async () => {
      const summary = BillingSummary.parse(await deps.billing.getBilling(account("001")));
      expect(summary).toMatchObject({ customerId: "cus_demo_001", subscriptionId: "sub_demo_001", plan: "business", interval: "month", status: "active", seats: 25, mrrCents: 4_900 * 25, dunning: null });
      expect(summary.nextInvoice).toEqual({ amountCents: 4_900 * 25, date: summary.currentPeriodEnd });
      expect(summary.recentInvoices.map((i) => i.id)).toEqual(["in_demo_001_1", "in_demo_001_2", "in_demo_001_3"]);
    });

    it("past_due with failed attempts shows dunning", async () => {
      const summary = await deps.billing.getBilling(account("003"));
      expect(summary).toMatchObject({ status: "past_due", dunning: { failedAttempts: 3, amountDueCents: 4_900 * 15 } });
      expect(Date.parse(summary?.dunning?.nextRetryAt ?? "")).toBe(deps.clock.now().getTime() + 2 * DAY);
      expect(summary?.recentInvoices[0]).toMatchObject({ id: "in_demo_003_open", status: "open", attemptCount: 3 });
    });

    it("a trial, a yearly plan, a credit balance, and an account without a customer", async () => {
      expect(await deps.billing.getBilling(account("002"))).toMatchObject({ status: "trialing", mrrCents: 0, interval: "year" });
      const credited = await deps.billing.getBilling(account("003"));
      expect(credited?.balanceCents).toBe(-2_500);
      expect(credited?.nextInvoice?.amountCents).toBe(4_900 * 15 - 2_500);
      expect(await deps.billing.getBilling({ id: "acc_nobody", billingCustomerId: null })).toBeNull();
      expect(await failure(deps.billing.getBilling({ id: "acc_nobody", billingCustomerId: "cus_nobody" })).then((e) => e.code)).toBe("not_found");
    });

    it("changeSeats and changePlan write through the caller's transaction", async () => {
      // An account of its own (business, 20 seats, monthly): the read tests expect acc_demo_001 unchanged.
      await rolledBack(deps, (trx) => deps.billing.changeSeats(account("012"), 30, { idempotencyKey: "op-b1", executor: trx }));
      expect((await deps.billing.getBilling(account("012")))?.seats).toBe(20);
      const seats = await deps.billing.changeSeats(account("012"), 30, { idempotencyKey: "op-b2" });
      expect(seats).toMatchObject({ seats: 30, mrrCents: 4_900 * 30 });
      const plan = await deps.billing.changePlan(account("012"), "enterprise", { idempotencyKey: "op-b3" });
      expect(plan).toMatchObject({ plan: "enterprise", mrrCents: 8_900 * 30 });
      expect(await failure(deps.billing.changePlan(account("012"), "platinum", { idempotencyKey: "op-b4" }))).toMatchObject({ code: "rejected" });
    });

    it("extendTrial moves the trial end of a trial only", async () => {
      const trialEnd = new Date(deps.clock.now().getTime() + 30 * DAY);
      expect(await deps.billing.extendTrial(account("002"), trialEnd, { idempotencyKey: "op-b5" })).toMatchObject({ trialEnd: trialEnd.toISOString(), nextInvoice: { date: trialEnd.toISOString() } });
      expect(await failure(deps.billing.extendTrial(account("001"), trialEnd, { idempotencyKey: "op-b6" }))).toMatchObject({ code: "rejected" });
    });

    it("applyCredit lowers the balance once per idempotency key", async () => {
      const before = (await deps.billing.getBilling(account("004")))?.balanceCents ?? NaN;
      expect(await deps.billing.applyCredit(account("004"), 1_200, "Outage credit", { idempotencyKey: "op-credit-a" })).toEqual({ balanceCents: before - 1_200 });
      expect(await deps.billing.applyCredit(account("004"), 1_200, "Outage credit", { idempotencyKey: "op-credit-a" })).toEqual({ balanceCents: before - 1_200 });
      expect(await deps.billing.applyCredit(account("004"), 300, "Goodwill", { idempotencyKey: "op-credit-b" })).toEqual({ balanceCents: before - 1_500 });
      const txns = await deps.database.db.selectFrom("billing_balance_transactions").select(["amount_cents", "description"]).where("customer_id", "=", "cus_demo_004").orderBy("amount_cents").execute();
      expect(txns).toEqual([
        { amount_cents: -1_200, description: "Outage credit" },
        { amount_cents: -300, description: "Goodwill" },
      ]);
      expect(await failure(deps.billing.applyCredit(account("004"), -5, "x", { idempotencyKey: "op-credit-c" }))).toMatchObject({ code: "rejected" });
    });

    it("cancel at period end, resume, cancel now", async () => {
      const ctx = { idempotencyKey: "op-b7" };
      expect(await deps.billing.cancelSubscription(account("006"), "at_period_end", ctx)).toMatchObject({ status: "active", cancelAtPeriodEnd: true, nextInvoice: null });
      expect(await deps.billing.resumeSubscription(account("006"), ctx)).toMatchObject({ cancelAtPeriodEnd: false });
      expect(await failure(deps.billing.resumeSubscription(account("006"), ctx))).toMatchObject({ code: "rejected" });
      expect(await deps.billing.cancelSubscription(account("006"), "now", ctx)).toMatchObject({ status: "canceled", mrrCents: 0, nextInvoice: null });
      expect(await failure(deps.billing.cancelSubscription(account("006"), "now", ctx))).toMatchObject({ code: "rejected" });
    });

    it("cancelRequestedAt follows Stripe's canceled_at: set by each request to end it, cleared by a resume, kept once canceled", async () => {
      // The clock is shared by the file's tests (seeded dates, dunning's next retry): put back when done.
      const began = deps.clock.now();
      try {
        const ctx = { idempotencyKey: "op-b8" };
        expect(await deps.billing.getBilling(account("011"))).toMatchObject({ cancelAtPeriodEnd: false, cancelRequestedAt: null });
        const first = deps.clock.now().toISOString();
        expect(await deps.billing.cancelSubscription(account("011"), "at_period_end", ctx)).toMatchObject({ cancelAtPeriodEnd: true, cancelRequestedAt: first });
        deps.clock.advance(60_000);
        expect(await deps.billing.resumeSubscription(account("011"), ctx)).toMatchObject({ cancelAtPeriodEnd: false, cancelRequestedAt: null });
        deps.clock.advance(60_000);
        const second = deps.clock.now().toISOString();
        expect(await deps.billing.cancelSubscription(account("011"), "at_period_end", ctx)).toMatchObject({ cancelAtPeriodEnd: true, cancelRequestedAt: second });
        deps.clock.advance(60_000);
        const ended = deps.clock.now().toISOString();
        expect(await deps.billing.cancelSubscription(account("011"), "now", ctx)).toMatchObject({ status: "canceled", cancelRequestedAt: ended });
        deps.clock.advance(60_000);
        expect(await deps.billing.getBilling(account("011"))).toMatchObject({ status: "canceled", cancelRequestedAt: ended });
      } finally {
        deps.clock.set(began);
      }
    });
  });
});
