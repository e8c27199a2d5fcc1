import { createHash } from "node:crypto";
import type { Kysely, Selectable, Transaction } from "kysely";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import type { Clock } from "../../clock.js";
import type { BillingCustomersTable, BillingInvoicesTable, BillingSubscriptionsTable, DB } from "../../db/schema.js";
import { isPlanName, monthlyRecurringCents, unitPriceCents, unusedTimeCents } from "../planCatalog.js";
import type { BillingAccountRef, BillingPort, CancelMode, ProviderCallContext } from "../ports.js";
import { builtinCall, builtinNotFound, builtinRejected } from "./builtinCall.js";

type Executor = Kysely<DB> | Transaction<DB>;
type Customer = Selectable<BillingCustomersTable>;
type Subscription = Selectable<BillingSubscriptionsTable>;
export type InvoiceRow = Pick<Selectable<BillingInvoicesTable>, "id" | "number" | "status" | "amount_due_cents" | "amount_remaining_cents" | "attempt_count" | "next_payment_attempt" | "created_at">;

export const RECENT_INVOICES = 5;
/** Subscriptions that bring in money now; trials and lapsed ones count for nothing. */
const EARNING = new Set<Subscription["status"]>(["active", "past_due"]);

/**
 * Billing from the product's own tables (billing_customers, _subscriptions, _invoices,
 * _balance_transactions). One customer per account; the current subscription is the newest one
 * that is not canceled (else the newest). Writes go through `ctx.executor`.
 */
