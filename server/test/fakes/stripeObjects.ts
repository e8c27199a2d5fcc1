import type Stripe from "stripe";

/**
 * Builders for the Stripe API objects the fake serves. Each is typed as the SDK's own type, so the
 * compiler holds the fake to every field Stripe's API version 2026-10-28.endive returns.
 */

export const unix = (date: Date | number = Date.now()) => Math.floor((typeof date === "number" ? date : date.getTime()) / 1000);

export function list<T>(url: string, data: T[]): Stripe.ApiList<T> {
  return { object: "list", data, has_more: false, url };
}

export function customerObject(init: { id: string; email: string; balance?: number; currency?: string; name?: string; created?: number }): Stripe.Customer {
  return {
    id: init.id,
    object: "customer",
    address: null,
    balance: init.balance ?? 0,
    created: init.created ?? unix(),
    currency: init.currency ?? "usd",
    default_source: null,
    delinquent: false,
    description: null,
    email: init.email,
    invoice_prefix: init.id.replace(/^cus_/, "").slice(0, 8).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: {},
    name: init.name ?? null,
    next_invoice_sequence: 1,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
    test_clock: null,
  };
}

export function priceObject(init: { id: string; lookupKey: string; unitAmount: number; interval: "month" | "year"; product?: string }): Stripe.Price {
  return {
    id: init.id,
    object: "price",
    active: true,
    billing_scheme: "per_unit",
    created: unix(new Date("2025-01-01T00:00:00Z")),
    currency: "usd",
    custom_unit_amount: null,
    livemode: false,
    lookup_key: init.lookupKey,
    metadata: {},
    nickname: init.lookupKey,
    product: init.product ?? `prod_${init.lookupKey.replace(/_(month|year)$/, "")}`,
    recurring: { interval: init.interval, interval_count: 1, meter: null, trial_period_days: null, usage_type: "licensed" },
    tax_behavior: "unspecified",
    tiers_mode: null,
    transform_quantity: null,
    type: "recurring",
    unit_amount: init.unitAmount,
    unit_amount_decimal: null,
  };
}

/** The legacy Plan every subscription item still carries, derived from its price. */
export function planObject(price: Stripe.Price): Stripe.Plan {
  return {
    id: price.id,
    object: "plan",
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: null,
    billing_scheme: "per_unit",
    created: price.created,
    currency: price.currency,
    interval: price.recurring?.interval ?? "month",
    interval_count: 1,
    livemode: false,
    metadata: {},
    meter: null,
    nickname: price.nickname,
    product: price.product,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: null,
    usage_type: "licensed",
  };
}

export function subscriptionItemObject(init: { id: string; subscription: string; price: Stripe.Price; quantity: number; periodStart: number; periodEnd: number; created: number }): Stripe.SubscriptionItem {
  return {
    id: init.id,
    object: "subscription_item",
    billing_thresholds: null,
    created: init.created,
    current_period_end: init.periodEnd,
    current_period_start: init.periodStart,
    current_trial: null,
    discounts: [],
    metadata: {},
    plan: planObject(init.price),
    price: init.price,
    quantity: init.quantity,
    subscription: init.subscription,
    tax_rates: [],
  };
}

export function subscriptionObject(init: {
  id: string;
  customer: string;
  item: Stripe.SubscriptionItem;
  status: Stripe.Subscription.Status;
  created: number;
  trialEnd?: number | null;
  cancelAtPeriodEnd?: boolean;
  canceledAt?: number | null;
}): Stripe.Subscription {
  return {
    id: init.id,
    object: "subscription",
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: init.item.current_period_start,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: "classic" },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: init.cancelAtPeriodEnd ? init.item.current_period_end : null,
    cancel_at_period_end: init.cancelAtPeriodEnd ?? false,
    canceled_at: init.canceledAt ?? null,
    cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
    collection_method: "charge_automatically",
    created: init.created,
    currency: init.item.price.currency,
    customer: init.customer,
    customer_account: null,
    days_until_due: null,
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    ended_at: init.status === "canceled" ? (init.canceledAt ?? null) : null,
    invoice_settings: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: "self" } },
    items: list(`/v1/subscription_items?subscription=${init.id}`, [init.item]),
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: {},
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: "off" },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: init.created,
    status: init.status,
    test_clock: null,
    transfer_data: null,
    trial_end: init.trialEnd ?? null,
    trial_settings: { end_behavior: { billing_cycle_anchor: null, missing_payment_method: "create_invoice" } },
    trial_start: init.trialEnd ? init.created : null,
  };
}

