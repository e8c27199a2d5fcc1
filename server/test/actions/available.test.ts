import request from "supertest";
import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import type { ActionAvailability, AvailableActions } from "../../../shared/schemas/availability.js";
import { actionRules, type ActionName } from "../../../shared/actions.js";
import { databaseKinds } from "../support/databases.js";
import { commands } from "../../src/commands/registry.js";
import { putTicket, ticketFor } from "../support/tickets.js";
import { act, auditCount, localState, preview, sessionOf, useHarness, type Harness } from "./harness.js";
import { newOperationId } from "../../src/audit/operations.js";
import { insertOperation, markNeedsReview } from "../../src/reconcile/providerOperations.js";

/**
 * GET /api/actions/available through the HTTP API on both databases: what it marks unavailable is
 * what the action itself refuses (one rule, SupportCommand.precondition), and the bugs the sidebar
 * exposed — a credit on a deleted account, a password reset on a deactivated user, seat changes
 * without billing — are refused by the actions too, changing nothing.
 */
async function available(h: Harness, role: PanelRole, targetType: string, targetId: string): Promise<AvailableActions> {
  const res = await request(h.app).get("/api/actions/available").query({ targetType, targetId }).set("Authorization", `Bearer ${await sessionOf(h, role)}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as AvailableActions;
}

function find(result: AvailableActions, action: string): ActionAvailability {
  const found = result.actions.find((a) => a.action === action);
  if (!found) throw new Error(`${action} not listed`);
  return found;
}

/** A valid input per action, so a run reaches the state checks (not the input's 400). */
const SAMPLE_INPUT: Record<string, Record<string, unknown>> = {
  "user.mfa_reset": { identityVerification: "verified_email_reply", verificationNote: "Replied from the address on file" },
  "user.role_change": { role: "viewer" },
  "user.promote_admin": { role: "admin" },
  "user.elevate_temporarily": { role: "owner", hours: 1 },
  "seats.change": { seats: 40 },
  "seats.expand_temporarily": { seats: 1, days: 1 },
  "billing.trial_extend": { days: 1 },
  "billing.credit_apply": { amountCents: 100 },
  "billing.plan_change": { plan: "enterprise" },
  "billing.subscription_cancel": { mode: "at_period_end" },
  "impersonation.start": { mode: "read_only", minutes: 10 },
  "user.elevation_end": { elevationId: "rel_none" },
  "seats.expansion_end": { expansionId: "sx_none" },
};

/** What the action answers when run (destructive ones: their preview, which makes the same checks first). */
async function attempt(h: Harness, role: PanelRole, action: string, target: { type: "user" | "account"; id: string }) {
  const call = { target, input: SAMPLE_INPUT[action] ?? {}, reason: "Checking what the sidebar offers" };
  const destructive = (actionRules[action as ActionName] as { destructive?: boolean }).destructive;
  return destructive ? preview(h, role, action, call) : act(h, role, action, call);
}

describe.each(databaseKinds)("available actions (%s)", (kind) => {
  const h = useHarness(kind, {
    arrange: async ({ deps }) => {
      const { db } = deps.database;
      // A deleted account (soft delete keeps its billing customer), a deactivated user, a deleted user,
      // and an account with no billing customer at all.
      await db.updateTable("accounts").set({ status: "deleted" }).where("id", "=", "acc_demo_017").execute();
      await db.updateTable("users").set({ status: "deactivated" }).where("id", "=", "usr_demo_008_4").execute();
      await db.updateTable("users").set({ status: "deleted" }).where("id", "=", "usr_demo_008_5").execute();
      await db.insertInto("accounts").values({ id: "acc_nobill", name: "No Billing Ltd", domain: "nobill.example", status: "active", plan: "team", seats_licensed: 5, billing_customer_id: null }).execute();
    },
  });

  it("a credit on a deleted account is offered as unavailable and refused, changing nothing", async () => {
    const result = await available(h, "operations", "account", "acc_demo_017");
    expect(find(result, "billing.credit_apply")).toMatchObject({ status: "unavailable", reason: "state", code: "account_closed" });
    const before = await localState(h.deps, "acc_demo_017");
    const res = await act(h, "operations", "billing.credit_apply", { target: { type: "account", id: "acc_demo_017" }, input: { amountCents: 500 } });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("account_closed");
    expect(await localState(h.deps, "acc_demo_017")).toEqual(before);
  });

  it("password reset on a deactivated user is unavailable and refused", async () => {
    const result = await available(h, "support_full", "user", "usr_demo_008_4");
    expect(find(result, "user.password_reset")).toMatchObject({ status: "unavailable", reason: "state", code: "invalid_transition" });
    expect(find(result, "user.activate")).toMatchObject({ status: "available" });
    const res = await act(h, "support_full", "user.password_reset", { target: { type: "user", id: "usr_demo_008_4" } });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("invalid_transition");
  });

  it("every action on a deleted user is unavailable, and the actions answer 404", async () => {
    const result = await available(h, "admin", "user", "usr_demo_008_5");
    expect(result.actions.length).toBeGreaterThan(10);
    for (const a of result.actions) expect(a).toMatchObject({ status: "unavailable", reason: "state", code: "user_deleted" });
    for (const action of ["user.password_reset", "user.unblock", "user.lockout_clear"]) {
      const res = await act(h, "admin", action, { target: { type: "user", id: "usr_demo_008_5" }, expectedVersion: result.version });
      expect(res.status, action).toBe(404);
    }
  });

  it("seat and billing changes without a billing customer are unavailable for missing billing and refused", async () => {
    const result = await available(h, "admin", "account", "acc_nobill");
    for (const action of ["seats.change", "seats.expand_temporarily", "billing.credit_apply", "billing.trial_extend", "billing.plan_change"]) {
      expect(find(result, action), action).toMatchObject({ status: "unavailable", reason: "billing", code: "no_billing_customer" });
    }
    expect(find(result, "account.suspend")).toMatchObject({ status: "available" });
    const before = await localState(h.deps, "acc_nobill");
    // The account has no users, so the ticket comes from its Zendesk organization (external id = account id).
    const ticketId = await putTicket(h.deps, { requester: { email: "finance@nobill.example" }, organization: { id: 880_001, name: "No Billing Ltd", externalId: "acc_nobill" } });
    const res = await act(h, "admin", "seats.change", { target: { type: "account", id: "acc_nobill" }, input: { seats: 6 }, ticketId });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("no_billing_customer");
    expect(await localState(h.deps, "acc_nobill")).toEqual(before);
  });

  it("a read-only agent sees every action as needing a higher role, with the role named", async () => {
    const result = await available(h, "support_read_only", "account", "acc_demo_001");
    for (const a of result.actions) {
      expect(a.status).toBe("unavailable");
      expect(a.reason).toBe("role");
      expect(a.requiredRole).toBe(actionRules[a.action as ActionName].minRole);
    }
    const support = await available(h, "support_full", "account", "acc_demo_001");
    expect(find(support, "seats.change")).toMatchObject({ status: "unavailable", reason: "role", requiredRole: "operations" });
  });

  it("a capped action shows what is left, and none left after the cap is used, naming who can go further", async () => {
    const first = find(await available(h, "support_full", "account", "acc_demo_003"), "billing.credit_apply");
    expect(first).toMatchObject({ status: "available", cap: { unit: "cents", left: 5_000, perRequest: 5_000 } });
    const credited = await act(h, "support_full", "billing.credit_apply", { target: { type: "account", id: "acc_demo_003" }, input: { amountCents: 3_000 } });
    expect(credited.status, JSON.stringify(credited.body)).toBe(200);
    expect(find(await available(h, "support_full", "account", "acc_demo_003"), "billing.credit_apply").cap?.left).toBe(2_000);
    const more = await act(h, "support_full", "billing.credit_apply", { target: { type: "account", id: "acc_demo_003" }, input: { amountCents: 2_000 } });
    expect(more.status).toBe(200);
    const used = find(await available(h, "support_full", "account", "acc_demo_003"), "billing.credit_apply");
    expect(used).toMatchObject({ status: "unavailable", reason: "cap", code: "over_cap", cap: { left: 0, canGoFurther: ["operations", "admin"] } });
    const refused = await act(h, "support_full", "billing.credit_apply", { target: { type: "account", id: "acc_demo_003" }, input: { amountCents: 1 } });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("over_cap");
  });

  it("whatever it marks unavailable for state or billing, the action refuses with the same code", async () => {
    const targets = [
      { type: "account", id: "acc_demo_004" }, // suspended
      { type: "account", id: "acc_demo_005" }, // deactivated, canceled subscription
      { type: "account", id: "acc_demo_017" }, // deleted
      { type: "account", id: "acc_demo_002" }, // trialing
      { type: "user", id: "usr_demo_008_4" }, // deactivated
      { type: "user", id: "usr_demo_004_1" }, // on a suspended account
    ] as const;
    let checked = 0;
    for (const target of targets) {
      const result = await available(h, "admin", target.type, target.id);
      for (const a of result.actions.filter((x) => x.reason === "state" || x.reason === "billing")) {
        const res = await attempt(h, "admin", a.action, target);
        expect(res.status, `${a.action} on ${target.id}: ${JSON.stringify(res.body)}`).toBe(409);
        expect(res.body.code, `${a.action} on ${target.id}`).toBe(a.code);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(15);
  });

  it("suspending an account previews who loses access and that billing continues, then runs without a token", async () => {
    const accountId = "acc_demo_001";
    expect(find(await available(h, "support_full", "account", accountId), "account.suspend")).toMatchObject({ status: "available", preview: true });
    const billing = await h.deps.billing.getBilling({ id: accountId, billingCustomerId: "cus_demo_001" });
    const active = await h.deps.database.db.selectFrom("users").select("id").where("account_id", "=", accountId).where("status", "=", "active").where("blocked", "=", false).execute();
    const previewed = await preview(h, "support_full", "account.suspend", { target: { type: "account", id: accountId } });
    expect(previewed.status, JSON.stringify(previewed.body)).toBe(200);
    const effects = previewed.body.effects;
    expect(effects.usersLosingAccess.map((u: { id: string }) => u.id).sort()).toEqual(active.map((u) => u.id).sort());
    expect(effects.mrrLostCents).toBe(0);
    expect(effects.nextInvoice).toEqual(billing?.nextInvoice);
    expect(effects.warnings.join(" ")).toContain("Billing continues");
    // The same sentences as codes and values, for the sidebar to word in the agent's language.
    const account = await h.deps.database.db.selectFrom("accounts").select("name").where("id", "=", accountId).executeTakeFirstOrThrow();
    expect(effects.summaryPhrase).toEqual({ code: "account_suspend", params: { name: account.name, count: active.length } });
    expect(effects.warningPhrases).toHaveLength(effects.warnings.length);
    expect(effects.warningPhrases[0]).toEqual({ code: "billing_continues_invoice", params: { amountCents: billing?.nextInvoice?.amountCents, dueDate: billing?.nextInvoice?.date } });
    const done = await act(h, "support_full", "account.suspend", { target: { type: "account", id: accountId } });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.before.effects.summary).toContain("billing continues");
  });

  it("temporary seats preview the raise of the next invoice and until when", async () => {
    const accountId = "acc_demo_006";
    expect(find(await available(h, "support_full", "account", accountId), "seats.expand_temporarily")).toMatchObject({ status: "available", preview: true });
    const billing = await h.deps.billing.getBilling({ id: accountId, billingCustomerId: "cus_demo_006" });
    const previewed = await preview(h, "support_full", "seats.expand_temporarily", { target: { type: "account", id: accountId }, input: { seats: 2, days: 7 } });
    expect(previewed.status, JSON.stringify(previewed.body)).toBe(200);
    const effects = previewed.body.effects;
    const raise = effects.nextInvoice.amountCents - (billing?.nextInvoice?.amountCents ?? 0);
    expect(raise).toBeGreaterThan(0);
    expect(raise % 2).toBe(0); // two seats at one price
    expect(effects.mrrLostCents).toBeLessThan(0); // revenue goes up
    const until = new Date(h.deps.clock.now().getTime() + 7 * 86_400_000).toISOString().slice(0, 10);
    expect(effects.summary).toContain(`until ${until}`);
    expect(effects.summary).toContain("next invoice +");
    const untilDate = new Date(h.deps.clock.now().getTime() + 7 * 86_400_000).toISOString();
    expect(effects.summaryPhrase).toEqual({ code: "seats_expand_billed", params: { seats: 2, count: 7, untilDate, raiseCents: raise } });
    expect(effects.warningPhrases).toEqual([{ code: "estimates", params: {} }]);
    // The preview changed nothing.
    expect(await h.deps.database.db.selectFrom("seat_expansions").select("id").where("account_id", "=", accountId).execute()).toEqual([]);
  });

  it("every action that changes money or access shows its effects first, not only the destructive ones", async () => {
    // Derived from the commands: every support write on a user or an account previews, so a new action
    // without a preview fails here. Exempt, and why: a setting the product lets support change (no money,
    // no access); the agent's own view of the product (impersonation: its session, not the customer's
    // access); recording a provider operation's outcome (changes nothing at the customer); ending early a
    // temporary role whose return was previewed when it was granted (the grant list says which role comes back).
    const exempt = new Set(["user.settings_change", "impersonation.start", "impersonation.stop", "operation.resolve", "user.elevation_end"]);
    const moneyOrAccess = [...commands.values()].map((c) => c.action as string).filter((a) => actionRules[a as ActionName].kind === "write" && !exempt.has(a));
    // Access given back is access changed too (item 3 of issue 14): these must be among them.
    expect(moneyOrAccess).toEqual(expect.arrayContaining(["user.lockout_clear", "user.unblock", "user.activate", "account.unsuspend", "account.activate", "user.password_reset", "user.mfa_reset", "user.sessions_revoke"]));
    const listed = [...(await available(h, "admin", "account", "acc_demo_001")).actions, ...(await available(h, "admin", "user", "usr_demo_001_2")).actions];
    expect(listed.filter((a) => moneyOrAccess.includes(a.action)).map((a) => [a.action, a.preview]).sort()).toEqual(moneyOrAccess.map((a) => [a, true]).sort());
    expect(listed.filter((a) => exempt.has(a.action)).every((a) => !a.preview)).toBe(true);
  });

  it("giving sign-in back or changing how a user signs in previews who and what, from the state now", async () => {
    const db = h.deps.database.db;
    const user = await db
      .selectFrom("users")
      .innerJoin("accounts", "accounts.id", "users.account_id")
      .selectAll("users")
      .where("users.status", "=", "active")
      .where("users.blocked", "=", false)
      .where("accounts.status", "=", "active")
      .orderBy("users.id")
      .executeTakeFirstOrThrow();
    const who = { name: user.name, email: user.email };
    const target = { type: "user" as const, id: user.id };
    // Locked by failed sign-ins until a known time: unlock says it lifts now, and when it would have lifted by itself.
    const lockedUntil = new Date(h.deps.clock.now().getTime() + 44 * 60_000);
    await db.updateTable("users").set({ locked_until: lockedUntil, failed_login_count: 7 }).where("id", "=", user.id).execute();
    const unlock = await preview(h, "support_full", "user.lockout_clear", { target });
    expect(unlock.status, JSON.stringify(unlock.body)).toBe(200);
    expect(unlock.body.effects.summaryPhrase).toEqual({ code: "user_lockout_clear", params: { ...who, untilTime: lockedUntil.toISOString() } });
    expect(unlock.body.effects.usersLosingAccess).toEqual([]);
    expect(unlock.body.effects.warningPhrases).toEqual([]);
    // A preview needs no reason (the form shows it as it opens) and changes nothing.
    const token = await sessionOf(h, "support_full");
    const row = await db.selectFrom("users").select("version").where("id", "=", user.id).executeTakeFirstOrThrow();
    const noReason = await request(h.app).post("/api/actions/user.lockout_clear/preview").set("Authorization", `Bearer ${token}`).send({ ticketId: await ticketFor(h.deps, target), target, expectedVersion: row.version, input: {} });
    expect(noReason.status, JSON.stringify(noReason.body)).toBe(200);
    expect((await db.selectFrom("users").select("locked_until").where("id", "=", user.id).executeTakeFirstOrThrow()).locked_until).not.toBeNull();
    // The run records what was shown.
    const done = await act(h, "support_full", "user.lockout_clear", { target });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.before.effects.summaryPhrase.code).toBe("user_lockout_clear");

    const reset = await preview(h, "support_full", "user.password_reset", { target });
    expect(reset.body.effects.summaryPhrase).toEqual({ code: "user_password_reset", params: who });
    expect(reset.body.effects.summary).toContain(`emailed to ${user.email}`);

    const open = await h.deps.identity.getIdentity({ id: user.id, idpId: user.idp_id, email: user.email });
    const revoke = await preview(h, "support_full", "user.sessions_revoke", { target });
    expect(revoke.status, JSON.stringify(revoke.body)).toBe(200);
    expect(revoke.body.effects.summaryPhrase).toEqual({ code: "user_sessions_revoke", params: { ...who, count: open.activeSessions } });

    // Blocked, then unblocked: who can sign in again.
    await db.updateTable("users").set({ blocked: true }).where("id", "=", user.id).execute();
    const unblock = await preview(h, "support_full", "user.unblock", { target });
    expect(unblock.status, JSON.stringify(unblock.body)).toBe(200);
    expect(unblock.body.effects.summaryPhrase).toEqual({ code: "user_unblock", params: who });
    await db.updateTable("users").set({ blocked: false }).where("id", "=", user.id).execute();
    // Suspended through the action (the product owns the status with the http directory), then activation previewed and run.
    expect((await act(h, "support_full", "user.suspend", { target })).status).toBe(200);
    const activate = await preview(h, "support_full", "user.activate", { target });
    expect(activate.status, JSON.stringify(activate.body)).toBe(200);
    expect(activate.body.effects.summaryPhrase).toEqual({ code: "user_activate", params: { ...who, status: "suspended" } });
    const activated = await act(h, "support_full", "user.activate", { target });
    expect(activated.status, JSON.stringify(activated.body)).toBe(200);
    expect(activated.body.before.effects.summaryPhrase.code).toBe("user_activate");
    await db.updateTable("users").set({ mfa_enrolled: true, mfa_methods: ["totp", "sms"] }).where("id", "=", user.id).execute();
    const mfa = await preview(h, "support_full", "user.mfa_reset", { target, input: SAMPLE_INPUT["user.mfa_reset"] });
    expect(mfa.status, JSON.stringify(mfa.body)).toBe(200);
    expect(mfa.body.effects.summaryPhrase).toEqual({ code: "user_mfa_reset", params: { ...who, count: 2, methods: "totp, sms" } });
    expect(mfa.body.effects.warningPhrases).toEqual([{ code: "user_mfa_reenrol", params: {} }, { code: "security_notice_mandatory", params: { email: user.email } }]);
  });

  it("lifting an account's suspension previews who signs in again and that billing never paused", async () => {
    // An active account with a billing customer that no other test here uses (this one leaves it suspended),
    // so the order the tests run in does not matter.
    const accountId = "acc_demo_007";
    const { status, billing_customer_id: customerId } = await h.deps.database.db.selectFrom("accounts").select(["status", "billing_customer_id"]).where("id", "=", accountId).executeTakeFirstOrThrow();
    expect(status).toBe("active");
    expect(customerId).not.toBeNull();
    const suspended = await act(h, "operations", "account.suspend", { target: { type: "account", id: accountId } });
    expect(suspended.status, JSON.stringify(suspended.body)).toBe(200);
    const blocked = (suspended.body.before.effects.usersLosingAccess as unknown[]).length;
    const billing = await h.deps.billing.getBilling({ id: accountId, billingCustomerId: customerId });
    const account = await h.deps.database.db.selectFrom("accounts").select("name").where("id", "=", accountId).executeTakeFirstOrThrow();
    const lifted = await preview(h, "support_full", "account.unsuspend", { target: { type: "account", id: accountId } });
    expect(lifted.status, JSON.stringify(lifted.body)).toBe(200);
    expect(lifted.body.effects.summaryPhrase).toEqual({ code: "account_unsuspend", params: { name: account.name, count: blocked } });
    expect(lifted.body.effects.usersLosingAccess).toEqual([]);
    if (billing?.nextInvoice?.date) expect(lifted.body.effects.warningPhrases[0]).toEqual({ code: "billing_continues_invoice", params: { amountCents: billing.nextInvoice.amountCents, dueDate: billing.nextInvoice.date } });
  });

  it("a credit previews the balance after it and the lower next invoice, says it is no refund, and changes nothing until run", async () => {
    const accountId = "acc_demo_001";
    const billing = await h.deps.billing.getBilling({ id: accountId, billingCustomerId: "cus_demo_001" });
    const account = await h.deps.database.db.selectFrom("accounts").select("name").where("id", "=", accountId).executeTakeFirstOrThrow();
    const previewed = await preview(h, "support_full", "billing.credit_apply", { target: { type: "account", id: accountId }, input: { amountCents: 2_500 } });
    expect(previewed.status, JSON.stringify(previewed.body)).toBe(200);
    const effects = previewed.body.effects;
    const creditAfter = 2_500 - (billing?.balanceCents ?? 0);
    expect(effects.summaryPhrase).toEqual(creditAfter >= 0 ? { code: "credit_apply", params: { name: account.name, amountCents: 2_500, creditCents: creditAfter } } : { code: "credit_apply_owing", params: { name: account.name, amountCents: 2_500, owedCents: -creditAfter } });
    expect(effects.nextInvoice).toEqual({ amountCents: Math.max(0, (billing?.nextInvoice?.amountCents ?? 0) - 2_500), date: billing?.nextInvoice?.date });
    expect(effects.mrrLostCents).toBe(0);
    expect(effects.warningPhrases[0]).toEqual({ code: "credit_not_refund", params: {} });
    const after = await h.deps.billing.getBilling({ id: accountId, billingCustomerId: "cus_demo_001" });
    expect(after?.balanceCents).toBe(billing?.balanceCents);
    // It runs without a token (not destructive); the run records what was shown.
    const done = await act(h, "support_full", "billing.credit_apply", { target: { type: "account", id: accountId }, input: { amountCents: 2_500 } });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.before.effects.summaryPhrase.code).toMatch(/^credit_apply/);
  });

  it("a trial extension previews its new end and the first invoice moving with it", async () => {
    const db = h.deps.database.db;
    const trialing = await db
      .selectFrom("billing_subscriptions as s")
      .innerJoin("billing_customers as c", "c.id", "s.customer_id")
      .innerJoin("accounts as a", "a.id", "c.account_id")
      .select(["a.id", "c.id as customerId"])
      .where("s.status", "=", "trialing")
      .where("a.status", "in", ["trialing", "active"])
      .orderBy("a.id")
      .executeTakeFirstOrThrow();
    expect(find(await available(h, "support_full", "account", trialing.id), "billing.trial_extend")).toMatchObject({ status: "available", preview: true });
    const billing = await h.deps.billing.getBilling({ id: trialing.id, billingCustomerId: trialing.customerId });
    const trialEnd = billing?.trialEnd as string;
    const previewed = await preview(h, "support_full", "billing.trial_extend", { target: { type: "account", id: trialing.id }, input: { days: 3 } });
    expect(previewed.status, JSON.stringify(previewed.body)).toBe(200);
    const effects = previewed.body.effects;
    const untilDate = new Date(Math.max(new Date(trialEnd).getTime(), h.deps.clock.now().getTime()) + 3 * 86_400_000).toISOString();
    expect(effects.summaryPhrase).toEqual({ code: "trial_extend", params: { count: 3, fromDate: trialEnd, untilDate } });
    if (billing?.nextInvoice) {
      expect(effects.nextInvoice).toEqual({ amountCents: billing.nextInvoice.amountCents, date: untilDate });
      expect(effects.warningPhrases).toEqual([{ code: "first_invoice_moves", params: { amountCents: billing.nextInvoice.amountCents, dueDate: untilDate } }]);
    }
    expect((await h.deps.billing.getBilling({ id: trialing.id, billingCustomerId: trialing.customerId }))?.trialEnd).toBe(trialEnd);
  });

  it("taking a user's access away or changing their role previews who and what first", async () => {
    // An active member, signing in freely, of an active account (no admin rule in the way).
    const user = await h.deps.database.db
      .selectFrom("users")
      .innerJoin("accounts", "accounts.id", "users.account_id")
      .selectAll("users")
      .where("users.status", "=", "active")
      .where("users.blocked", "=", false)
      .where("users.role", "=", "member")
      .where("accounts.status", "=", "active")
      .orderBy("users.id")
      .executeTakeFirstOrThrow();
    for (const [action, code] of [["user.suspend", "user_suspend"], ["user.deactivate", "user_deactivate"], ["user.block", "user_block"]] as const) {
      const previewed = await preview(h, "support_full", action, { target: { type: "user", id: user.id } });
      expect(previewed.status, `${action} ${JSON.stringify(previewed.body)}`).toBe(200);
      expect(previewed.body.effects.summaryPhrase).toEqual({ code, params: { name: user.name, email: user.email } });
      expect(previewed.body.effects.usersLosingAccess.map((u: { id: string }) => u.id)).toEqual(user.status === "active" && !user.blocked ? [user.id] : []);
    }
    const role = await preview(h, "support_full", "user.role_change", { target: { type: "user", id: user.id }, input: { role: "viewer" } });
    expect(role.body.effects.summaryPhrase).toEqual({ code: "user_role_change", params: { name: user.name, email: user.email, fromRole: user.role, toRole: "viewer" } });
    const raised = await preview(h, "support_full", "user.elevate_temporarily", { target: { type: "user", id: user.id }, input: { role: "owner", hours: 2 } });
    expect(raised.status, JSON.stringify(raised.body)).toBe(200);
    const untilTime = new Date(h.deps.clock.now().getTime() + 2 * 3_600_000).toISOString();
    expect(raised.body.effects.summaryPhrase).toEqual({ code: "user_elevate", params: { name: user.name, email: user.email, fromRole: user.role, toRole: "owner", count: 2, untilTime } });
    // Previews change nothing.
    expect(await h.deps.database.db.selectFrom("users").select(["status", "blocked", "role", "version"]).where("id", "=", user.id).executeTakeFirstOrThrow()).toEqual({ status: user.status, blocked: user.blocked, role: user.role, version: user.version });
  });

  it("while an operation awaits review, every action on the account waits except operation.resolve, which settles it", async () => {
    const accountId = "acc_demo_019";
    const operationId = newOperationId();
    const now = h.deps.clock.now();
    await h.deps.database.db.transaction().execute(async (trx) => {
      await insertOperation(trx, {
        operationId,
        action: "billing.credit_apply",
        targetType: "account",
        targetId: accountId,
        accountId,
        keyOwner: "stf_demo_full",
        idempotencyKey: null,
        providerKey: `steward:${operationId}`,
        request: { actor: { kind: "staff", staffId: "stf_demo_full", zendeskUserId: "9002", email: "sam.support@steward-demo.test", name: "Sam Support", panelRole: "support_full" }, ticketId: "1006", reason: "lost answer", requestId: null, input: { amountCents: 100 }, now: now.toISOString() },
        providerBefore: undefined,
        leaseMs: 0,
        createdAt: now,
      });
      await markNeedsReview(trx, operationId, "a re-read could not tell");
    });
    const listed = await available(h, "operations", "account", accountId);
    expect(find(listed, "billing.credit_apply")).toMatchObject({ status: "unavailable", reason: "pending" });
    expect(find(listed, "operation.resolve")).toMatchObject({ status: "available" });
    const resolved = await act(h, "operations", "operation.resolve", { target: { type: "account", id: accountId }, input: { operationId, resolution: "not_applied" } });
    expect(resolved.status, JSON.stringify(resolved.body)).toBe(200);
  });

  it("a bad query is a 400 naming the field, and reads nothing into the audit log", async () => {
    const before = await auditCount(h.deps);
    const token = await sessionOf(h, "support_full");
    const bad = await request(h.app).get("/api/actions/available").query({ targetType: "staff", targetId: "acc_demo_001" }).set("Authorization", `Bearer ${token}`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toContain("query.targetType");
    const missing = await request(h.app).get("/api/actions/available").query({ targetType: "account" }).set("Authorization", `Bearer ${token}`);
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: { field: string }) => e.field)).toContain("query.targetId");
    const unknown = await request(h.app).get("/api/actions/available").query({ targetType: "account", targetId: "acc_nope" }).set("Authorization", `Bearer ${token}`);
    expect(unknown.status).toBe(404);
    expect(await auditCount(h.deps)).toBe(before);
  });
});