export class BuiltinBilling implements BillingPort {
  readonly name = "builtin" as const;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly clock: Clock,
  ) {}

  getBilling(account: BillingAccountRef): Promise<BillingSummary | null> {
    return builtinCall("billing.get", async () => {
      const customer = await this.findCustomer(this.db, account);
      // A customer id the account names but the tables lack is an error, as it is at Stripe.
      if (!customer && account.billingCustomerId) throw builtinNotFound("billing.get", `no billing customer ${account.billingCustomerId}`);
      return customer ? this.summarize(this.db, customer) : null;
    });
  }

  changeSeats(account: BillingAccountRef, quantity: number, ctx: ProviderCallContext): Promise<BillingSummary> {
    return this.changeSubscription("billing.change_seats", account, ctx, (sub) => {
      if (!Number.isInteger(quantity) || quantity < 0) throw builtinRejected("billing.change_seats", "seats must be a whole number of at least 0");
      if (sub.status === "canceled") throw builtinRejected("billing.change_seats", "the subscription is canceled");
      return { quantity };
    });
  }

  extendTrial(account: BillingAccountRef, trialEnd: Date, ctx: ProviderCallContext): Promise<BillingSummary> {
    return this.changeSubscription("billing.extend_trial", account, ctx, (sub) => {
      if (sub.status !== "trialing") throw builtinRejected("billing.extend_trial", `the subscription is ${sub.status}, not trialing`);
      // During a trial the first period ends when the trial does.
      return { trial_end: trialEnd, current_period_end: trialEnd };
    });
  }

  changePlan(account: BillingAccountRef, plan: string, ctx: ProviderCallContext): Promise<BillingSummary> {
    return this.changeSubscription("billing.change_plan", account, ctx, (sub) => {
      if (!isPlanName(plan)) throw builtinRejected("billing.change_plan", `unknown plan ${plan}`);
      if (sub.status === "canceled") throw builtinRejected("billing.change_plan", "the subscription is canceled");
      return { plan, unit_amount_cents: unitPriceCents(plan, sub.interval) };
    });
  }

  /** Cancel-now credits the unused paid time to the balance, as CancelMode says (and Stripe does with prorate). */
  async cancelSubscription(account: BillingAccountRef, mode: CancelMode, ctx: ProviderCallContext): Promise<BillingSummary> {
    let unused: { customerId: string; cents: number; currency: string } | null = null;
    const summary = await this.changeSubscription("billing.cancel", account, ctx, (sub, customer) => {
      if (sub.status === "canceled") throw builtinRejected("billing.cancel", "the subscription is already canceled");
      // canceled_at as Stripe keeps it: when the cancellation in place was asked for, set anew by each request.
      if (mode !== "now") return { cancel_at_period_end: true, canceled_at: this.clock.now() };
      const paid = EARNING.has(sub.status) ? unusedTimeCents(sub.unit_amount_cents * sub.quantity, sub.current_period_end, sub.interval, this.clock.now()) : 0;
      if (paid > 0) unused = { customerId: customer.id, cents: paid, currency: customer.currency };
      return { status: "canceled", canceled_at: this.clock.now(), cancel_at_period_end: false };
    });
    const credit = unused as { customerId: string; cents: number; currency: string } | null;
    if (!credit) return summary;
    return builtinCall("billing.cancel", async () => {
      const db = ctx.executor ?? this.db;
      await this.credit(db, credit.customerId, credit.cents, credit.currency, "Unused time of the canceled subscription", `${ctx.idempotencyKey}:unused`);
      const customer = await this.findCustomer(db, account);
      if (!customer) throw builtinNotFound("billing.cancel", `no billing customer for account ${account.id}`);
      return this.summarize(db, customer);
    });
  }

  resumeSubscription(account: BillingAccountRef, ctx: ProviderCallContext): Promise<BillingSummary> {
    return this.changeSubscription("billing.resume", account, ctx, (sub) => {
      if (sub.status === "canceled") throw builtinRejected("billing.resume", "the subscription has already ended");
      if (!sub.cancel_at_period_end) throw builtinRejected("billing.resume", "the subscription is not set to cancel");
      return { cancel_at_period_end: false, canceled_at: null };
    });
  }

  /** The balance transaction id derives from the idempotency key, so a retried credit applies once. */
  applyCredit(account: BillingAccountRef, amountCents: number, description: string, ctx: ProviderCallContext): Promise<{ balanceCents: number }> {
    return builtinCall("billing.apply_credit", async () => {
      if (!Number.isInteger(amountCents) || amountCents <= 0) throw builtinRejected("billing.apply_credit", "the credit must be a positive whole number of cents");
      const db = ctx.executor ?? this.db;
      const customer = await this.findCustomer(db, account);
      if (!customer) throw builtinNotFound("billing.apply_credit", `no billing customer for account ${account.id}`);
      return { balanceCents: (await this.credit(db, customer.id, amountCents, customer.currency, description, ctx.idempotencyKey)) ?? customer.balance_cents };
    });
  }

  /** One credit per key: the new balance, or undefined when this key already credited. */
  private async credit(db: Executor, customerId: string, amountCents: number, currency: string, description: string, key: string): Promise<number | undefined> {
    const id = `cbtxn_${createHash("sha256").update(key).digest("hex").slice(0, 24)}`;
    const inserted = await db
      .insertInto("billing_balance_transactions")
      .values({ id, customer_id: customerId, amount_cents: -amountCents, currency, description, created_at: this.clock.now() })
      .onConflict((oc) => oc.column("id").doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!inserted) return undefined;
    const updated = await db
      .updateTable("billing_customers")
      .set((eb) => ({ balance_cents: eb("balance_cents", "-", amountCents) }))
      .where("id", "=", customerId)
      .returning("balance_cents")
      .executeTakeFirstOrThrow();
    return updated.balance_cents;
  }

  private changeSubscription(
    operation: string,
    account: BillingAccountRef,
    ctx: ProviderCallContext,
    change: (sub: Subscription, customer: Customer) => Partial<Pick<Subscription, "quantity" | "trial_end" | "current_period_end" | "plan" | "unit_amount_cents" | "status" | "canceled_at" | "cancel_at_period_end">>,
  ): Promise<BillingSummary> {
    return builtinCall(operation, async () => {
      const db = ctx.executor ?? this.db;
      const customer = await this.findCustomer(db, account);
      if (!customer) throw builtinNotFound(operation, `no billing customer for account ${account.id}`);
      const sub = await this.currentSubscription(db, customer.id);
      if (!sub) throw builtinNotFound(operation, `customer ${customer.id} has no subscription`);
      await db
        .updateTable("billing_subscriptions")
        .set({ ...change(sub, customer), updated_at: this.clock.now() })
        .where("id", "=", sub.id)
        .execute();
      return this.summarize(db, customer);
    });
  }

  private findCustomer(db: Executor, account: BillingAccountRef): Promise<Customer | undefined> {
    const query = db.selectFrom("billing_customers").selectAll();
    return (account.billingCustomerId ? query.where("id", "=", account.billingCustomerId) : query.where("account_id", "=", account.id)).executeTakeFirst();
  }

  private currentSubscription(db: Executor, customerId: string): Promise<Subscription | undefined> {
    return db
      .selectFrom("billing_subscriptions")
      .selectAll()
      .where("customer_id", "=", customerId)
      .orderBy((eb) => eb("status", "=", "canceled"), "asc")
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
  }

  private async summarize(db: Executor, customer: Customer): Promise<BillingSummary> {
    const sub = await this.currentSubscription(db, customer.id);
    const invoices = await db
      .selectFrom("billing_invoices")
      .select(["id", "number", "status", "amount_due_cents", "amount_remaining_cents", "attempt_count", "next_payment_attempt", "created_at"])
      .where("customer_id", "=", customer.id)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(RECENT_INVOICES)
      .execute();
    return billingSummaryOf(customer, sub, invoices);
  }
}

