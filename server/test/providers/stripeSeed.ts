import type { StripeFake } from "../fakes/stripeFake.js";
import { unix } from "../fakes/stripeObjects.js";

const DAY = 86_400_000;

/** The Stripe account the adapter tests read, relative to `now`: one customer per billing situation. */
export function seedStripe(fake: StripeFake, now: number = Date.now()): void {
  fake.reset();
  const at = (offsetDays: number) => new Date(now + offsetDays * DAY);

  fake.addPrice({ plan: "team", interval: "month", unitAmount: 2_900 });
  fake.addPrice({ plan: "business", interval: "month", unitAmount: 4_900 });
  fake.addPrice({ plan: "business", interval: "year", unitAmount: 49_000 });

  fake.addCustomer({ id: "cus_active", email: "billing@acme.example" });
  fake.addSubscription({ id: "sub_active", customer: "cus_active", price: "price_team_month", quantity: 5, status: "active", periodEnd: at(12) });
  for (let k = 1; k <= 3; k++) {
    fake.addInvoice({ id: `in_active_${k}`, customer: "cus_active", subscription: "sub_active", number: `ACME-000${k}`, status: "paid", amountDue: 14_500, attemptCount: 1, created: unix(at(-30 * (4 - k))) });
  }

  fake.addCustomer({ id: "cus_past_due", email: "billing@globex.example" });
  fake.addSubscription({ id: "sub_past_due", customer: "cus_past_due", price: "price_business_month", quantity: 15, status: "past_due", periodEnd: at(20) });
  fake.addInvoice({ id: "in_past_due_paid", customer: "cus_past_due", subscription: "sub_past_due", number: "GLOBEX-0001", status: "paid", amountDue: 73_500, attemptCount: 1, created: unix(at(-40)) });
  fake.addInvoice({
    id: "in_past_due_open",
    customer: "cus_past_due",
    subscription: "sub_past_due",
    number: "GLOBEX-0002",
    status: "open",
    amountDue: 73_500,
    attemptCount: 3,
    nextPaymentAttempt: unix(at(2)),
    created: unix(at(-9)),
  });

  fake.addCustomer({ id: "cus_trial", email: "billing@initech.example" });
  fake.addSubscription({ id: "sub_trial", customer: "cus_trial", price: "price_team_month", quantity: 10, status: "trialing", trialEnd: at(7) });

  fake.addCustomer({ id: "cus_yearly", email: "billing@umbrella.example", balance: -2_500 });
  fake.addSubscription({ id: "sub_yearly", customer: "cus_yearly", price: "price_business_year", quantity: 10, status: "active", periodEnd: at(100), cancelAtPeriodEnd: true });

  // Two add-ons beside the plan's seats (listed first, as Stripe may), and a subscription set to end on a date.
  fake.addPrice({ plan: "sso", interval: "month", unitAmount: 5_000 });
  fake.addPrice({ plan: "storage", interval: "month", unitAmount: 1_000 });
  fake.addCustomer({ id: "cus_addons", email: "billing@stark.example" });
  fake.addSubscription({ id: "sub_addons", customer: "cus_addons", price: "price_team_month", quantity: 8, status: "active", periodEnd: at(15), addOns: [{ price: "price_sso_month", quantity: 1 }, { price: "price_storage_month", quantity: 3 }] });
  fake.addCustomer({ id: "cus_cancel_at", email: "billing@wayne.example" });
  fake.addSubscription({ id: "sub_cancel_at", customer: "cus_cancel_at", price: "price_business_month", quantity: 4, status: "active", periodEnd: at(20), cancelAt: at(5) });

  fake.addCustomer({ id: "cus_gone", email: "billing@hooli.example" });
  fake.addSubscription({ id: "sub_gone", customer: "cus_gone", price: "price_team_month", quantity: 3, status: "canceled", periodEnd: at(-20) });
}
