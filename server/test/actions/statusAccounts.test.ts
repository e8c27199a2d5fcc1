import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import { retentionDate } from "../../src/commands/account/delete.js";
import type { DatabaseKind } from "../../src/db/database.js";
import { databaseKinds } from "../support/databases.js";
import { FlakyAuth0, ScriptedStripe, settingBlocked } from "./demoProviders.js";
import { accountRow, act, auditOf, confirmAndAct, localState, preview, runAction, useHarness, versionOf, type ActionCall, type Harness } from "./harness.js";
import { raisedBy } from "../support/tickets.js";

/**
 * Account status through the HTTP API: account.suspend, unsuspend, deactivate, activate, delete.
 * The shared matrix for each, each action's own effect on users and billing, the billing-aware
 * previews, and the Auth0/Stripe adapters through their fakes, with compensation when the 3rd of
 * several Auth0 calls fails.
 */
interface AccountCase {
  action: string;
  allowed: PanelRole;
  lower: PanelRole;
  destructive?: boolean;
  /** `fail`: where the providers fail (an account on which the action does call them). */
  accounts: { success: string; retry: string; other: string; fail: string };
  invalid: { accountId: string; status: string }[];
  arrange?: (h: Harness) => Promise<void>;
  effect: (h: Harness, accountId: string, body: Record<string, unknown>) => Promise<void>;
}

const account = (id: string) => ({ type: "account" as const, id });

const usersOf = (h: Harness, accountId: string) =>
  h.deps.database.db.selectFrom("users").select(["id", "status", "blocked", "idp_id"]).where("account_id", "=", accountId).orderBy("id").execute();

/** Blocked for its own reasons, locally and at Auth0 (when the fake is in use). */
async function blockBeforehand(h: Harness, userId: string): Promise<void> {
  const row = await h.deps.database.db.updateTable("users").set({ blocked: true }).where("id", "=", userId).returning("idp_id").executeTakeFirstOrThrow();
  const at0 = h.auth0?.users.get(row.idp_id as string);
  if (at0) h.auth0?.users.set(row.idp_id as string, { ...at0, blocked: true });
}

const subscriptionOf = (h: Harness, accountId: string) =>
  h.deps.database.db.selectFrom("billing_subscriptions").selectAll().where("customer_id", "=", accountId.replace("acc_", "cus_")).executeTakeFirstOrThrow();

async function arrangeThroughApi(h: Harness, role: PanelRole, action: string, destructive: boolean, accountId: string): Promise<void> {
  const res = await runAction(h, role, action, destructive, { target: account(accountId), ticketId: await raisedBy(h.deps, account(accountId), "1004") });
  if (res.status !== 200) throw new Error(`arranging ${action} on ${accountId}: ${res.status} ${JSON.stringify(res.body)}`);
}

