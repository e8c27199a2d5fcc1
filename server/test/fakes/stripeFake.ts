import { randomBytes } from "node:crypto";
import type Stripe from "stripe";
import { HttpFake, type FailOptions, type FakeReply, type FakeRequest } from "./httpFake.js";
import { balanceTransactionObject, customerObject, invoiceObject, list, priceObject, subscriptionItemObject, subscriptionObject, unix } from "./stripeObjects.js";

/**
 * A stateful stand-in for the Stripe v1 endpoints Steward uses (customers, balance transactions,
 * subscriptions and items, invoices and the next-invoice preview, prices), with Stripe's object
 * shapes, form-encoded bodies and idempotency keys: the same key replays the first answer and
 * changes nothing; the same key with different parameters is refused, as Stripe does.
 */
type Form = Record<string, unknown>;
type Params = Record<string, string>;

const DAY = 86_400;
const id = (prefix: string) => `${prefix}_${randomBytes(7).toString("hex")}`;

/** `items[0][id]=x` → `{ items: { 0: { id: x } } }`, the way Stripe reads its form encoding. */
export function parseStripeForm(raw: string): Form {
  const out: Form = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const parts = key.replace(/\]/g, "").split("[");
    let node = out;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) node[part] = value;
      else node = (node[part] ??= {}) as Form;
    });
  }
  return out;
}

const stripeError = (status: number, type: string, message: string, extra: Record<string, string> = {}): FakeReply => ({
  status,
  body: { error: { type, message, ...extra } },
  headers: { "request-id": id("req") },
});
const isReply = (x: Stripe.Subscription | FakeReply): x is FakeReply => typeof x.status === "number";
const missing = (what: string, key: string) => stripeError(404, "invalid_request_error", `No such ${what}: '${key}'`, { code: "resource_missing", param: "id" });

export class StripeFake extends HttpFake {
  readonly secretKey: string;
  readonly customers = new Map<string, Stripe.Customer>();
  readonly prices = new Map<string, Stripe.Price>();
  readonly subscriptions = new Map<string, Stripe.Subscription>();
  readonly invoices = new Map<string, Stripe.Invoice>();
  readonly balanceTransactions: Stripe.CustomerBalanceTransaction[] = [];
  private readonly idempotency = new Map<string, { fingerprint: string; reply: FakeReply }>();
  private readonly routes: { method: string; pattern: RegExp; handler: (req: FakeRequest, params: Params, form: Form) => FakeReply }[] = [];

  constructor(options: { secretKey?: string } = {}) {
    super();
    this.secretKey = options.secretKey ?? "sk_test_steward_fake";
    this.defineRoutes();
  }

  /** The environment that points Steward's Stripe adapter at this fake. */
  env(): Record<string, string> {
    return { BILLING_PROVIDER: "stripe", STRIPE_SECRET_KEY: this.secretKey, STRIPE_BASE_URL: this.url };
  }

  addPrice(init: { plan: string; interval: "month" | "year"; unitAmount: number }): Stripe.Price {
    const lookupKey = `${init.plan}_${init.interval}`;
    const price = priceObject({ id: `price_${lookupKey}`, lookupKey, unitAmount: init.unitAmount, interval: init.interval });
    this.prices.set(price.id, price);
    return price;
  }

  addCustomer(init: { id: string; email: string; balance?: number; currency?: string }): Stripe.Customer {
    const customer = customerObject(init);
    this.customers.set(customer.id, customer);
    return customer;
  }

  addSubscription(init: {
    id: string;
    customer: string;
    price: string;
    quantity: number;
    status: Stripe.Subscription.Status;
    trialEnd?: Date;
    periodEnd?: Date;
    cancelAtPeriodEnd?: boolean;
    created?: Date;
  }): Stripe.Subscription {
    const price = this.prices.get(init.price);
    if (!price) throw new Error(`seed the price ${init.price} first`);
    const created = unix(init.created ?? new Date(Date.now() - 90 * DAY * 1000));
    const periodEnd = unix(init.periodEnd ?? init.trialEnd ?? new Date(Date.now() + 12 * DAY * 1000));
    const periodStart = periodEnd - (price.recurring?.interval === "year" ? 365 : 30) * DAY;
    const item = subscriptionItemObject({ id: `si_${init.id.replace(/^sub_/, "")}`, subscription: init.id, price, quantity: init.quantity, periodStart, periodEnd, created });
    const sub = subscriptionObject({
      id: init.id,
      customer: init.customer,
      item,
      status: init.status,
      created,
      trialEnd: init.trialEnd ? unix(init.trialEnd) : null,
      cancelAtPeriodEnd: init.cancelAtPeriodEnd,
      canceledAt: init.status === "canceled" ? created + DAY : null,
    });
    this.subscriptions.set(sub.id, sub);
    return sub;
  }

  addInvoice(init: Parameters<typeof invoiceObject>[0]): Stripe.Invoice {
    const invoice = invoiceObject(init);
    this.invoices.set(invoice.id, invoice);
    return invoice;
  }

  protected parseBody(raw: string): unknown {
    return parseStripeForm(raw);
  }

