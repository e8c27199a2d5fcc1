import type Stripe from "stripe";
import type { BillingSummary } from "../../../../shared/schemas/context.js";
import { priceLookupKey } from "../planCatalog.js";
import type { CallAttempt, ProviderCaller } from "../providerCall.js";
import { ProviderError } from "../providerError.js";
import type { BillingAccountRef, BillingPort, CancelMode, ProviderCallContext } from "../ports.js";
import { stripeIdempotencyKey, withoutCallSiteStack } from "./stripeClient.js";
import { currentSubscription, planItem, summarizeStripeBilling } from "./stripeSummary.js";
import { settle, unsettle } from "../../settled.js";
import type { Logger } from "../../logger.js";
import type { SubscriptionHintStore } from "../subscriptionHints.js";

const RECENT_INVOICES = 10;

function rejected(operation: string, message: string): ProviderError {
  return new ProviderError({ provider: "stripe", code: "rejected", operation, message });
}

const ended = (sub: Stripe.Subscription) => sub.status === "canceled" || sub.status === "incomplete_expired";

/**
 * Billing from Stripe at the pinned API version. A lookup reads the customer, subscriptions and
 * invoices at once and previews the current subscription's next invoice as soon as its id is known
 * (since 2025-03-31 Stripe previews only a named subscription, no longer "the customer's next invoice"). Every POST carries
 * `ctx.idempotencyKey` (shortened to Stripe's 255 characters when longer), the same on each retry,
 * so a retried support action changes Stripe once; DELETE takes no key at Stripe, so cancel-now is
 * made safe to retry by reading the subscription back instead.
 */
export class StripeBilling implements BillingPort {
  readonly name = "stripe" as const;

  constructor(
    private readonly stripe: Stripe,
    private readonly caller: ProviderCaller,
    /** `hints`: where subscription hints are shared with other processes (without it, this process's memory only). */
    private readonly options: { hints?: SubscriptionHintStore; logger?: Logger } = {},
  ) {}

  /** Every Stripe call: through the caller (timeout, retries, one error type), without the SDK's call-site stack. */
  private call<T>(operation: string, fn: (attempt: CallAttempt) => Promise<T>, options?: { write?: boolean }): Promise<T> {
    return this.caller.call(operation, (attempt) => withoutCallSiteStack(() => fn(attempt)), options);
  }

  async getBilling(account: BillingAccountRef): Promise<BillingSummary | null> {
    if (!account.billingCustomerId) return null;
    const customerId = account.billingCustomerId;
    // The preview needs the subscription's id. The one this customer had last time (kept in the database,
    // so also when another process or a previous run read it) is asked for beside the list: one round of
    // calls instead of two. It is used only if the list shows it is still the current subscription,
    // otherwise the preview is asked again for the right one.
    const hinted = this.subscriptionHint(customerId, account.subscriptionHint);
    const speculative = hinted.then((id) => (id === null ? undefined : settle(this.upcomingInvoice(customerId, id))));
    const subscriptionsAndPreview = this.subscriptions(customerId).then(async (subscriptions) => {
      const sub = currentSubscription(subscriptions);
      const live = sub && !ended(sub) ? sub : undefined;
      const hint = await hinted;
      this.keepSubscriptionHint(customerId, hint, live?.id ?? null);
      if (!live) return { subscriptions, upcoming: null };
      const guess = await speculative;
      const upcoming = guess && live.id === hint ? unsettle(guess) : await this.upcomingInvoice(customerId, live.id);
      return { subscriptions, upcoming };
    });
    const [customer, { subscriptions, upcoming }, invoices] = await Promise.all([
      this.customer(customerId),
      subscriptionsAndPreview,
      this.call("invoices.list", async ({ timeoutMs }) => (await this.stripe.invoices.list({ customer: customerId, limit: RECENT_INVOICES }, { timeout: timeoutMs })).data),
    ]);
    return summarizeStripeBilling({ customer, subscriptions, invoices, upcoming });
  }

  /**
   * Customer → the id of its current subscription when last read, as this process knows it is kept; a
   * first-level cache in front of the store, and the whole of it without one. Bounded.
   */
  private readonly subscriptionHints = new Map<string, string | null>();

  /** Never rejects: without a hint the preview waits for the list, which is slower, not wrong. */
  private subscriptionHint(customerId: string, readByCaller: string | null | undefined): Promise<string | null> {
    // Read with the requester in this request: fresher than this process's memory.
    if (readByCaller !== undefined) return Promise.resolve(readByCaller);
    const remembered = this.subscriptionHints.get(customerId);
    const store = this.options.hints;
    if (remembered !== undefined || !store) return Promise.resolve(remembered ?? null);
    return store.read(customerId).catch((err: unknown) => {
      this.options.logger?.warn({ err, customerId }, "the subscription hint could not be read; the invoice preview waits for the subscription list");
      return null;
    });
  }