const cases: AccountCase[] = [
  {
    action: "account.suspend",
    allowed: "support_full",
    lower: "support_read_only",
    accounts: { success: "acc_demo_011", retry: "acc_demo_025", other: "acc_demo_028", fail: "acc_demo_028" },
    invalid: [
      { accountId: "acc_demo_004", status: "suspended" },
      { accountId: "acc_demo_005", status: "deactivated" },
    ],
    // Blocked for its own reasons before the suspension: the suspension must not claim it.
    arrange: (h) => blockBeforehand(h, "usr_demo_011_4"),
    effect: async (h, accountId, body) => {
      expect((await accountRow(h.deps, accountId)).status).toBe("suspended");
      expect((await usersOf(h, accountId)).map((u) => [u.id, u.blocked])).toEqual([
        ["usr_demo_011_1", true],
        ["usr_demo_011_2", true],
        ["usr_demo_011_3", true],
        ["usr_demo_011_4", true],
      ]);
      expect(body.after).toMatchObject({ status: "suspended", blockedUserIds: ["usr_demo_011_1", "usr_demo_011_2", "usr_demo_011_3"] });
      expect(body.before).toMatchObject({ status: "active" });
      // Billing carries on unchanged.
      expect(await subscriptionOf(h, accountId)).toMatchObject({ status: "active", cancel_at_period_end: false });
    },
  },
  {
    action: "account.unsuspend",
    allowed: "support_full",
    lower: "support_read_only",
    accounts: { success: "acc_demo_013", retry: "acc_demo_032", other: "acc_demo_016", fail: "acc_demo_014" },
    invalid: [{ accountId: "acc_demo_021", status: "active" }],
    arrange: async (h) => {
      // acc_demo_013 is trialing with one user blocked beforehand; unsuspending must restore both exactly.
      await blockBeforehand(h, "usr_demo_013_3");
      for (const id of ["acc_demo_013", "acc_demo_032", "acc_demo_014"]) await arrangeThroughApi(h, "support_full", "account.suspend", false, id);
    },
    effect: async (h, accountId, body) => {
      expect((await accountRow(h.deps, accountId)).status).toBe("trialing");
      expect((await usersOf(h, accountId)).map((u) => [u.id, u.blocked])).toEqual([
        ["usr_demo_013_1", false],
        ["usr_demo_013_2", false],
        ["usr_demo_013_3", true],
      ]);
      expect(body.after).toMatchObject({ status: "trialing", unblockedUserIds: ["usr_demo_013_1", "usr_demo_013_2"] });
      const holds = await h.deps.database.db.selectFrom("account_access_holds").selectAll().where("account_id", "=", accountId).execute();
      expect(holds.map((hold) => [hold.kind, hold.released_at !== null])).toEqual([["suspension", true]]);
    },
  },
  {
    action: "account.deactivate",
    allowed: "operations",
    lower: "support_full",
    destructive: true,
    accounts: { success: "acc_demo_012", retry: "acc_demo_033", other: "acc_demo_036", fail: "acc_demo_036" },
    invalid: [{ accountId: "acc_demo_017", status: "deactivated" }],
    effect: async (h, accountId, body) => {
      expect((await accountRow(h.deps, accountId)).status).toBe("deactivated");
      expect((await usersOf(h, accountId)).filter((u) => u.status === "active").every((u) => u.blocked)).toBe(true);
      expect(await subscriptionOf(h, accountId)).toMatchObject({ status: "active", cancel_at_period_end: true });
      const effects = (body.before as { effects: Record<string, unknown> }).effects;
      // The subscription ends at the period end: no invoice comes after the action, and its whole MRR is lost.
      expect(effects).toMatchObject({ activeSubscription: true, mrrLostCents: 98_000, currency: "usd", nextInvoice: null });
      expect((effects.usersLosingAccess as { id: string }[]).map((u) => u.id)).toEqual(["usr_demo_012_1", "usr_demo_012_2", "usr_demo_012_3", "usr_demo_012_4", "usr_demo_012_5"]);
      expect(body.after).toMatchObject({ status: "deactivated", subscription: { status: "active", cancelAtPeriodEnd: true } });
    },
  },
  {
    action: "account.activate",
    allowed: "operations",
    lower: "support_full",
    accounts: { success: "acc_demo_035", retry: "acc_demo_029", other: "acc_demo_024", fail: "acc_demo_015" },
    invalid: [{ accountId: "acc_demo_021", status: "active" }],
    arrange: async (h) => {
      for (const id of ["acc_demo_035", "acc_demo_029", "acc_demo_015"]) await arrangeThroughApi(h, "operations", "account.deactivate", true, id);
    },
    effect: async (h, accountId, body) => {
      expect((await accountRow(h.deps, accountId)).status).toBe("active");
      expect((await usersOf(h, accountId)).map((u) => u.blocked)).toEqual([false, false]);
      expect(await subscriptionOf(h, accountId)).toMatchObject({ status: "active", cancel_at_period_end: false });
      expect(body.result).toMatchObject({ unblockedUsers: 2, status: "active", subscriptionResumed: true });
    },
  },
  {
    action: "account.delete",
    allowed: "operations",
    lower: "support_full",
    destructive: true,
    accounts: { success: "acc_demo_019", retry: "acc_demo_020", other: "acc_demo_022", fail: "acc_demo_022" },
    invalid: [{ accountId: "acc_demo_034", status: "deleted" }],
    arrange: async (h) => void (await h.deps.database.db.updateTable("accounts").set({ status: "deleted" }).where("id", "=", "acc_demo_034").execute()),
    effect: async (h, accountId, body) => {
      const row = await accountRow(h.deps, accountId);
      expect(row.status).toBe("deleted");
      expect(row.retention_until?.toISOString()).toBe(retentionDate(h.deps.clock.now()).toISOString());
      expect(await subscriptionOf(h, accountId)).toMatchObject({ status: "canceled" });
      expect((await usersOf(h, accountId)).filter((u) => u.status === "active").every((u) => u.blocked)).toBe(true);
      const effects = (body.before as { effects: Record<string, unknown> }).effects;
      expect(effects).toMatchObject({ activeSubscription: true, mrrLostCents: 98_000, nextInvoice: null, retentionUntil: retentionDate(h.deps.clock.now()).toISOString() });
      expect(effects.warnings).toContainEqual(expect.stringContaining("cancelled immediately"));
      // The audit entry shows the billing effect that was accepted and carried out.
      expect(body.after).toMatchObject({ status: "deleted", subscriptionCancelled: { status: "canceled" } });
    },
  },
];