  protected errorReply(status: number, options: FailOptions): FakeReply {
    const reply =
      status === 429
        ? stripeError(429, "invalid_request_error", "Request rate limit exceeded.", { code: "rate_limit" })
        : status >= 500
          ? stripeError(status, "api_error", "Something went wrong on Stripe's end.")
          : stripeError(status, "invalid_request_error", "Injected failure");
    if (options.retryAfter !== undefined) reply.headers = { ...reply.headers, "retry-after": String(options.retryAfter) };
    return reply;
  }

  protected route(req: FakeRequest): FakeReply {
    if (String(req.headers.authorization ?? "") !== `Bearer ${this.secretKey}`) {
      return stripeError(401, "invalid_request_error", "Invalid API Key provided.");
    }
    const key = req.headers["idempotency-key"];
    const fingerprint = `${req.method} ${req.path} ${req.rawBody}`;
    if (typeof key === "string" && req.method !== "GET") {
      const stored = this.idempotency.get(key);
      if (stored && stored.fingerprint !== fingerprint) {
        return stripeError(400, "idempotency_error", `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`);
      }
      if (stored) return { ...stored.reply, headers: { ...stored.reply.headers, "idempotent-replayed": "true" }, replayed: true };
    }
    const form = { ...parseStripeForm(req.query.toString()), ...((req.body as Form | undefined) ?? {}) };
    let reply = stripeError(404, "invalid_request_error", `Unrecognized request URL (${req.method}: ${req.path}).`);
    for (const r of this.routes) {
      const match = r.method === req.method ? r.pattern.exec(req.path) : null;
      if (match) {
        reply = r.handler(req, Object.fromEntries(Object.entries(match.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)])), form);
        break;
      }
    }
    if (typeof key === "string" && req.method !== "GET") {
      reply.headers = { ...reply.headers, "idempotency-key": key };
      this.idempotency.set(key, { fingerprint, reply });
    }
    return reply;
  }

  private defineRoutes(): void {
    const on = (method: string, template: string, handler: (req: FakeRequest, params: Params, form: Form) => FakeReply) => {
      this.routes.push({ method, pattern: new RegExp(`^${template.replace(/\{(\w+)\}/g, "(?<$1>[^/]+)")}$`), handler });
    };
    const ok = (body: unknown): FakeReply => ({ status: 200, body, headers: { "request-id": id("req") } });
    const number = (v: unknown) => Number(v);

    on("GET", "/v1/customers/{id}", (_req, { id: cid = "" }) => {
      const customer = this.customers.get(cid);
      return customer ? ok(customer) : missing("customer", cid);
    });
    on("POST", "/v1/customers/{id}/balance_transactions", (_req, { id: cid = "" }, form) => {
      const customer = this.customers.get(cid);
      if (!customer) return missing("customer", cid);
      if (form.amount === undefined || form.currency === undefined) return stripeError(400, "invalid_request_error", "Missing required param: amount or currency.", { code: "parameter_missing" });
      const endingBalance = customer.balance + number(form.amount);
      this.customers.set(cid, { ...customer, balance: endingBalance });
      const txn = balanceTransactionObject({ id: id("cbtxn"), customer: cid, amount: number(form.amount), currency: String(form.currency), description: typeof form.description === "string" ? form.description : null, endingBalance });
      this.balanceTransactions.push(txn);
      return ok(txn);
    });
    on("GET", "/v1/prices", (_req, _params, form) => {
      const keys = Object.values((form.lookup_keys as Form | undefined) ?? {}).map(String);
      const data = [...this.prices.values()].filter((p) => (keys.length === 0 || (p.lookup_key !== null && keys.includes(p.lookup_key))) && (form.active === undefined || String(p.active) === form.active));
      return ok(list("/v1/prices", data.slice(0, Number(form.limit ?? 10))));
    });
    on("GET", "/v1/subscriptions", (_req, _params, form) => {
      const status = String(form.status ?? "");
      const data = [...this.subscriptions.values()]
        .filter((s) => s.customer === form.customer && (status === "all" ? true : status ? s.status === status : s.status !== "canceled"))
        .sort((a, b) => b.created - a.created);
      return ok(list("/v1/subscriptions", data.slice(0, Number(form.limit ?? 10))));
    });
    on("POST", "/v1/subscriptions/{id}", (_req, { id: sid = "" }, form) => this.updateSubscription(sid, form));
    on("DELETE", "/v1/subscriptions/{id}", (_req, { id: sid = "" }) => {
      const sub = this.subscriptions.get(sid);
      if (!sub) return missing("subscription", sid);
      if (sub.status === "canceled") return stripeError(400, "invalid_request_error", `A canceled subscription can only update its cancellation_details and metadata.`);
      const now = unix();
      const canceled: Stripe.Subscription = { ...sub, status: "canceled", canceled_at: now, ended_at: now, cancel_at_period_end: false, cancel_at: null };
      this.subscriptions.set(sid, canceled);
      return ok(canceled);
    });
    on("POST", "/v1/subscription_items/{id}", (_req, { id: itemId = "" }, form) => {
      const sub = [...this.subscriptions.values()].find((s) => s.items.data.some((i) => i.id === itemId));
      if (!sub) return missing("subscription_item", itemId);
      const updated = this.applyItemChange(sub, itemId, form);
      if (isReply(updated)) return updated;
      return ok(updated.items.data.find((i) => i.id === itemId));
    });
    on("GET", "/v1/invoices", (_req, _params, form) => {
      const data = [...this.invoices.values()]
        .filter((i) => i.customer === form.customer && (form.status === undefined || i.status === form.status))
        .sort((a, b) => b.created - a.created);
      return ok(list("/v1/invoices", data.slice(0, Number(form.limit ?? 10))));
    });
    on("POST", "/v1/invoices/create_preview", (_req, _params, form) => this.previewInvoice(form));
  }

  private updateSubscription(sid: string, form: Form): FakeReply {
    const sub = this.subscriptions.get(sid);
    if (!sub) return missing("subscription", sid);
    if (sub.status === "canceled") return stripeError(400, "invalid_request_error", "A canceled subscription can only update its cancellation_details and metadata.");
    let next: Stripe.Subscription = { ...sub };
    if (form.cancel_at_period_end !== undefined) {
      const cancel = form.cancel_at_period_end === "true";
      next = { ...next, cancel_at_period_end: cancel, cancel_at: cancel ? (sub.items.data[0]?.current_period_end ?? null) : null };
    }
    if (form.trial_end !== undefined) {
      const trialEnd = form.trial_end === "now" ? unix() : Number(form.trial_end);
      if (trialEnd <= unix() && form.trial_end !== "now") return stripeError(400, "invalid_request_error", "Invalid timestamp: must be an integer Unix timestamp in the future.", { param: "trial_end" });
      next = { ...next, trial_end: trialEnd, status: form.trial_end === "now" ? "active" : "trialing", items: { ...next.items, data: next.items.data.map((i) => ({ ...i, current_period_end: trialEnd })) } };
    }
    this.subscriptions.set(sid, next);
    for (const change of Object.values((form.items as Form | undefined) ?? {}) as Form[]) {
      const current = this.subscriptions.get(sid) as Stripe.Subscription;
      const result = this.applyItemChange(current, String(change.id), change);
      if (isReply(result)) return result;
    }
    return { status: 200, body: this.subscriptions.get(sid), headers: { "request-id": id("req") } };
  }

  /** Quantity and price changes on one item; returns the updated subscription or an error reply. */
  private applyItemChange(sub: Stripe.Subscription, itemId: string, change: Form): Stripe.Subscription | FakeReply {
    const item = sub.items.data.find((i) => i.id === itemId);
    if (!item) return missing("subscription_item", itemId);
    let price = item.price;
    if (change.price !== undefined) {
      const found = this.prices.get(String(change.price));
      if (!found) return missing("price", String(change.price));
      price = found;
    }
    const quantity = change.quantity !== undefined ? Number(change.quantity) : item.quantity;
    if (quantity !== undefined && (!Number.isInteger(quantity) || quantity < 0)) return stripeError(400, "invalid_request_error", "Invalid integer: quantity", { param: "quantity" });
    const nextItem: Stripe.SubscriptionItem = { ...item, price, plan: { ...item.plan, id: price.id, amount: price.unit_amount, nickname: price.nickname }, quantity };
    const next: Stripe.Subscription = { ...sub, items: { ...sub.items, data: sub.items.data.map((i) => (i.id === itemId ? nextItem : i)) } };
    this.subscriptions.set(sub.id, next);
    return next;
  }

  /** Without `subscription`, the next invoice among the customer's subscriptions (as Stripe does). */
  private previewInvoice(form: Form): FakeReply {
    const customer = this.customers.get(String(form.customer ?? ""));
    if (!customer) return missing("customer", String(form.customer ?? ""));
    const renewing = [...this.subscriptions.values()]
      .filter((s) => s.customer === customer.id && (form.subscription === undefined || s.id === form.subscription))
      .filter((s) => ["active", "trialing", "past_due"].includes(s.status) && !s.cancel_at_period_end)
      .sort((a, b) => (a.items.data[0]?.current_period_end ?? 0) - (b.items.data[0]?.current_period_end ?? 0));
    const sub = renewing[0];
    if (!sub) return stripeError(404, "invalid_request_error", `No upcoming invoices for customer: ${customer.id}`, { code: "invoice_upcoming_none" });
    const total = sub.items.data.reduce((sum, i) => sum + (i.price.unit_amount ?? 0) * (i.quantity ?? 1), 0);
    const periodEnd = sub.items.data[0]?.current_period_end ?? unix();
    const invoice = invoiceObject({
      id: `upcoming_${sub.id}`,
      customer: customer.id,
      subscription: sub.id,
      number: null,
      status: "draft",
      amountDue: Math.max(0, total + customer.balance),
      total,
      startingBalance: customer.balance,
      nextPaymentAttempt: periodEnd,
      created: periodEnd,
      periodStart: periodEnd,
      periodEnd,
    });
    return { status: 200, body: invoice, headers: { "request-id": id("req") } };
  }
}