  /** The list said which subscription is current: kept when it differs from the hint, off the response's path. */
  private keepSubscriptionHint(customerId: string, hint: string | null, current: string | null): void {
    this.rememberSubscription(customerId, current);
    const store = this.options.hints;
    if (!store || hint === current) return;
    store.write(customerId, current).catch((err: unknown) => {
      // Not remembered as kept, so the next read of this customer tries again.
      this.subscriptionHints.delete(customerId);
      this.options.logger?.warn({ err, customerId }, "the subscription hint could not be kept; the next process to read this customer takes two rounds of calls");
    });
  }

  private rememberSubscription(customerId: string, subscriptionId: string | null): void {
    this.subscriptionHints.delete(customerId);
    if (this.subscriptionHints.size >= 10_000) {
      const oldest = this.subscriptionHints.keys().next().value;
      if (oldest !== undefined) this.subscriptionHints.delete(oldest);
    }
    this.subscriptionHints.set(customerId, subscriptionId);
  }

  async changeSeats(account: BillingAccountRef, quantity: number, ctx: ProviderCallContext): Promise<BillingSummary> {
    const { sub, item } = await this.liveSubscription(account, "subscriptionItems.update");
    await this.call("subscriptionItems.update", ({ timeoutMs }) =>
      this.stripe.subscriptionItems.update(item.id, { quantity, proration_behavior: "create_prorations" }, this.writeOptions(ctx, timeoutMs)),
      { write: true },
    );
    return this.summaryAfterWrite(account, sub);
  }

  async extendTrial(account: BillingAccountRef, trialEnd: Date, ctx: ProviderCallContext): Promise<BillingSummary> {
    const { sub } = await this.liveSubscription(account, "subscriptions.update");
    if (sub.status !== "trialing") throw rejected("subscriptions.update", `the subscription is ${sub.status}, not trialing`);
    await this.call("subscriptions.update", ({ timeoutMs }) =>
      this.stripe.subscriptions.update(sub.id, { trial_end: Math.floor(trialEnd.getTime() / 1000), proration_behavior: "none" }, this.writeOptions(ctx, timeoutMs)),
      { write: true },
    );
    return this.summaryAfterWrite(account, sub);
  }

