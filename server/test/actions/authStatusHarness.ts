import type { Express } from "express";
import request from "supertest";
import type { AuditEntry } from "../../../shared/audit.js";
import type { PanelRole } from "../../../shared/roles.js";
import { createApp } from "../../src/app.js";
import { toAuditEntry } from "../../src/audit/auditRow.js";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import type { ManualClock } from "../../src/clock.js";
import type { DatabaseKind } from "../../src/db/database.js";
import type { AppDeps } from "../../src/deps.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { Auth0Fake } from "../fakes/auth0Fake.js";
import type { FakeReply, FakeRequest } from "../fakes/httpFake.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { createTestDeps } from "../support/databases.js";

/**
 * Harness for the auth-help and status actions: the real app over a seeded database (PGlite or
 * PostgreSQL) with sessions for the four demo agents; with `fakes`, the Auth0 and Stripe adapters
 * pointed at local fakes that hold the same users, customers and subscriptions as the demo tables.
 */
export type TestDeps = AppDeps & { clock: ManualClock };

export interface StatusHarness {
  deps: TestDeps;
  app: Express;
  tokens: Record<PanelRole, string>;
  auth0?: Auth0Fake;
  stripe?: StripeFake;
  close(): Promise<void>;
}

/**
 * Auth0 that lets the first `okCalls` matching Management API calls through and fails every later
 * matching one (retries included) until healed: for "the 3rd call fails" and for undo steps that
 * must still get through (match only the forward calls).
 */
export class FlakyAuth0 extends Auth0Fake {
  private plan: { ok: number; status: number; match: (req: FakeRequest) => boolean } | null = null;

  failAfter(okCalls: number, status: number, match: (req: FakeRequest) => boolean = () => true): this {
    this.plan = { ok: okCalls, status, match };
    return this;
  }

  heal(): void {
    this.plan = null;
  }

  protected override route(req: FakeRequest): FakeReply {
    const plan = this.plan;
    if (plan && req.path.startsWith("/api/v2/") && plan.match(req)) {
      if (plan.ok > 0) plan.ok--;
      else return this.errorReply(plan.status, {});
    }
    return super.route(req);
  }
}

/**
 * Stripe with scripted faults on matching requests: `loseResponses` lets a write take effect but
 * answers 500 (the response lost on the way back: the adapter's retry must reach Stripe with the same
 * Idempotency-Key); `refuse` answers `status` without taking effect.
 */
export class ScriptedStripe extends StripeFake {
  private script: { left: number; applied: boolean; status: number; match: (req: FakeRequest) => boolean } | null = null;

  loseResponses(n: number, match: (req: FakeRequest) => boolean): this {
    this.script = { left: n, applied: true, status: 500, match };
    return this;
  }

  refuse(n: number, status: number, match: (req: FakeRequest) => boolean): this {
    this.script = { left: n, applied: false, status, match };
    return this;
  }

  protected override route(req: FakeRequest): FakeReply {
    const script = this.script;
    if (!script || script.left === 0 || !script.match(req)) return super.route(req);
    script.left--;
    if (script.applied) super.route(req);
    return this.errorReply(script.status, {});
  }
}

/** Matches Auth0 `users.update` calls that set `blocked` to the given value. */
export const settingBlocked = (blocked: boolean) => (req: FakeRequest) => req.method === "PATCH" && (req.body as { blocked?: boolean } | undefined)?.blocked === blocked;

/** Provider retries without waiting, so failure tests stay fast. */
const FAST_RETRIES = { baseDelayMs: 1, maxDelayMs: 5 };

export async function createStatusHarness(
  kind: DatabaseKind,
  options: { fakes?: boolean; auth0?: Auth0Fake; stripe?: StripeFake; env?: Record<string, string> } = {},
): Promise<StatusHarness> {
  const auth0 = options.fakes ? (options.auth0 ?? new Auth0Fake()) : undefined;
  const stripe = options.fakes ? (options.stripe ?? new StripeFake()) : undefined;
  await auth0?.start();
  await stripe?.start();
  const deps = await createTestDeps(kind, { seed: true, env: { ...auth0?.env(), ...stripe?.env(), ...options.env }, providerPolicy: FAST_RETRIES });
  if (auth0) await mirrorDemoUsersInto(auth0, deps);
  if (stripe) await mirrorDemoBillingInto(stripe, deps);
  const tokens = {} as Record<PanelRole, string>;
  for (const agent of DEMO_AGENTS) tokens[agent.role] = (await issueSessionToken(deps, { staffId: agent.id, zendeskUserId: agent.zendeskUserId })).token;
  return {
    deps,
    app: createApp(deps),
    tokens,
    ...(auth0 ? { auth0 } : {}),
    ...(stripe ? { stripe } : {}),
    close: async () => {
      await deps.database.close().catch(() => undefined);
      await auth0?.close();
      await stripe?.close();
    },
  };
}

