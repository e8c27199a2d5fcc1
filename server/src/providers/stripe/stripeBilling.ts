import type Stripe from "stripe";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { priceLookupKey } from "../planCatalog.js";
import type { ProviderCaller } from "../providerCall.js";
import { ProviderError } from "../providerError.js";
import type { BillingAccountRef, BillingPort, CancelMode, ProviderCallContext } from "../ports.js";
import { currentSubscription, summarizeStripeBilling } from "./stripeSummary.js";

const RECENT_INVOICES = 10;

function rejected(operation: string, message: string): ProviderError {
  return new ProviderError({ provider: "stripe", code: "rejected", operation, message });
}

/**
 * Billing from Stripe. Reads go out at once (customer, subscriptions, invoices, next-invoice preview),
 * so a lookup costs one round trip. Every write carries `ctx.idempotencyKey`, the same on each retry,
 * so a retried support action changes Stripe once.
 */
export class StripeBilling implements BillingPort {
  readonly name = "stripe" as const;

  constructor(
    private readonly stripe: Stripe,
    private readonly caller: ProviderCaller,
  ) {}

  async getBilling(account: BillingAccountRef): Promise<BillingSummary | null> {
    if (!account.billingCustomerId) return null;
    const customerId = account.billingCustomerId;
    const [customer, subscriptions, invoices, upcoming] = await Promise.all([
      this.customer(customerId),
      this.subscriptions(customerId),
      this.caller.call("invoices.list", async ({ timeoutMs }) => (await this.stripe.invoices.list({ customer: customerId, limit: RECENT_INVOICES }, { timeout: timeoutMs })).data),
      this.upcomingInvoice(customerId),
    ]);
    return summarizeStripeBilling({ customer, subscriptions, invoices, upcoming });
  }

  async changeSeats(account: BillingAccountRef, quantity: number, ctx: ProviderCallContext): Promise<BillingSummary> {
    const { sub, item } = await this.liveSubscription(account, "subscriptionItems.update");
    await this.caller.call("subscriptionItems.update", ({ timeoutMs }) =>
      this.stripe.subscriptionItems.update(item.id, { quantity, proration_behavior: "create_prorations" }, { idempotencyKey: ctx.idempotencyKey, timeout: timeoutMs }),
    );
    return this.summaryAfterWrite(account, sub);
  }

  async extendTrial(account: BillingAccountRef, trialEnd: Date, ctx: ProviderCallContext): Promise<BillingSummary> {
    const { sub } = await this.liveSubscription(account, "subscriptions.update");
    if (sub.status !== "trialing") throw rejected("subscriptions.update", `the subscription is ${sub.status}, not trialing`);
    await this.caller.call("subscriptions.update", ({ timeoutMs }) =>
      this.stripe.subscriptions.update(sub.id, { trial_end: Math.floor(trialEnd.getTime() / 1000), proration_behavior: "none" }, { idempotencyKey: ctx.idempotencyKey, timeout: timeoutMs }),
    );
    return this.summaryAfterWrite(account, sub);
  }