const arrangeAll = async (h: Harness) => {
  for (const c of cases) await c.arrange?.(h);
};

function matrix(kind: DatabaseKind) {
  describe(`account status on ${kind} (built-in identity and billing)`, () => {
    const h = useHarness(kind, { arrange: arrangeAll });

    describe.each(cases)("$action", (c) => {
      it("succeeds for the allowed role with before/after, ticket and reason audited", async () => {
        const accountId = c.accounts.success;
        const res = await runAction(h, c.allowed, c.action, c.destructive, { target: account(accountId), ticketId: await raisedBy(h.deps, account(accountId), "1011"), reason: "Owner asked in writing" });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const entries = (await auditOf(h.deps, c.action, accountId)).filter((e) => e.outcome === "succeeded");
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({ id: res.body.auditEntryId, ticketId: "1011", reason: "Owner asked in writing", before: res.body.before, after: res.body.after, target: { type: "account", id: accountId, accountId } });
        expect((res.body.after as { version: number }).version).toBe(await versionOf(h.deps, account(accountId)));
        await c.effect(h, accountId, res.body as Record<string, unknown>);
      });

      it.each(c.invalid)("refuses an account that is $status with 409 invalid_transition, changing nothing", async ({ accountId }) => {
        const before = await localState(h.deps, accountId);
        const res = c.destructive ? await preview(h, c.allowed, c.action, { target: account(accountId) }) : await act(h, c.allowed, c.action, { target: account(accountId) });
        expect(res.status, JSON.stringify(res.body)).toBe(409);
        expect(res.body).toMatchObject({ code: "invalid_transition" });
        expect(await localState(h.deps, accountId)).toEqual(before);
      });

      it("refuses the role below with 403 naming the role it needs, audited as denied", async () => {
        const accountId = c.accounts.other;
        const before = await localState(h.deps, accountId);
        const res = await act(h, c.lower, c.action, { target: account(accountId), ticketId: "1011" });
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ code: "action_not_allowed", action: c.action, requiredRole: c.allowed, panelRole: c.lower });
        const denied = await h.deps.database.db.selectFrom("audit_log").select(["ticket_id", "actor_role"]).where("action", "=", c.action).where("outcome", "=", "denied").execute();
        expect(denied).toEqual([{ ticket_id: "1011", actor_role: c.lower }]);
        expect(await localState(h.deps, accountId)).toEqual(before);
      });

      it("answers 400 for bad input and 409 for a stale version, changing nothing", async () => {
        const accountId = c.accounts.other;
        const before = await localState(h.deps, accountId);
        const bad = await act(h, c.allowed, c.action, { target: account(accountId), input: { retentionDays: 1 } });
        expect(bad.status).toBe(400);
        expect(bad.body.errors).toContainEqual(expect.objectContaining({ field: "body.input" }));
        const version = await versionOf(h.deps, account(accountId));
        const stale = await act(h, c.allowed, c.action, { target: account(accountId), expectedVersion: version + 1 });
        expect(stale.status).toBe(409);
        expect(stale.body).toMatchObject({ code: "stale_version", currentVersion: version });
        expect(await localState(h.deps, accountId)).toEqual(before);
      });

      it("performs once when retried with the same Idempotency-Key", async () => {
        const accountId = c.accounts.retry;
        const call: ActionCall = { target: account(accountId), expectedVersion: await versionOf(h.deps, account(accountId)) };
        if (c.destructive) call.confirmationToken = (await preview(h, c.allowed, c.action, call)).body.confirmationToken as string;
        const first = await act(h, c.allowed, c.action, call, { idempotencyKey: `acct-${c.action}` });
        expect(first.status, JSON.stringify(first.body)).toBe(200);
        const state = await localState(h.deps, accountId);
        const again = await act(h, c.allowed, c.action, call, { idempotencyKey: `acct-${c.action}` });
        expect(again.body).toMatchObject({ replayed: true, auditEntryId: first.body.auditEntryId });
        expect(await localState(h.deps, accountId)).toEqual(state);
      });
    });

    it("account.activate puts back the status the deactivation replaced (past_due stays past_due)", async () => {
      // Its own past_due account (acc_demo_010, no other test here touches it), so the test holds in any order.
      expect((await accountRow(h.deps, "acc_demo_010")).status).toBe("past_due");
      await arrangeThroughApi(h, "operations", "account.deactivate", true, "acc_demo_010");
      expect((await accountRow(h.deps, "acc_demo_010")).status).toBe("deactivated");
      await arrangeThroughApi(h, "operations", "account.activate", false, "acc_demo_010");
      expect((await accountRow(h.deps, "acc_demo_010")).status).toBe("past_due");
    });

    it("lifting a suspension made outside Steward restores the account and claims no users", async () => {
      const res = await act(h, "support_full", "account.unsuspend", { target: account("acc_demo_023") });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.result).toEqual({ unblockedUsers: 0, status: "active" });
    });

    it("account.activate of an account whose subscription has ended says it was not resumed", async () => {
      const res = await act(h, "operations", "account.activate", { target: account("acc_demo_031") });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.result).toMatchObject({ status: "active", subscriptionResumed: false, billing: "subscription not resumed: it is canceled and not set to end" });
      expect((await subscriptionOf(h, "acc_demo_031")).status).toBe("canceled");
    });

    it("account.delete needs a confirmation (428), and a preview taken before billing changed is stale (409)", async () => {
      const accountId = "acc_demo_026";
      const before = await localState(h.deps, accountId);
      const unconfirmed = await act(h, "operations", "account.delete", { target: account(accountId) });
      expect(unconfirmed.status).toBe(428);
      const previewed = await preview(h, "operations", "account.delete", { target: account(accountId) });
      expect(previewed.status).toBe(200);
      await h.deps.database.db.updateTable("billing_subscriptions").set({ quantity: 25 }).where("id", "=", "sub_demo_026").execute();
      const stale = await act(h, "operations", "account.delete", { target: account(accountId), confirmationToken: previewed.body.confirmationToken as string });
      expect(stale.status).toBe(409);
      expect(stale.body.code).toBe("confirmation_stale");
      expect((await accountRow(h.deps, accountId)).status).toBe("active");
      expect((await localState(h.deps, accountId)) as { users: unknown }).toMatchObject({ users: (before as { users: unknown }).users });
    });
  });

  describe(`account status on ${kind} through Auth0 and Stripe (fakes)`, () => {
    const auth0 = new FlakyAuth0();
    const stripe = new ScriptedStripe();
    const h = useHarness(kind, { auth0, stripe, arrange: arrangeAll });
    const blockedAtAuth0 = async (accountId: string) => (await usersOf(h, accountId)).filter((u) => auth0.users.get(u.idp_id as string)?.blocked).map((u) => u.id);

    describe.each(cases)("$action", (c) => {
      it("succeeds at the providers", async () => {
        const accountId = c.accounts.success;
        const res = await runAction(h, c.allowed, c.action, c.destructive, { target: account(accountId) }, { idempotencyKey: `fake-${c.action}` });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const sub = stripe.subscriptions.get(accountId.replace("acc_", "sub_"));
        const blocked = await blockedAtAuth0(accountId);
        if (c.action === "account.suspend") expect(blocked).toEqual(["usr_demo_011_1", "usr_demo_011_2", "usr_demo_011_3", "usr_demo_011_4"]);
        // Exactly the users the suspension blocked are unblocked; the one blocked beforehand stays blocked.
        if (c.action === "account.unsuspend") expect(blocked).toEqual(["usr_demo_013_3"]);
        if (c.action === "account.deactivate") {
          expect(blocked).toEqual(["usr_demo_012_1", "usr_demo_012_2", "usr_demo_012_3", "usr_demo_012_4", "usr_demo_012_5"]);
          expect(sub?.cancel_at_period_end).toBe(true);
          const writes = stripe.requestsTo("POST", `/v1/subscriptions/${sub?.id}`);
          // The Stripe key derives from the agent's Idempotency-Key, so a retried request reaches Stripe with the same one.
          expect(writes.map((w) => w.headers["idempotency-key"])).toEqual(["steward:stf_demo_ops:account.deactivate:fake-account.deactivate:cancel"]);
        }
        if (c.action === "account.activate") {
          expect(blocked).toEqual([]);
          expect(sub?.cancel_at_period_end).toBe(false);
        }
        if (c.action === "account.delete") expect(sub?.status).toBe("canceled");
      });

      it("changes nothing, undoes what was done at the providers, and audits `failed` when a provider refuses (429)", async () => {
        const accountId = c.accounts.fail;
        const subId = accountId.replace("acc_", "sub_");
        const before = await localState(h.deps, accountId);
        const blockedBefore = await blockedAtAuth0(accountId);
        const subBefore = JSON.stringify(stripe.subscriptions.get(subId));
        const call = { target: account(accountId) };
        const token = c.destructive ? ((await preview(h, c.allowed, c.action, call)).body.confirmationToken as string) : undefined;
        // The billing actions fail at their Stripe write, after their Auth0 calls went through; the others at Auth0.
        const atStripe = c.action === "account.deactivate" || c.action === "account.delete" || c.action === "account.activate";
        // A refusal known to have changed nothing (429: before anything ran); a 5xx to a write would leave it unknown (reconcile/identityTruth.test.ts).
        if (atStripe) stripe.failNext(3, 429, { path: `/v1/subscriptions/${subId}` });
        else auth0.failNext(3, 429);
        const auth0Calls = auth0.requests.length;
        const res = await act(h, c.allowed, c.action, { ...call, ...(token ? { confirmationToken: token } : {}) });
        auth0.clearFaults();
        expect(res.status, JSON.stringify(res.body)).toBe(503);
        expect(res.body).toMatchObject({ code: "provider_rate_limited", provider: atStripe ? "stripe" : "auth0" });
        if (atStripe) expect(auth0.requests.length - auth0Calls).toBeGreaterThan(0);
        expect(await localState(h.deps, accountId)).toEqual(before);
        expect(await blockedAtAuth0(accountId)).toEqual(blockedBefore);
        expect(JSON.stringify(stripe.subscriptions.get(subId))).toBe(subBefore);
        const entries = await auditOf(h.deps, c.action, accountId);
        expect(entries.slice(-2).map((e) => e.outcome)).toEqual(["pending", "failed"]);
      });
    });

    it("account.suspend: when Auth0 refuses (429) the 3rd of 8 users, the two already blocked are unblocked and nothing changes", async () => {
      const accountId = "acc_demo_001";
      const before = await localState(h.deps, accountId);
      expect((await usersOf(h, accountId)).filter((u) => u.status === "active")).toHaveLength(8);
      auth0.failAfter(2, 429, settingBlocked(true));
      const res = await act(h, "support_full", "account.suspend", { target: account(accountId) });
      auth0.heal();
      expect(res.status, JSON.stringify(res.body)).toBe(503);
      const patches = auth0.requests.filter((r) => r.method === "PATCH" && r.path.includes("demo001"));
      // Two blocks took effect, the third failed (with its retries), then the two were undone, newest first.
      expect(patches.filter((p) => p.status === 200).map((p) => [p.path.replace(/.*demo/, ""), (p.body as { blocked: boolean }).blocked])).toEqual([
        ["0011", true],
        ["0012", true],
        ["0012", false],
        ["0011", false],
      ]);
      expect(await blockedAtAuth0(accountId)).toEqual([]);
      expect(await localState(h.deps, accountId)).toEqual(before);
      const entries = await auditOf(h.deps, "account.suspend", accountId);
      expect(entries.map((e) => e.outcome)).toEqual(["pending", "failed"]);
      expect(entries[1]?.error).toMatch(/^provider_rate_limited: Auth0/);
    });

    it("when an undo fails too, the error says exactly which provider changes are left in place", async () => {
      const accountId = "acc_demo_002";
      const before = await localState(h.deps, accountId);
      // Every call after the first two fails, the undo calls included.
      auth0.failAfter(2, 429);
      const res = await act(h, "support_full", "account.suspend", { target: account(accountId) });
      auth0.heal();
      expect(res.status).toBe(502);
      expect(res.body).toMatchObject({ code: "provider_partially_applied", failedStep: "block usr_demo_002_3", notUndone: ["block usr_demo_002_2", "block usr_demo_002_1"] });
      expect(await blockedAtAuth0(accountId)).toEqual(["usr_demo_002_1", "usr_demo_002_2"]);
      expect(await localState(h.deps, accountId)).toEqual(before);
      const entries = await auditOf(h.deps, "account.suspend", accountId);
      expect(entries.map((e) => e.outcome)).toEqual(["pending", "failed"]);
      expect(entries[1]?.error).toContain("could not be undone: block usr_demo_002_2, block usr_demo_002_1");
    });

    it("a Stripe write whose response was lost is retried with the same Idempotency-Key and takes effect once", async () => {
      const accountId = "acc_demo_018";
      const subId = "sub_demo_018";
      stripe.loseResponses(1, (req) => req.method === "POST" && req.path === `/v1/subscriptions/${subId}`);
      const res = await confirmAndAct(h, "operations", "account.deactivate", { target: account(accountId) }, { idempotencyKey: "lost-response-1" });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const writes = stripe.requestsTo("POST", `/v1/subscriptions/${subId}`);
      expect(writes).toHaveLength(2);
      expect(new Set(writes.map((w) => w.headers["idempotency-key"])).size).toBe(1);
      expect(writes[1]?.replayed).toBe(true);
      expect(stripe.subscriptions.get(subId)?.cancel_at_period_end).toBe(true);
      expect((await accountRow(h.deps, accountId)).status).toBe("deactivated");
    });
  });
}

describe.each(databaseKinds)("%s", (kind) => {
  matrix(kind);
});