const AUTH0_METHOD: Record<string, "totp" | "webauthn-roaming"> = { totp: "totp", webauthn: "webauthn-roaming" };

/** Every demo user with an idp id, as an Auth0 user (blocked flag, sessions, second factors). */
async function mirrorDemoUsersInto(auth0: Auth0Fake, deps: AppDeps): Promise<void> {
  const { db } = deps.database;
  const users = await db.selectFrom("users").selectAll().where("idp_id", "is not", null).execute();
  const sessions = await db.selectFrom("user_sessions").select("user_id").where("revoked_at", "is", null).execute();
  for (const u of users) {
    auth0.addUser({
      user_id: u.idp_id as string,
      email: u.email,
      name: u.name,
      blocked: u.blocked,
      sessions: sessions.filter((s) => s.user_id === u.id).length,
      refreshTokens: 1,
      authenticationMethods: u.mfa_methods.map((m, i) => ({ id: `${m}|dev_${u.id}_${i}`, type: AUTH0_METHOD[m] ?? "totp", confirmed: true, created_at: "2025-06-01T10:00:00.000Z" })),
      ...(u.locked_until ? { blockedFor: [{ identifier: u.email, ip: "198.51.100.9", connection: "Username-Password-Authentication" }] } : {}),
    });
  }
}

/** Every demo customer, subscription and open invoice as Stripe objects (prices by lookup key `<plan>_<interval>`). */
async function mirrorDemoBillingInto(stripe: StripeFake, deps: AppDeps): Promise<void> {
  const { db } = deps.database;
  const customers = await db.selectFrom("billing_customers").selectAll().execute();
  const subscriptions = await db.selectFrom("billing_subscriptions").selectAll().execute();
  const invoices = await db.selectFrom("billing_invoices").selectAll().where("status", "=", "open").execute();
  for (const s of subscriptions) {
    if (!stripe.prices.has(`price_${s.plan}_${s.interval}`)) stripe.addPrice({ plan: s.plan, interval: s.interval, unitAmount: s.unit_amount_cents });
  }
  for (const c of customers) stripe.addCustomer({ id: c.id, email: c.email, balance: c.balance_cents, currency: c.currency });
  for (const s of subscriptions) {
    stripe.addSubscription({
      id: s.id,
      customer: s.customer_id,
      price: `price_${s.plan}_${s.interval}`,
      quantity: s.quantity,
      status: s.status,
      ...(s.trial_end ? { trialEnd: new Date(s.trial_end) } : {}),
      periodEnd: new Date(s.current_period_end),
      cancelAtPeriodEnd: s.cancel_at_period_end,
      created: new Date(s.created_at),
    });
  }
  for (const i of invoices) {
    stripe.addInvoice({
      id: i.id,
      customer: i.customer_id,
      subscription: i.subscription_id,
      number: i.number,
      status: i.status,
      amountDue: i.amount_due_cents,
      amountRemaining: i.amount_remaining_cents,
      attemptCount: i.attempt_count,
      nextPaymentAttempt: i.next_payment_attempt ? Math.floor(new Date(i.next_payment_attempt).getTime() / 1000) : null,
      created: Math.floor(new Date(i.created_at).getTime() / 1000),
    });
  }
}

export interface ActionCall {
  target: { type: "user" | "account"; id: string };
  input?: Record<string, unknown>;
  expectedVersion?: number;
  ticketId?: string;
  reason?: string;
  confirmationToken?: string;
}

export async function versionOf(deps: AppDeps, target: ActionCall["target"]): Promise<number> {
  const table = target.type === "user" ? "users" : "accounts";
  return (await deps.database.db.selectFrom(table).select("version").where("id", "=", target.id).executeTakeFirstOrThrow()).version;
}

