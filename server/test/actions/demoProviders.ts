import type { AppDeps } from "../../src/deps.js";
import { planNames, unitPriceCents } from "../../src/providers/planCatalog.js";
import { Auth0Fake } from "../fakes/auth0Fake.js";
import type { FakeReply, FakeRequest } from "../fakes/httpFake.js";
import { StripeFake } from "../fakes/stripeFake.js";

/**
 * The Auth0 and Stripe fakes as the action tests use them: loaded with the demo data (so the
 * adapters see the same users, customers and subscriptions as the built-in tables), plus the two
 * faults the fakes' own injection (failNext, delayNext, dropNext with a FaultTarget) cannot express.
 */

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
 * Stripe whose next `n` matching writes take effect but answer 500 (the response lost on the way
 * back, as an HTTP error rather than dropNext's reset connection): the adapter's retry must reach
 * Stripe with the same Idempotency-Key.
 */
export class ScriptedStripe extends StripeFake {
  private lost: { left: number; match: (req: FakeRequest) => boolean } | null = null;

  loseResponses(n: number, match: (req: FakeRequest) => boolean): this {
    this.lost = { left: n, match };
    return this;
  }

  protected override route(req: FakeRequest): FakeReply {
    const lost = this.lost;
    if (!lost || lost.left === 0 || !lost.match(req)) return super.route(req);
    lost.left--;
    super.route(req);
    return this.errorReply(500, {});
  }
}

/** Matches Auth0 `users.update` calls that set `blocked` to the given value. */
export const settingBlocked = (blocked: boolean) => (req: FakeRequest) => req.method === "PATCH" && (req.body as { blocked?: boolean } | undefined)?.blocked === blocked;

const AUTH0_METHOD: Record<string, "totp" | "webauthn-roaming"> = { totp: "totp", webauthn: "webauthn-roaming" };

/** Every demo user with an idp id, as an Auth0 user (blocked flag, sessions, second factors). */
export async function mirrorDemoUsersInto(auth0: Auth0Fake, deps: AppDeps): Promise<void> {
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

/**
 * Every demo customer, subscription and open invoice as Stripe objects, and a price for every
 * catalogue plan and interval (lookup key `<plan>_<interval>`), so plan changes find theirs.
 */
export async function mirrorDemoBillingInto(stripe: StripeFake, deps: AppDeps): Promise<void> {
  const { db } = deps.database;
  const customers = await db.selectFrom("billing_customers").selectAll().execute();
  const subscriptions = await db.selectFrom("billing_subscriptions").selectAll().execute();
  const invoices = await db.selectFrom("billing_invoices").selectAll().where("status", "=", "open").execute();
  for (const s of subscriptions) {
    if (!stripe.prices.has(`price_${s.plan}_${s.interval}`)) stripe.addPrice({ plan: s.plan, interval: s.interval, unitAmount: s.unit_amount_cents });
  }
  for (const plan of planNames()) {
    for (const interval of ["month", "year"] as const) {
      if (!stripe.prices.has(`price_${plan}_${interval}`)) stripe.addPrice({ plan, interval, unitAmount: unitPriceCents(plan, interval) });
    }
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
      ...(s.canceled_at ? { canceledAt: new Date(s.canceled_at) } : {}),
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