/** Shared by getBilling and the one-statement requester context (lookup/builtinContext.ts), so both answer alike. */
export function billingSummaryOf(customer: Customer, sub: Subscription | undefined, invoices: InvoiceRow[]): BillingSummary {
  const recentInvoices = invoices.map((i) => ({
    id: i.id,
    number: i.number,
    status: i.status,
    amountDueCents: i.amount_due_cents,
    amountRemainingCents: i.amount_remaining_cents,
    attemptCount: i.attempt_count,
    nextPaymentAttempt: i.next_payment_attempt?.toISOString() ?? null,
    createdAt: i.created_at.toISOString(),
  }));
  // Dunning: open invoices the card was already tried for; the newest says when the next retry is.
  const failing = invoices.filter((i) => i.status === "open" && i.attempt_count > 0);
  const newestFailing = failing[0];
  const amount = sub ? sub.unit_amount_cents * sub.quantity : 0;
  const renews = sub !== undefined && sub.status !== "canceled" && !sub.cancel_at_period_end;
  return {
    customerId: customer.id,
    subscriptionId: sub?.id ?? null,
    plan: sub?.plan ?? null,
    interval: sub?.interval ?? null,
    status: sub?.status ?? null,
    trialEnd: sub?.trial_end?.toISOString() ?? null,
    seats: sub?.quantity ?? null,
    currency: customer.currency,
    mrrCents: sub && EARNING.has(sub.status) ? monthlyRecurringCents(amount, sub.interval) : 0,
    cancelAtPeriodEnd: sub?.cancel_at_period_end ?? false,
    cancelAt: sub && sub.status !== "canceled" && sub.cancel_at_period_end ? sub.current_period_end.toISOString() : null,
    cancelRequestedAt: sub?.canceled_at?.toISOString() ?? null,
    currentPeriodEnd: sub?.current_period_end.toISOString() ?? null,
    // The built-in tables hold one item per subscription: the plan's seats.
    addOnCents: 0,
    // As Stripe does, a credit balance reduces what the next invoice asks for.
    nextInvoice: sub && renews ? { amountCents: Math.max(0, amount + customer.balance_cents), date: (sub.status === "trialing" && sub.trial_end ? sub.trial_end : sub.current_period_end).toISOString() } : null,
    balanceCents: customer.balance_cents,
    recentInvoices,
    dunning: newestFailing
      ? { failedAttempts: newestFailing.attempt_count, nextRetryAt: newestFailing.next_payment_attempt?.toISOString() ?? null, amountDueCents: failing.reduce((sum, i) => sum + i.amount_remaining_cents, 0) }
      : null,
  };
}
