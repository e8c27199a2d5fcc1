import type { Express } from "express";
import request from "supertest";
import type { PanelRole } from "../../../shared/roles.js";
import type { AuditEntry } from "../../../shared/audit.js";
import { createApp } from "../../src/app.js";
import { toAuditEntry } from "../../src/audit/auditRow.js";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import type { ManualClock } from "../../src/clock.js";
import type { DatabaseKind } from "../../src/db/database.js";
import type { AppDeps } from "../../src/deps.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import type { FakeRequest } from "../fakes/httpFake.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { createTestDeps } from "../support/databases.js";

/**
 * Test harness for the roles, seats and billing actions: the real app over a seeded database
 * (PGlite or PostgreSQL), sessions for the four demo agents, and — for the Stripe runs — a Stripe
 * fake holding the same customers and subscriptions as the demo's built-in billing tables.
 */
export type TestDeps = AppDeps & { clock: ManualClock };

/** The Stripe fake, with faults aimed at one kind of request (e.g. the write an action makes, not its reads). */
export class AimedStripeFake extends StripeFake {
  /** When set, only requests matching it consume injected faults. */
  aim: { method: string; path: RegExp } | undefined;
  protected override faultable(req: FakeRequest): boolean {
    return !this.aim || (req.method === this.aim.method && this.aim.path.test(req.path));
  }
  /** The writes an action sent to `path`, in order. */
  writesTo(method: string, path: RegExp) {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }
}

export interface Harness {
  deps: TestDeps;
  app: Express;
  stripe?: AimedStripeFake;
  close(): Promise<void>;
}

/** Provider retries without waiting, so failure tests stay fast. */
const FAST_RETRIES = { baseDelayMs: 1, maxDelayMs: 5 };

export async function createHarness(kind: DatabaseKind, options: { stripe?: boolean; env?: Record<string, string> } = {}): Promise<Harness> {
  let stripe: AimedStripeFake | undefined;
  if (options.stripe) {
    stripe = new AimedStripeFake();
    await stripe.start();
  }
  const deps = await createTestDeps(kind, { seed: true, env: { ...(stripe ? stripe.env() : {}), ...options.env }, providerPolicy: FAST_RETRIES });
  if (stripe) await mirrorDemoBillingInto(stripe, deps);
  return {
    deps,
    app: createApp(deps),
    ...(stripe ? { stripe } : {}),
    close: async () => {
      await deps.database.close().catch(() => undefined);
      await stripe?.close();
    },
  };
}

/** Every demo customer, subscription and open invoice, as Stripe objects in the fake (prices by lookup key `<plan>_<interval>`). */
async function mirrorDemoBillingInto(stripe: StripeFake, deps: AppDeps): Promise<void> {
  const { db } = deps.database;
  const [customers, subscriptions, invoices] = await Promise.all([
    db.selectFrom("billing_customers").selectAll().execute(),
    db.selectFrom("billing_subscriptions").selectAll().execute(),
    db.selectFrom("billing_invoices").selectAll().where("status", "=", "open").execute(),
  ]);
  for (const s of subscriptions) {
    const priceId = `price_${s.plan}_${s.interval}`;
    if (!stripe.prices.has(priceId)) stripe.addPrice({ plan: s.plan, interval: s.interval, unitAmount: s.unit_amount_cents });
  }
  for (const plan of ["starter", "team", "business", "enterprise"]) {
    for (const interval of ["month", "year"] as const) {
      const monthly = { starter: 1_500, team: 2_900, business: 4_900, enterprise: 8_900 }[plan] as number;
      if (!stripe.prices.has(`price_${plan}_${interval}`)) stripe.addPrice({ plan, interval, unitAmount: interval === "year" ? monthly * 10 : monthly });
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

/** A session for the demo agent with `role`, minted at the (manual) clock's now, so advancing time never expires it. */
export async function sessionOf(h: Harness, role: PanelRole): Promise<string> {
  const agent = DEMO_AGENTS.find((a) => a.role === role);
  if (!agent) throw new Error(`no demo agent with role ${role}`);
  return (await issueSessionToken(h.deps, { staffId: agent.id, zendeskUserId: agent.zendeskUserId })).token;
}

export interface ActionBody {
  target: { type: "user" | "account"; id: string };
  input: Record<string, unknown>;
  expectedVersion?: number;
  ticketId?: string;
  reason?: string;
  confirmationToken?: string;
}

export async function versionOf(deps: AppDeps, target: ActionBody["target"]): Promise<number> {
  const table = target.type === "user" ? "users" : "accounts";
  const row = await deps.database.db.selectFrom(table).select("version").where("id", "=", target.id).executeTakeFirstOrThrow();
  return row.version;
}

async function envelope(h: Harness, body: ActionBody): Promise<Record<string, unknown>> {
  return {
    ticketId: body.ticketId ?? "1006",
    reason: body.reason ?? "Customer asked on the ticket",
    target: body.target,
    expectedVersion: body.expectedVersion ?? (await versionOf(h.deps, body.target)),
    input: body.input,
    ...(body.confirmationToken ? { confirmationToken: body.confirmationToken } : {}),
  };
}

/** POST /api/actions/<action> as the demo agent with `role` (expectedVersion read now unless given). */
export async function act(h: Harness, role: PanelRole, action: string, body: ActionBody, options: { idempotencyKey?: string } = {}) {
  const req = request(h.app).post(`/api/actions/${action}`).set("Authorization", `Bearer ${await sessionOf(h, role)}`);
  if (options.idempotencyKey) req.set("Idempotency-Key", options.idempotencyKey);
  return req.send(await envelope(h, body));
}

export async function preview(h: Harness, role: PanelRole, action: string, body: ActionBody) {
  return request(h.app).post(`/api/actions/${action}/preview`).set("Authorization", `Bearer ${await sessionOf(h, role)}`).send(await envelope(h, body));
}

/** Preview, then run with the confirmation token it returned. */
export async function confirmAndAct(h: Harness, role: PanelRole, action: string, body: ActionBody, options: { idempotencyKey?: string } = {}) {
  const previewed = await preview(h, role, action, body);
  if (previewed.status !== 200) throw new Error(`preview ${action} answered ${previewed.status}: ${JSON.stringify(previewed.body)}`);
  return act(h, role, action, { ...body, confirmationToken: previewed.body.confirmationToken as string }, options);
}

/** Audit entries for an action, oldest first (optionally for one target). */
export async function auditOf(deps: AppDeps, action: string, targetId?: string): Promise<AuditEntry[]> {
  let q = deps.database.db.selectFrom("audit_log").selectAll().where("action", "=", action);
  if (targetId) q = q.where("target_id", "=", targetId);
  return (await q.orderBy("seq").execute()).map(toAuditEntry);
}

export async function auditCount(deps: AppDeps): Promise<number> {
  const row = await deps.database.db.selectFrom("audit_log").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  return Number(row.n);
}