async function envelope(h: StatusHarness, call: ActionCall): Promise<Record<string, unknown>> {
  return {
    ticketId: call.ticketId ?? "1001",
    reason: call.reason ?? "Customer asked on the ticket",
    target: call.target,
    expectedVersion: call.expectedVersion ?? (await versionOf(h.deps, call.target)),
    input: call.input ?? {},
    ...(call.confirmationToken ? { confirmationToken: call.confirmationToken } : {}),
  };
}

/** POST /api/actions/<action> as the demo agent with `role` (expectedVersion read now unless given). */
export async function act(h: StatusHarness, role: PanelRole, action: string, call: ActionCall, options: { idempotencyKey?: string } = {}) {
  const req = request(h.app).post(`/api/actions/${action}`).set("Authorization", `Bearer ${h.tokens[role]}`);
  if (options.idempotencyKey) req.set("Idempotency-Key", options.idempotencyKey);
  return req.send(await envelope(h, call));
}

export async function preview(h: StatusHarness, role: PanelRole, action: string, call: ActionCall) {
  return request(h.app).post(`/api/actions/${action}/preview`).set("Authorization", `Bearer ${h.tokens[role]}`).send(await envelope(h, call));
}

/** Preview, then run with the confirmation token it returned. */
export async function confirmAndAct(h: StatusHarness, role: PanelRole, action: string, call: ActionCall, options: { idempotencyKey?: string } = {}) {
  const previewed = await preview(h, role, action, call);
  if (previewed.status !== 200) throw new Error(`preview ${action} answered ${previewed.status}: ${JSON.stringify(previewed.body)}`);
  return act(h, role, action, { ...call, confirmationToken: previewed.body.confirmationToken as string }, options);
}

/** Audit entries for an action and target, oldest first. */
export async function auditOf(deps: AppDeps, action: string, targetId: string): Promise<AuditEntry[]> {
  const rows = await deps.database.db.selectFrom("audit_log").selectAll().where("action", "=", action).where("target_id", "=", targetId).orderBy("seq").execute();
  return rows.map(toAuditEntry);
}

/**
 * Everything an account's support actions can change locally (the account, its users, their sessions,
 * holds, mail, reset links, subscription, activity), for "nothing changed" checks.
 */
export async function localState(deps: AppDeps, accountId: string): Promise<unknown> {
  const { db } = deps.database;
  const users = await db.selectFrom("users").selectAll().where("account_id", "=", accountId).orderBy("id").execute();
  const userIds = users.map((u) => u.id);
  const none = ["-"];
  return {
    account: await db.selectFrom("accounts").selectAll().where("id", "=", accountId).executeTakeFirst(),
    users,
    sessions: await db.selectFrom("user_sessions").selectAll().where("user_id", "in", userIds.length ? userIds : none).orderBy("id").execute(),
    holds: await db.selectFrom("account_access_holds").selectAll().where("account_id", "=", accountId).orderBy("id").execute(),
    mail: await db.selectFrom("mail_outbox").selectAll().where("account_id", "=", accountId).orderBy("id").execute(),
    resetLinks: await db.selectFrom("password_reset_tokens").selectAll().where("user_id", "in", userIds.length ? userIds : none).orderBy("id").execute(),
    subscriptions: await db.selectFrom("billing_subscriptions").selectAll().where("customer_id", "in", db.selectFrom("billing_customers").select("id").where("account_id", "=", accountId)).orderBy("id").execute(),
    activity: (await db.selectFrom("activity_events").select("id").where("account_id", "=", accountId).execute()).length,
  };
}

export async function userRow(deps: AppDeps, userId: string) {
  return deps.database.db.selectFrom("users").selectAll().where("id", "=", userId).executeTakeFirstOrThrow();
}

export async function accountRow(deps: AppDeps, accountId: string) {
  return deps.database.db.selectFrom("accounts").selectAll().where("id", "=", accountId).executeTakeFirstOrThrow();
}

export function accountOfUser(userId: string): string {
  const match = /^usr_demo_(\d{3})_/.exec(userId);
  if (!match) throw new Error(`not a numbered demo user: ${userId}`);
  return `acc_demo_${match[1]}`;
}