export function invoiceObject(init: {
  id: string;
  customer: string;
  subscription: string | null;
  number: string | null;
  status: Stripe.Invoice.Status;
  amountDue: number;
  amountPaid?: number;
  amountRemaining?: number;
  attemptCount?: number;
  nextPaymentAttempt?: number | null;
  created: number;
  periodStart?: number;
  periodEnd?: number;
  startingBalance?: number;
  total?: number;
}): Stripe.Invoice {
  const paid = init.amountPaid ?? (init.status === "paid" ? init.amountDue : 0);
  const total = init.total ?? init.amountDue;
  return {
    id: init.id,
    object: "invoice",
    account_country: "US",
    account_name: "Steward Test Co",
    account_tax_ids: null,
    amount_due: init.amountDue,
    amount_overpaid: 0,
    amount_paid: paid,
    amount_remaining: init.amountRemaining ?? init.amountDue - paid,
    amount_shipping: 0,
    application: null,
    attempt_count: init.attemptCount ?? 0,
    attempted: (init.attemptCount ?? 0) > 0,
    auto_advance: init.status === "open" || init.status === "draft",
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: init.subscription ? "subscription_cycle" : "manual",
    collection_method: "charge_automatically",
    created: init.created,
    currency: "usd",
    custom_fields: null,
    customer: init.customer,
    customer_account: null,
    customer_address: null,
    customer_email: null,
    customer_name: null,
    customer_phone: null,
    customer_shipping: null,
    customer_tax_exempt: "none",
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    due_date: null,
    effective_at: init.status === "draft" ? null : init.created,
    ending_balance: init.status === "draft" ? null : 0,
    footer: null,
    from_invoice: null,
    issuer: { type: "self" },
    last_finalization_error: null,
    latest_revision: null,
    lines: list(`/v1/invoices/${init.id}/lines`, []),
    livemode: false,
    metadata: {},
    next_payment_attempt: init.nextPaymentAttempt ?? null,
    number: init.number,
    on_behalf_of: null,
    // Since API 2025-03-31 an invoice's subscription lives under `parent`.
    parent: init.subscription
      ? { quote_details: null, subscription_details: { metadata: {}, subscription: init.subscription }, type: "subscription_details" }
      : null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: init.periodEnd ?? init.created,
    period_start: init.periodStart ?? init.created,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: init.startingBalance ?? 0,
    statement_descriptor: null,
    status: init.status,
    status_transitions: { finalized_at: init.status === "draft" ? null : init.created, marked_uncollectible_at: null, paid_at: init.status === "paid" ? init.created : null, voided_at: null },
    subtotal: total,
    subtotal_excluding_tax: total,
    test_clock: null,
    total,
    total_discount_amounts: [],
    total_excluding_tax: total,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: init.created,
  };
}

export function balanceTransactionObject(init: { id: string; customer: string; amount: number; currency: string; description: string | null; endingBalance: number }): Stripe.CustomerBalanceTransaction {
  return {
    id: init.id,
    object: "customer_balance_transaction",
    amount: init.amount,
    checkout_session: null,
    created: unix(),
    credit_note: null,
    currency: init.currency,
    customer: init.customer,
    customer_account: null,
    description: init.description,
    ending_balance: init.endingBalance,
    invoice: null,
    livemode: false,
    metadata: {},
    type: "adjustment",
  };
}