  /** Plans are Stripe prices found by lookup key `<plan>_<interval>`; the interval and seats stay. */
  async changePlan(account: BillingAccountRef, plan: string, ctx: ProviderCallContext): Promise<BillingSummary> {
    const { sub, item } = await this.liveSubscription(account, "subscriptions.update");
    const interval = item.price.recurring?.interval === "year" ? "year" : "month";
    const lookupKey = priceLookupKey(plan, interval);
    const prices = await this.caller.call("prices.list", async ({ timeoutMs }) => (await this.stripe.prices.list({ lookup_keys: [lookupKey], active: true, limit: 1 }, { timeout: timeoutMs })).data);
    const price = prices[0];
    if (!price) throw rejected("prices.list", `no active Stripe price with lookup key ${lookupKey}`);
    await this.caller.call("subscriptions.update", ({ timeoutMs }) =>
      this.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: price.id }], proration_behavior: "create_prorations" }, { idempotencyKey: ctx.idempotencyKey, timeout: timeoutMs }),
    );
    return this.summaryAfterWrite(account, sub);
  }

  async cancelSubscription(account: BillingAccountRef, mode: CancelMode, ctx: ProviderCallContext): Promise<BillingSummary> {
    const { sub } = await this.liveSubscription(account, mode === "now" ? "subscriptions.cancel" : "subscriptions.update");
    if (mode === "now") {
      await this.caller.call("subscriptions.cancel", ({ timeoutMs }) => this.stripe.subscriptions.cancel(sub.id, {}, { idempotencyKey: ctx.idempotencyKey, timeout: timeoutMs }));
    } else {
      await this.caller.call("subscriptions.update", ({ timeoutMs }) =>
        this.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true }, { idempotencyKey: ctx.idempotencyKey, timeout: timeoutMs }),
      );
    }
    return this.summaryAfterWrite(account, sub);
  }

  async resumeSubscription(account: BillingAccountRef, ctx: ProviderCallContext): Promise<BillingSummary> {
    const { sub } = await this.liveSubscription(account, "subscriptions.update");
    if (!sub.cancel_at_period_end) throw rejected("subscriptions.update", "the subscription is not set to cancel");
    await this.caller.call("subscriptions.update", ({ timeoutMs }) =>
      this.stripe.subscriptions.update(sub.id, { cancel_at_period_end: false }, { idempotencyKey: ctx.idempotencyKey, timeout: timeoutMs }),
    );
    return this.summaryAfterWrite(account, sub);
  }

  /** A negative balance transaction is a credit: it reduces what the customer's next invoices ask for. */
  async applyCredit(account: BillingAccountRef, amountCents: number, description: string, ctx: ProviderCallContext): Promise<{ balanceCents: number }> {
    if (!Number.isInteger(amountCents) || amountCents <= 0) throw rejected("customers.createBalanceTransaction", "the credit must be a positive whole number of cents");
    const customer = await this.customer(this.customerIdOf(account, "customers.createBalanceTransaction"));
    const txn = await this.caller.call("customers.createBalanceTransaction", ({ timeoutMs }) =>
      this.stripe.customers.createBalanceTransaction(customer.id, { amount: -amountCents, currency: customer.currency ?? "usd", description }, { idempotencyKey: ctx.idempotencyKey, timeout: timeoutMs }),
    );
    return { balanceCents: txn.ending_balance };
  }

  private customerIdOf(account: BillingAccountRef, operation: string): string {
    if (!account.billingCustomerId) throw new ProviderError({ provider: "stripe", code: "not_found", operation, message: `account ${account.id} has no Stripe customer` });
    return account.billingCustomerId;
  }

  private async customer(id: string): Promise<Stripe.Customer> {
    const customer = await this.caller.call("customers.retrieve", ({ timeoutMs }) => this.stripe.customers.retrieve(id, {}, { timeout: timeoutMs }));
    if (customer.deleted) throw new ProviderError({ provider: "stripe", code: "not_found", status: 404, operation: "customers.retrieve", message: `Stripe customer ${id} was deleted` });
    return customer;
  }

  private subscriptions(customerId: string): Promise<Stripe.Subscription[]> {
    return this.caller.call("subscriptions.list", async ({ timeoutMs }) => (await this.stripe.subscriptions.list({ customer: customerId, status: "all", limit: 10 }, { timeout: timeoutMs })).data);
  }

  /** Without a subscription id Stripe previews the next invoice among the customer's subscriptions. */
  private async upcomingInvoice(customerId: string): Promise<Stripe.Invoice | null> {
    try {
      return await this.caller.call("invoices.createPreview", ({ timeoutMs }) => this.stripe.invoices.createPreview({ customer: customerId }, { timeout: timeoutMs }));
    } catch (err) {
      // Nothing due (canceled or cancelling): Stripe answers invoice_upcoming_none.
      if (err instanceof ProviderError && (err.cause as { code?: string } | undefined)?.code === "invoice_upcoming_none") return null;
      throw err;
    }
  }

  private async liveSubscription(account: BillingAccountRef, operation: string): Promise<{ sub: Stripe.Subscription; item: Stripe.SubscriptionItem }> {
    const subs = await this.subscriptions(this.customerIdOf(account, operation));
    const sub = currentSubscription(subs);
    if (!sub) throw new ProviderError({ provider: "stripe", code: "not_found", operation, message: `customer ${account.billingCustomerId} has no subscription` });
    if (sub.status === "canceled" || sub.status === "incomplete_expired") throw rejected(operation, "the subscription has already ended");
    const item = sub.items.data[0];
    if (!item) throw rejected(operation, `subscription ${sub.id} has no items`);
    return { sub, item };
  }

  /** The write went through; a failed read-back must not look like a failed write (it is partly applied). */
  private async summaryAfterWrite(account: BillingAccountRef, sub: Stripe.Subscription): Promise<BillingSummary> {
    const summary = await this.getBilling(account).catch((err: unknown) => {
      if (!(err instanceof ProviderError)) throw err;
      throw new ProviderError({ provider: "stripe", code: err.code, status: err.status, operation: err.operation, partlyApplied: true, message: `the change to ${sub.id} was made; reading it back failed: ${err.message}`, cause: err });
    });
    if (!summary) throw new ProviderError({ provider: "stripe", code: "not_found", operation: "customers.retrieve", message: `customer of ${sub.id} disappeared` });
    return summary;
  }
}
