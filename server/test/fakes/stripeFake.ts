import { randomBytes } from "node:crypto";
import type Stripe from "stripe";
import { HttpFake, type FailOptions, type FakeReply, type FakeRequest } from "./httpFake.js";
import { checkStripeRequest, fill, stripeRules, type Form } from "./stripeRules.js";
import { balanceTransactionObject, customerObject, invoiceObject, list, priceObject, subscriptionItemObject, subscriptionObject, unix } from "./stripeObjects.js";

/**
 * A stateful stand-in for the Stripe v1 endpoints Steward uses (customers, balance transactions,
 * subscriptions and items, invoices and the invoice preview, prices), with Stripe's object shapes,
 * form-encoded bodies and idempotency keys, at the API version Steward pins. Before doing anything it
 * holds each request to Stripe's rules (stripeRules.ts: unknown or missing parameters, types, the
 * basil-era preview shapes, removed endpoints, key lengths) and refuses what Stripe refuses. On POST
 * the same key replays the first answer and changes nothing, and the same key with different
 * parameters is refused, and a key still in use by a running request is refused 409; GET and DELETE
 * ignore keys, as Stripe does.
 */
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

/** A form with its keys sorted at every level, as one string. */
function canonical(value: unknown): string {
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
  return `{${Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical((value as Form)[k])}`)
    .join(",")}}`;
}

const stripeError = (status: number, type: string, message: string, extra: Record<string, string> = {}): FakeReply => ({
  status,
  body: { error: { type, message, ...extra } },
  headers: { "request-id": id("req") },
});
const isReply = (x: Stripe.Subscription | FakeReply): x is FakeReply => typeof x.status === "number";
const missing = (what: string, key: string) => stripeError(404, "invalid_request_error", `No such ${what}: '${key}'`, { code: "resource_missing", param: "id" });
const ended = (sub: Stripe.Subscription) => sub.status === "canceled" || sub.status === "incomplete_expired";
const periodEnds = (sub: Stripe.Subscription) => sub.items.data.map((i) => i.current_period_end);
/** A subscription set to end before it renews again has no next invoice. */
const endsBeforeRenewal = (sub: Stripe.Subscription) => sub.cancel_at_period_end || (sub.cancel_at !== null && sub.cancel_at <= Math.min(...periodEnds(sub)));

/** A pending invoice item (a proration) waiting for the customer's next invoice. */
export interface PendingItem {
  id: string;
  customer: string;
  subscription: string;
  amount: number;
  description: string;
}

export class StripeFake extends HttpFake {
  readonly secretKey: string;
  /** Where the fake answers, as a proxy in front of Stripe would (`/stripe` → `/stripe/v1/…`); "" for the root. */
  readonly mountPath: string;
  readonly customers = new Map<string, Stripe.Customer>();
  readonly prices = new Map<string, Stripe.Price>();
  readonly subscriptions = new Map<string, Stripe.Subscription>();
  readonly invoices = new Map<string, Stripe.Invoice>();
  readonly balanceTransactions: Stripe.CustomerBalanceTransaction[] = [];
  readonly pendingItems: PendingItem[] = [];
  private readonly idempotency = new Map<string, { fingerprint: string; reply: FakeReply; storedAt: number }>();
  /** Keys of POSTs still being handled: a second request with one is refused 409 idempotency_key_in_use. */
  private readonly keysInFlight = new Map<string, FakeRequest>();
  /** How far the fake's idempotency store is ahead of real time (to model keys reaching Stripe's retention). */
  private keyClockOffsetMs = 0;
  /** How far the times the fake stamps on what it changes (canceled_at) are ahead of real time. */
  private clockOffsetMs = 0;
  private readonly routes: { method: string; pattern: RegExp; handler: (req: FakeRequest, params: Params, form: Form) => FakeReply }[] = [];

  constructor(options: { secretKey?: string; mountPath?: string } = {}) {
    super();
    this.secretKey = options.secretKey ?? "sk_test_steward_fake";
    this.mountPath = (options.mountPath ?? "").replace(/\/+$/, "");
    this.defineRoutes();
  }

  /** Moves the idempotency store's clock on: keys older than Stripe's retention (24 h) are pruned, and a reused one runs again. */
  ageIdempotencyKeys(ms: number): void {
    this.keyClockOffsetMs += ms;
  }

  /** Moves the fake's own clock on, so a later request is stamped later (Stripe's times are whole seconds). */
  advanceClock(ms: number): void {
    this.clockOffsetMs += ms;
  }

  private now(): number {
    return unix(Date.now() + this.clockOffsetMs);
  }

  private storedUnder(key: string): { fingerprint: string; reply: FakeReply } | undefined {
    const stored = this.idempotency.get(key);
    if (stored && Date.now() + this.keyClockOffsetMs - stored.storedAt >= stripeRules().idempotency.retentionHours * 3_600_000) {
      this.idempotency.delete(key);
      return undefined;
    }
    return stored;
  }

  /** A POST whose key another request is still using is refused before it runs, and saves nothing. */
  protected override onArrival(req: FakeRequest): FakeReply | undefined {
    const key = req.headers["idempotency-key"];
    if (typeof key !== "string" || !stripeRules().idempotency.honouredOn.includes(req.method)) return undefined;
    if (!this.keysInFlight.has(key)) {
      this.keysInFlight.set(key, req);
      return undefined;
    }
    const t = stripeRules().idempotency.keyInUse;
    return stripeError(t.status, t.type ?? "invalid_request_error", fill(t.message, { key }), t.code ? { code: t.code } : {});
  }

  protected override onDeparture(req: FakeRequest): void {
    const key = req.headers["idempotency-key"];
    if (typeof key === "string" && this.keysInFlight.get(key) === req) this.keysInFlight.delete(key);
  }

  /** Stripe saves the answer once the endpoint ran, a 500 included: a retry with the key replays the 500. */
  protected override afterApplyFailed(req: FakeRequest, reply: FakeReply): void {
    const key = req.headers["idempotency-key"];
    const stored = typeof key === "string" ? this.idempotency.get(key) : undefined;
    if (stored && typeof key === "string") this.idempotency.set(key, { ...stored, reply: { ...reply, headers: { ...reply.headers, "idempotency-key": key } } });
  }

  /** The environment that points Steward's Stripe adapter at this fake. */
  env(): Record<string, string> {
    return { BILLING_PROVIDER: "stripe", STRIPE_SECRET_KEY: this.secretKey, STRIPE_BASE_URL: `${this.url}${this.mountPath}` };
  }

  /** Clears every customer, price, subscription, invoice, transaction and stored idempotency key, and sets the fake's clock back. */
  reset(): void {
    for (const map of [this.customers, this.prices, this.subscriptions, this.invoices, this.idempotency]) map.clear();
    this.balanceTransactions.length = 0;
    this.pendingItems.length = 0;
    this.clockOffsetMs = 0;
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
    /** Set to end at this date (Stripe's cancel_at) rather than at the period end. */
    cancelAt?: Date;
    /** When the cancellation was asked for (Stripe's canceled_at); by default a day after `created` for one set to end or canceled. */
    canceledAt?: Date;
    /** Further items billed beside the plan's seats; listed before the plan's item, so nothing may assume the plan comes first. */
    addOns?: { price: string; quantity: number }[];
    created?: Date;
  }): Stripe.Subscription {
    const priceOf = (priceId: string) => {
      const price = this.prices.get(priceId);
      if (!price) throw new Error(`seed the price ${priceId} first`);
      return price;
    };
    const price = priceOf(init.price);
    const created = unix(init.created ?? new Date(Date.now() - 90 * DAY * 1000));
    const periodEnd = unix(init.periodEnd ?? init.trialEnd ?? new Date(Date.now() + 12 * DAY * 1000));
    const periodStart = periodEnd - (price.recurring?.interval === "year" ? 365 : 30) * DAY;
    const base = init.id.replace(/^sub_/, "");
    const item = subscriptionItemObject({ id: `si_${base}`, subscription: init.id, price, quantity: init.quantity, periodStart, periodEnd, created });
    const addOns = (init.addOns ?? []).map((a, k) => subscriptionItemObject({ id: `si_${base}_addon${k + 1}`, subscription: init.id, price: priceOf(a.price), quantity: a.quantity, periodStart, periodEnd, created }));
    const sub = subscriptionObject({
      id: init.id,
      customer: init.customer,
      item,
      status: init.status,
      created,
      trialEnd: init.trialEnd ? unix(init.trialEnd) : null,
      cancelAtPeriodEnd: init.cancelAtPeriodEnd,
      // Stripe stamps canceled_at on every subscription set to end or canceled, and on no other.
      canceledAt: init.status === "canceled" || init.cancelAtPeriodEnd || init.cancelAt ? (init.canceledAt ? unix(init.canceledAt) : created + DAY) : null,
    });
    const withItems: Stripe.Subscription = { ...sub, items: { ...sub.items, data: [...addOns, item] }, ...(init.cancelAt ? { cancel_at: unix(init.cancelAt) } : {}) };
    this.subscriptions.set(sub.id, withItems);
    return withItems;
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
    if (this.mountPath && !req.path.startsWith(`${this.mountPath}/`)) return stripeError(404, "invalid_request_error", `Unrecognized request URL (${req.method}: ${req.path}).`);
    const path = req.path.slice(this.mountPath.length);
    if (String(req.headers.authorization ?? "") !== `Bearer ${this.secretKey}`) {
      return stripeError(401, "invalid_request_error", "Invalid API Key provided.");
    }
    const header = req.headers["idempotency-key"];
    const key = typeof header === "string" ? header : undefined;
    // Stripe reads GET and DELETE parameters from the query string, POST parameters from the body.
    const form = req.method === "POST" ? ((req.body as Form | undefined) ?? {}) : parseStripeForm(req.query.toString());
    // Refused before anything runs, so nothing is stored under the key either.
    const refused = checkStripeRequest({ method: req.method, path, form, ...(key !== undefined ? { idempotencyKey: key } : {}) }, unix());
    if (refused) return { status: refused.status, body: { error: refused.error }, headers: { "request-id": id("req") } };

    const idempotent = key !== undefined && stripeRules().idempotency.honouredOn.includes(req.method);
    // Stripe compares the parameters, not the bytes: the same form however it was encoded or ordered.
    const fingerprint = `${req.method} ${path} ${canonical(form)}`;
    if (idempotent) {
      const stored = this.storedUnder(key);
      if (stored && stored.fingerprint !== fingerprint) {
        const t = stripeRules().idempotency.reusedWithOtherParameters;
        return stripeError(t.status, t.type ?? "idempotency_error", t.message.replace("{key}", key));
      }
      if (stored) return { ...stored.reply, headers: { ...stored.reply.headers, "idempotent-replayed": "true" }, replayed: true };
    }
    let reply = stripeError(404, "invalid_request_error", `Unrecognized request URL (${req.method}: ${path}).`);
    for (const r of this.routes) {
      const match = r.method === req.method ? r.pattern.exec(path) : null;
      if (match) {
        reply = r.handler(req, Object.fromEntries(Object.entries(match.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)])), form);
        break;
      }
    }
    if (idempotent) {
      reply.headers = { ...reply.headers, "idempotency-key": key };
      this.idempotency.set(key, { fingerprint, reply, storedAt: Date.now() + this.keyClockOffsetMs });
    }
    return reply;
  }

  private defineRoutes(): void {
    const on = (method: string, template: string, handler: (req: FakeRequest, params: Params, form: Form) => FakeReply) => {
      this.routes.push({ method, pattern: new RegExp(`^${template.replace(/\{(\w+)\}/g, "(?<$1>[^/]+)")}$`), handler });
    };
    const ok = (body: unknown): FakeReply => ({ status: 200, body, headers: { "request-id": id("req") } });
    const values = (v: unknown) => Object.values((v as Form | undefined) ?? {}).map(String);

    on("GET", "/v1/customers/{id}", (_req, { id: cid = "" }) => {
      const customer = this.customers.get(cid);
      return customer ? ok(customer) : missing("customer", cid);
    });
    on("POST", "/v1/customers/{id}/balance_transactions", (_req, { id: cid = "" }, form) => {
      const customer = this.customers.get(cid);
      if (!customer) return missing("customer", cid);
      const amount = Number(form.amount);
      if (amount === 0) return stripeError(400, "invalid_request_error", "Invalid amount: must be a non-zero integer.", { param: "amount" });
      if (customer.currency && form.currency !== customer.currency) {
        return stripeError(400, "invalid_request_error", `The currency ${String(form.currency)} does not match the customer's currency ${customer.currency}.`, { param: "currency" });
      }
      const endingBalance = customer.balance + amount;
      this.customers.set(cid, { ...customer, balance: endingBalance });
      const txn = balanceTransactionObject({ id: id("cbtxn"), customer: cid, amount, currency: String(form.currency), description: typeof form.description === "string" ? form.description : null, endingBalance });
      const metadata = form.metadata && typeof form.metadata === "object" ? (form.metadata as Record<string, string>) : {};
      const stored = { ...txn, metadata };
      this.balanceTransactions.push(stored);
      return ok(stored);
    });
    on("GET", "/v1/customers/{id}/balance_transactions", (_req, { id: cid = "" }, form) => {
      if (!this.customers.has(cid)) return missing("customer", cid);
      // Newest first, as Stripe lists them.
      const data = this.balanceTransactions.filter((t) => t.customer === cid).reverse();
      const after = typeof form.starting_after === "string" ? data.findIndex((t) => t.id === form.starting_after) + 1 : 0;
      const limit = Number(form.limit ?? 10);
      const page = data.slice(after, after + limit);
      return ok({ ...list(`/v1/customers/${cid}/balance_transactions`, page), has_more: after + limit < data.length });
    });
    on("GET", "/v1/prices", (_req, _params, form) => {
      const keys = values(form.lookup_keys);
      const data = [...this.prices.values()].filter((p) => (keys.length === 0 || (p.lookup_key !== null && keys.includes(p.lookup_key))) && (form.active === undefined || String(p.active) === form.active));
      return ok(list("/v1/prices", data.slice(0, Number(form.limit ?? 10))));
    });
    on("GET", "/v1/subscriptions", (_req, _params, form) => {
      const status = String(form.status ?? "");
      const data = [...this.subscriptions.values()]
        .filter((s) => (form.customer === undefined || s.customer === form.customer) && (status === "all" ? true : status === "ended" ? ended(s) : status ? s.status === status : s.status !== "canceled"))
        .sort((a, b) => b.created - a.created);
      return ok(list("/v1/subscriptions", data.slice(0, Number(form.limit ?? 10))));
    });
    on("POST", "/v1/subscriptions/{id}", (_req, { id: sid = "" }, form) => this.updateSubscription(sid, form));
    on("DELETE", "/v1/subscriptions/{id}", (_req, { id: sid = "" }, form) => this.cancelSubscription(sid, form));
    on("POST", "/v1/subscription_items/{id}", (_req, { id: itemId = "" }, form) => {
      const sub = [...this.subscriptions.values()].find((s) => s.items.data.some((i) => i.id === itemId));
      if (!sub) return missing("subscription_item", itemId);
      if (ended(sub)) return stripeError(400, "invalid_request_error", "A canceled subscription can only update its cancellation_details and metadata.");
      const updated = this.applyItemChange(sub, itemId, form);
      if (isReply(updated)) return updated;
      return ok(updated.items.data.find((i) => i.id === itemId));
    });
    on("GET", "/v1/invoices", (_req, _params, form) => {
      const data = [...this.invoices.values()]
        .filter((i) => (form.customer === undefined || i.customer === form.customer) && (form.status === undefined || i.status === form.status))
        .sort((a, b) => b.created - a.created);
      return ok(list("/v1/invoices", data.slice(0, Number(form.limit ?? 10))));
    });
    on("POST", "/v1/invoices/create_preview", (_req, _params, form) => this.previewInvoice(form));
  }

  private updateSubscription(sid: string, form: Form): FakeReply {
    const sub = this.subscriptions.get(sid);
    if (!sub) return missing("subscription", sid);
    if (ended(sub)) return stripeError(400, "invalid_request_error", "A canceled subscription can only update its cancellation_details and metadata.");
    let next: Stripe.Subscription = { ...sub };
    // canceled_at: "the time of the most recent update request" that set the subscription to end; cleared with the cancellation.
    if (form.cancel_at_period_end !== undefined) {
      const cancel = form.cancel_at_period_end === "true";
      next = { ...next, cancel_at_period_end: cancel, cancel_at: cancel ? Math.min(...periodEnds(sub)) : null, canceled_at: cancel ? this.now() : null };
    }
    if (form.cancel_at !== undefined) {
      const at = form.cancel_at === "" ? null : form.cancel_at === "min_period_end" ? Math.min(...periodEnds(sub)) : form.cancel_at === "max_period_end" ? Math.max(...periodEnds(sub)) : Number(form.cancel_at);
      next = { ...next, cancel_at: at, cancel_at_period_end: false, canceled_at: at === null ? null : this.now() };
    }
    if (form.trial_end !== undefined) {
      const trialEnd = form.trial_end === "now" ? unix() : Number(form.trial_end);
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

  /**
   * Cancel now. `prorate` credits the unused part of each paid item's period as a pending item;
   * `invoice_now` issues the final invoice at once, which takes the pending items (a negative total
   * goes to the customer's balance). Without `invoice_now` and `prorate`, pending prorations are dropped.
   */
  private cancelSubscription(sid: string, form: Form): FakeReply {
    const sub = this.subscriptions.get(sid);
    if (!sub) return missing("subscription", sid);
    if (ended(sub)) return stripeError(400, "invalid_request_error", "A canceled subscription can only update its cancellation_details and metadata.");
    const now = this.now();
    const prorate = form.prorate === "true";
    const invoiceNow = form.invoice_now === "true";
    if (prorate && (sub.status === "active" || sub.status === "past_due")) {
      for (const item of sub.items.data) {
        const length = item.current_period_end - item.current_period_start;
        const unused = Math.round(((item.price.unit_amount ?? 0) * (item.quantity ?? 1) * Math.max(0, item.current_period_end - now)) / Math.max(1, length));
        if (unused > 0) this.pendingItems.push({ id: id("ii"), customer: String(sub.customer), subscription: sid, amount: -unused, description: `Unused time on ${item.price.id}` });
      }
    }
    if (!prorate && !invoiceNow) this.dropPending((p) => p.subscription === sid);
    if (invoiceNow) this.finalInvoice(sub, now);
    const canceled: Stripe.Subscription = { ...sub, status: "canceled", canceled_at: now, ended_at: now, cancel_at_period_end: false, cancel_at: null };
    this.subscriptions.set(sid, canceled);
    return { status: 200, body: canceled, headers: { "request-id": id("req") } };
  }

  private dropPending(which: (p: PendingItem) => boolean): PendingItem[] {
    const taken = this.pendingItems.filter(which);
    const kept = this.pendingItems.filter((p) => !which(p));
    this.pendingItems.splice(0, this.pendingItems.length, ...kept);
    return taken;
  }

  private finalInvoice(sub: Stripe.Subscription, now: number): void {
    const customer = this.customers.get(String(sub.customer));
    const taken = this.dropPending((p) => p.customer === sub.customer);
    if (!customer || taken.length === 0) return;
    const total = taken.reduce((sum, p) => sum + p.amount, 0);
    // The balance is applied to the invoice; a net credit stays on the balance for later invoices.
    const net = total + customer.balance;
    const amountDue = Math.max(0, net);
    this.customers.set(customer.id, { ...customer, balance: Math.min(0, net) });
    this.addInvoice({ id: id("in"), customer: customer.id, subscription: sub.id, number: null, status: amountDue > 0 ? "open" : "paid", amountDue, total, startingBalance: customer.balance, created: now });
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
    const nextItem: Stripe.SubscriptionItem = { ...item, price, plan: { ...item.plan, id: price.id, amount: price.unit_amount, nickname: price.nickname }, quantity };
    const next: Stripe.Subscription = { ...sub, items: { ...sub.items, data: sub.items.data.map((i) => (i.id === itemId ? nextItem : i)) } };
    this.subscriptions.set(sub.id, next);
    return next;
  }

  /** The named subscription's next invoice: its items, the customer's pending items, less any credit balance. */
  private previewInvoice(form: Form): FakeReply {
    const sid = String(form.subscription ?? "");
    const sub = this.subscriptions.get(sid);
    if (!sub) return missing("subscription", sid);
    if (form.customer !== undefined && form.customer !== sub.customer) {
      return stripeError(400, "invalid_request_error", `The subscription ${sid} does not belong to the customer ${String(form.customer)}.`, { param: "subscription" });
    }
    const customer = this.customers.get(String(sub.customer));
    if (!customer) return missing("customer", String(sub.customer));
    if (ended(sub) || endsBeforeRenewal(sub)) return stripeError(404, "invalid_request_error", `No upcoming invoices for customer: ${customer.id}`, { code: "invoice_upcoming_none" });
    const pending = this.pendingItems.filter((p) => p.customer === customer.id).reduce((sum, p) => sum + p.amount, 0);
    const total = sub.items.data.reduce((sum, i) => sum + (i.price.unit_amount ?? 0) * (i.quantity ?? 1), 0) + pending;
    const periodEnd = Math.min(...periodEnds(sub));
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