  /** Plans are Stripe prices found by lookup key `<plan>_<interval>`; the interval, seats and add-ons stay. */
  async changePlan(account: BillingAccountRef, plan: string, ctx: ProviderCallContext): Promise<BillingSummary> {
    const { sub, item } = await this.liveSubscription(account, "subscriptions.update");
    const interval = item.price.recurring?.interval === "year" ? "year" : "month";
    const lookupKey = priceLookupKey(plan, interval);
    const prices = await this.call("prices.list", async ({ timeoutMs }) => (await this.stripe.prices.list({ lookup_keys: [lookupKey], active: true, limit: 1 }, { timeout: timeoutMs })).data);
    const price = prices[0];
    if (!price) throw rejected("prices.list", `no active Stripe price with lookup key ${lookupKey}`);
    await this.call("subscriptions.update", ({ timeoutMs }) =>
      this.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: price.id }], proration_behavior: "create_prorations" }, this.writeOptions(ctx, timeoutMs)),
      { write: true },
    );
    return this.summaryAfterWrite(account, sub);
  }

  async cancelSubscription(account: BillingAccountRef, mode: CancelMode, ctx: ProviderCallContext): Promise<BillingSummary> {
    const { sub } = await this.liveSubscription(account, mode === "now" ? "subscriptions.cancel" : "subscriptions.update");
    if (mode === "now") {
      // Unused time is credited (prorate) and the final invoice is issued now (invoice_now): CancelMode says why.
      const cancel = () => this.call("subscriptions.cancel", ({ timeoutMs }) => this.stripe.subscriptions.cancel(sub.id, { prorate: true, invoice_now: true }, { timeout: timeoutMs }), { write: true });
      await cancel().catch(async (err: unknown) => {
        // A lost answer retried without a key is refused as "already canceled": the first attempt did it.
        // A failed check says nothing either way, so the cancel's own error stands (unknown after a 5xx or timeout).
        const current = await this.subscriptions(this.customerIdOf(account, "subscriptions.cancel")).then(
          (subs) => subs.find((s) => s.id === sub.id),
          () => {
            throw err;
          },
        );
        if (!current || current.status !== "canceled") throw err;
      });
    } else {
      await this.call("subscriptions.update", ({ timeoutMs }) =>
        this.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true }, this.writeOptions(ctx, timeoutMs)),
        { write: true },
      );
    }
    return this.summaryAfterWrite(account, sub);
  }

  /** Clears whichever way the subscription was set to end: `cancel_at_period_end`, or a `cancel_at` date. */
  async resumeSubscription(account: BillingAccountRef, ctx: ProviderCallContext): Promise<BillingSummary> {
    const { sub } = await this.liveSubscription(account, "subscriptions.update");
    if (!sub.cancel_at_period_end && sub.cancel_at === null) throw rejected("subscriptions.update", "the subscription is not set to cancel");
    const params: Stripe.SubscriptionUpdateParams = sub.cancel_at_period_end ? { cancel_at_period_end: false } : { cancel_at: "" };
    await this.call("subscriptions.update", ({ timeoutMs }) => this.stripe.subscriptions.update(sub.id, params, this.writeOptions(ctx, timeoutMs)), { write: true });
    return this.summaryAfterWrite(account, sub);
  }

  /** A negative balance transaction is a credit: it reduces what the customer's next invoices ask for. */
  async applyCredit(account: BillingAccountRef, amountCents: number, description: string, ctx: ProviderCallContext): Promise<{ balanceCents: number }> {
    if (!Number.isInteger(amountCents) || amountCents <= 0) throw rejected("customers.createBalanceTransaction", "the credit must be a positive whole number of cents");
    const customer = await this.customer(this.customerIdOf(account, "customers.createBalanceTransaction"));
    const txn = await this.call("customers.createBalanceTransaction", ({ timeoutMs }) =>
      this.stripe.customers.createBalanceTransaction(
        customer.id,
        // The key in metadata lets the reconciler find this credit once the key itself is no help (a replayed 500, or pruned after 24 h).
        { amount: -amountCents, currency: customer.currency ?? "usd", description, metadata: { steward_key: stripeIdempotencyKey(ctx.idempotencyKey) } },
        this.writeOptions(ctx, timeoutMs),
      ),
      { write: true },
    );
    return { balanceCents: txn.ending_balance };
  }

  /** The credit carrying this key in its metadata, among the customer's latest balance transactions. */
  async findCredit(account: BillingAccountRef, ctx: ProviderCallContext): Promise<{ found: true; balanceCents: number } | { found: false }> {
    const customerId = this.customerIdOf(account, "customers.listBalanceTransactions");
    const marker = stripeIdempotencyKey(ctx.idempotencyKey);
    let startingAfter: string | undefined;
    // Bounded: a credit older than the last 500 transactions is beyond what an open operation can be.
    for (let page = 0; page < 5; page++) {
      const list = await this.call("customers.listBalanceTransactions", ({ timeoutMs }) =>
        this.stripe.customers.listBalanceTransactions(customerId, { limit: 100, ...(startingAfter ? { starting_after: startingAfter } : {}) }, { timeout: timeoutMs }),
      );
      if (list.data.some((t) => t.metadata?.steward_key === marker)) {
        const customer = await this.customer(customerId);
        return { found: true, balanceCents: customer.balance };
      }
      if (!list.has_more || list.data.length === 0) break;
      startingAfter = list.data.at(-1)?.id;
    }
    return { found: false };
  }

  /** Options for a POST: the support action's idempotency key, in a form Stripe accepts. */
  private writeOptions(ctx: ProviderCallContext, timeoutMs: number): Stripe.RequestOptions {
    return { idempotencyKey: stripeIdempotencyKey(ctx.idempotencyKey), timeout: timeoutMs };
  }

  private customerIdOf(account: BillingAccountRef, operation: string): string {
    if (!account.billingCustomerId) throw new ProviderError({ provider: "stripe", code: "not_found", operation, message: `account ${account.id} has no Stripe customer` });
    return account.billingCustomerId;
  }

  private async customer(id: string): Promise<Stripe.Customer> {
    const customer = await this.call("customers.retrieve", ({ timeoutMs }) => this.stripe.customers.retrieve(id, {}, { timeout: timeoutMs }));
    if (customer.deleted) throw new ProviderError({ provider: "stripe", code: "not_found", status: 404, operation: "customers.retrieve", message: `Stripe customer ${id} was deleted` });
    return customer;
  }

  private subscriptions(customerId: string): Promise<Stripe.Subscription[]> {
    return this.call("subscriptions.list", async ({ timeoutMs }) => (await this.stripe.subscriptions.list({ customer: customerId, status: "all", limit: 10 }, { timeout: timeoutMs })).data);
  }

  /** The subscription's next invoice; null when Stripe says none will come (the subscription is ending). */
  private async upcomingInvoice(customerId: string, subscriptionId: string): Promise<Stripe.Invoice | null> {
    try {
      return await this.call("invoices.createPreview", ({ timeoutMs }) => this.stripe.invoices.createPreview({ customer: customerId, subscription: subscriptionId }, { timeout: timeoutMs }));
    } catch (err) {
      if (err instanceof ProviderError && (err.cause as { code?: string } | undefined)?.code === "invoice_upcoming_none") return null;
      throw err;
    }
  }

  private async liveSubscription(account: BillingAccountRef, operation: string): Promise<{ sub: Stripe.Subscription; item: Stripe.SubscriptionItem }> {
    const subs = await this.subscriptions(this.customerIdOf(account, operation));
    const sub = currentSubscription(subs);
    if (!sub) throw new ProviderError({ provider: "stripe", code: "not_found", operation, message: `customer ${account.billingCustomerId} has no subscription` });
    if (ended(sub)) throw rejected(operation, "the subscription has already ended");
    const item = planItem(sub);
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
