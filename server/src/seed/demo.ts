import { sql, type Kysely, type Transaction } from "kysely";
import type { Insertable } from "kysely";
import type { AccountAccessHoldsTable, BillingCustomersTable, BillingInvoicesTable, BillingSubscriptionsTable, DB, NewAccount, NewUser } from "../db/schema.js";
import { unitPriceCents } from "../providers/planCatalog.js";
import { DEMO_AGENTS } from "./demoAgents.js";
import { prng } from "./prng.js";

/**
 * The deterministic demo data set: every account state and the awkward cases support meets
 * (locked logins, no 2FA, over the seat limit, the only admin gone, one email in two accounts).
 * Names and ids never change between runs; dates are relative to the seeding time.
 */

export { DEMO_AGENTS };

const DAY = 86_400_000;


const FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eva", "Farah", "Giulia", "Hiro", "Ines", "Jonas", "Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Søren", "Tariq", "Uma", "Victor", "Wen", "Yara", "Zoë"];
const LAST = ["Almeida", "Brandt", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito", "Jansen", "Kowalski", "Larsen", "Müller", "Nakamura", "Okafor", "Petrov", "Rossi", "Schmidt", "Tanaka", "Vargas"];
const COMPANY = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell", "Soylent", "Cyberdyne", "Wonka", "Gringotts", "Monarch", "Pied Piper", "Aperture", "Black Mesa", "Oscorp", "Massive Dynamic", "Nakatomi", "Duff", "Kwik-E", "Prestige", "Dunder", "Sterling", "Bluth", "Krusty", "Ollivander", "Zorg", "Weyland"];
const SUFFIX = ["Corp", "Labs", "GmbH", "Inc", "Ltd", "Group", "Studio", "Systems"];

interface AccountScenario {
  status: NewAccount["status"];
  subscription: "trialing" | "active" | "past_due" | "unpaid" | "canceled";
  plan: string;
  seats: number;
  users: number;
  note?: "over_seats" | "admin_left" | "locked_user" | "no_mfa" | "blocked_user";
}

// The named scenarios first (the demo tickets point at them), then a spread of ordinary accounts.
const SCENARIOS: AccountScenario[] = [
  { status: "active", subscription: "active", plan: "business", seats: 25, users: 8, note: "locked_user" },
  { status: "trialing", subscription: "trialing", plan: "team", seats: 10, users: 4 },
  { status: "past_due", subscription: "past_due", plan: "business", seats: 15, users: 6 },
  { status: "suspended", subscription: "active", plan: "team", seats: 5, users: 3 },
  { status: "deactivated", subscription: "canceled", plan: "starter", seats: 3, users: 2 },
  { status: "active", subscription: "active", plan: "team", seats: 5, users: 7, note: "over_seats" },
  { status: "active", subscription: "active", plan: "business", seats: 12, users: 5, note: "admin_left" },
  { status: "active", subscription: "active", plan: "enterprise", seats: 60, users: 9, note: "no_mfa" },
  { status: "active", subscription: "active", plan: "starter", seats: 3, users: 2, note: "blocked_user" },
  { status: "past_due", subscription: "unpaid", plan: "team", seats: 8, users: 3 },
];

export interface SeedResult {
  created: boolean;
  accounts: number;
  users: number;
  tickets: number;
}

export async function seedDemoData(db: Kysely<DB>, now: Date = new Date()): Promise<SeedResult> {
  return db.transaction().execute(async (trx) => {
    // A lock row would be overkill: the check and the inserts share one transaction.
    await sql`lock table accounts in share row exclusive mode`.execute(trx);
    const existing = await trx.selectFrom("accounts").select((eb) => eb.fn.countAll<number>().as("n")).where("id", "like", "acc_demo_%").executeTakeFirstOrThrow();
    if (Number(existing.n) > 0) return { created: false, ...(await countDemo(trx)) };
    await insertDemo(trx, now);
    return { created: true, ...(await countDemo(trx)) };
  });
}

async function countDemo(trx: Transaction<DB>): Promise<Omit<SeedResult, "created">> {
  const [a, u, t] = await Promise.all([
    trx.selectFrom("accounts").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
    trx.selectFrom("users").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
    trx.selectFrom("demo_tickets").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return { accounts: Number(a.n), users: Number(u.n), tickets: Number(t.n) };
}

function slug(s: string): string {
  return s
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "");
}

async function insertDemo(trx: Transaction<DB>, now: Date): Promise<void> {
  const rand = prng(20261124);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);

  await trx
    .insertInto("staff")
    .values(DEMO_AGENTS.map((a) => ({ id: a.id, zendesk_user_id: a.zendeskUserId, email: a.email, name: a.name, panel_role: a.role })))
    .onConflict((oc) => oc.column("zendesk_user_id").doNothing())
    .execute();

  const scenarios: AccountScenario[] = [...SCENARIOS];
  const statuses: AccountScenario[] = [
    { status: "active", subscription: "active", plan: "team", seats: 10, users: 4 },
    { status: "active", subscription: "active", plan: "business", seats: 20, users: 6 },
    { status: "trialing", subscription: "trialing", plan: "business", seats: 10, users: 3 },
    { status: "active", subscription: "active", plan: "starter", seats: 3, users: 2 },
    { status: "past_due", subscription: "past_due", plan: "team", seats: 6, users: 3 },
    { status: "suspended", subscription: "active", plan: "starter", seats: 3, users: 2 },
    { status: "deactivated", subscription: "canceled", plan: "team", seats: 5, users: 2 },
  ];
  for (let i = 0; scenarios.length < 36; i++) scenarios.push(statuses[i % statuses.length] as AccountScenario);

  const accounts: NewAccount[] = [];
  const users: NewUser[] = [];
  const customers: Insertable<BillingCustomersTable>[] = [];
  const subscriptions: Insertable<BillingSubscriptionsTable>[] = [];
  const invoices: Insertable<BillingInvoicesTable>[] = [];
  const events: { account_id: string; user_id: string | null; type: string; detail: string | null; ip: string | null; occurred_at: Date }[] = [];
  const sessions: { id: string; user_id: string; created_at: Date; last_seen_at: Date; ip: string; user_agent: string }[] = [];
  const holds: Insertable<AccountAccessHoldsTable>[] = [];
  const usedEmails = new Set<string>();

  scenarios.forEach((sc, index) => {
    const n = String(index + 1).padStart(3, "0");
    const company = `${COMPANY[index % COMPANY.length]} ${SUFFIX[index % SUFFIX.length]}`;
    const domain = `${slug(COMPANY[index % COMPANY.length] as string)}${index >= COMPANY.length ? index : ""}.example`;
    const accountId = `acc_demo_${n}`;
    const customerId = `cus_demo_${n}`;
    const createdAt = at(-(400 - index * 7) * DAY);
    // The named suspended/deactivated accounts (tickets 1004, 1005) were closed by Steward as account.suspend and
    // account.deactivate do it: users blocked and a hold naming them, user statuses untouched. The others in the
    // spread stay as if closed outside Steward (statuses set in the product, no hold).
    const holdKind = index < SCENARIOS.length && (sc.status === "suspended" || sc.status === "deactivated") ? (sc.status === "suspended" ? "suspension" : "deactivation") : null;
    const heldUserIds: string[] = [];
    accounts.push({ id: accountId, name: company, domain, status: sc.status, plan: sc.plan, seats_licensed: sc.seats, billing_customer_id: customerId, created_at: createdAt, updated_at: createdAt });

    for (let u = 0; u < sc.users; u++) {
      const first = FIRST[(index * 3 + u * 7) % FIRST.length] as string;
      const last = LAST[(index * 5 + u * 3) % LAST.length] as string;
      let email = `${slug(first)}.${slug(last)}@${domain}`;
      if (usedEmails.has(email)) email = `${slug(first)}.${slug(last)}${u}@${domain}`;
      usedEmails.add(email);
      const userId = `usr_demo_${n}_${u + 1}`;
      let role: NewUser["role"] = u === 0 ? "owner" : u === 1 ? "admin" : u === 2 ? "billing" : pick(["member", "member", "viewer"] as const);
      let status: NewUser["status"] = !holdKind && sc.status === "deactivated" ? "deactivated" : !holdKind && sc.status === "suspended" ? "suspended" : u === sc.users - 1 && u > 3 ? "invited" : "active";
      if (sc.note === "admin_left" && (u === 0 || u === 1)) status = "deactivated"; // the only owner/admin has left
      if (sc.note === "admin_left" && u === 1) role = "member";
      const locked = (sc.note === "locked_user" && u === 2) || (index % 9 === 4 && u === 1);
      // The no-MFA account's one enrolled user is ticket 1008's requester, who lost the phone with the authenticator.
      const lostPhone = sc.note === "no_mfa" && u === 1;
      const mfa = sc.note === "no_mfa" ? lostPhone : (index + u) % 3 !== 0;
      users.push({
        id: userId,
        account_id: accountId,
        email,
        name: `${first} ${last}`,
        role,
        status,
        idp_id: `auth0|demo${n}${u + 1}`,
        last_login_at: status === "invited" ? null : at(-((index + u) % 20) * DAY - u * 3_600_000),
        failed_login_count: locked ? 7 : u % 4 === 3 ? 1 : 0,
        locked_until: locked ? at(45 * 60_000) : null,
        blocked: (sc.note === "blocked_user" && u === 1) || (holdKind !== null && status === "active"),
        mfa_enrolled: mfa,
        mfa_methods: mfa ? [lostPhone || u % 2 === 0 ? "totp" : "webauthn"] : [],
        created_at: at(-(380 - index * 7 - u) * DAY),
        updated_at: at(-(10 + u) * DAY),
      });
      if (holdKind && status === "active") heldUserIds.push(userId);
      else if (status === "active") {
        sessions.push({ id: `ses_demo_${n}_${u + 1}`, user_id: userId, created_at: at(-2 * DAY), last_seen_at: at(-(u + 1) * 3_600_000), ip: `203.0.113.${(index * 7 + u) % 250}`, user_agent: "Mozilla/5.0 (Macintosh) Demo" });
      }
      for (let e = 0; e < 4; e++) {
        const type = locked && e < 3 ? "login_failed" : e === 3 && u === 0 ? "settings_changed" : "login";
        events.push({ account_id: accountId, user_id: userId, type, detail: type === "login_failed" ? "wrong password" : null, ip: `198.51.100.${(index + e) % 250}`, occurred_at: at(-(e * 13 + u * 5 + index) * 3_600_000) });
      }
    }
    events.push({ account_id: accountId, user_id: null, type: sc.subscription === "past_due" ? "payment_failed" : "invoice_paid", detail: null, ip: null, occurred_at: at(-(index % 5) * DAY) });
    if (holdKind) {
      // An earlier ticket, not one of the demo set; the subscription was already canceled by the customer, so a deactivation set none to end.
      const ticketId = `98${n}`;
      const heldAt = at(-(6 + index) * DAY);
      holds.push({ id: `hold_demo_${n}`, account_id: accountId, kind: holdKind, previous_status: "active", blocked_user_ids: heldUserIds, ticket_id: ticketId, operation_id: null, created_at: heldAt, released_at: null, subscription_set_to_end: null, subscription_before: null });
      const type = holdKind === "suspension" ? "account_suspended" : "account_deactivated";
      const what = holdKind === "suspension" ? "suspended" : "deactivated";
      events.push({ account_id: accountId, user_id: null, type, detail: `${what} (${heldUserIds.length} user(s) blocked) by support (ticket ${ticketId})`, ip: null, occurred_at: heldAt });
    }

    const interval = index % 4 === 1 ? "year" : "month";
    const unit = unitPriceCents(sc.plan, interval);
    const subId = `sub_demo_${n}`;
    customers.push({ id: customerId, account_id: accountId, email: `billing@${domain}`, currency: "usd", balance_cents: index % 6 === 2 ? -2_500 : 0, created_at: createdAt });
    subscriptions.push({
      id: subId,
      customer_id: customerId,
      plan: sc.plan,
      interval,
      status: sc.subscription,
      unit_amount_cents: unit,
      quantity: sc.seats,
      trial_end: sc.subscription === "trialing" ? at((5 + index) * DAY) : null,
      current_period_end: at(((index * 3) % 28 + 2) * DAY),
      cancel_at_period_end: false,
      canceled_at: sc.subscription === "canceled" ? at(-20 * DAY) : null,
      created_at: createdAt,
      updated_at: createdAt,
    });
    for (let k = 3; k >= 1; k--) {
      invoices.push({ id: `in_demo_${n}_${k}`, customer_id: customerId, subscription_id: subId, number: `DEMO-${n}-${String(4 - k).padStart(4, "0")}`, status: "paid", amount_due_cents: unit * sc.seats, amount_paid_cents: unit * sc.seats, amount_remaining_cents: 0, attempt_count: 1, next_payment_attempt: null, created_at: at(-k * 30 * DAY) });
    }
    if (sc.subscription === "past_due" || sc.subscription === "unpaid") {
      invoices.push({ id: `in_demo_${n}_open`, customer_id: customerId, subscription_id: subId, number: `DEMO-${n}-OPEN`, status: "open", amount_due_cents: unit * sc.seats, amount_paid_cents: 0, amount_remaining_cents: unit * sc.seats, attempt_count: sc.subscription === "unpaid" ? 4 : 3, next_payment_attempt: sc.subscription === "unpaid" ? null : at(2 * DAY), created_at: at(-9 * DAY) });
    }
  });

  // One person in two accounts: the ambiguous-requester case.
  users.push({ id: "usr_demo_shared_1", account_id: "acc_demo_001", email: "casey.consultant@freelance.example", name: "Casey Consultant", role: "member", status: "active", idp_id: "auth0|demoshared1", last_login_at: at(-DAY), mfa_enrolled: true, mfa_methods: ["totp"] });
  users.push({ id: "usr_demo_shared_2", account_id: "acc_demo_008", email: "casey.consultant@freelance.example", name: "Casey Consultant", role: "admin", status: "active", idp_id: "auth0|demoshared2", last_login_at: at(-3 * DAY), mfa_enrolled: false });

  await trx.insertInto("accounts").values(accounts).execute();
  for (let i = 0; i < users.length; i += 200) await trx.insertInto("users").values(users.slice(i, i + 200)).execute();
  await trx.insertInto("user_sessions").values(sessions).execute();
  await trx.insertInto("account_access_holds").values(holds).execute();
  await trx.insertInto("billing_customers").values(customers).execute();
  await trx.insertInto("billing_subscriptions").values(subscriptions).execute();
  await trx.insertInto("billing_invoices").values(invoices).execute();
  for (let i = 0; i < events.length; i += 200) await trx.insertInto("activity_events").values(events.slice(i, i + 200)).execute();

  const userOf = (id: string) => users.find((u) => u.id === id) as NewUser;
  const ticket = (id: number, userId: string, subject: string, zendeskId: number) => {
    const u = userOf(userId);
    return { id, subject, requester_email: u.email, requester_name: u.name, requester_zendesk_id: zendeskId, requester_external_id: userId, created_at: at(-(id % 10) * 3_600_000) };
  };
  await trx
    .insertInto("demo_tickets")
    .values([
      ticket(1001, "usr_demo_001_3", "I'm locked out after too many attempts", 50001),
      ticket(1002, "usr_demo_002_1", "Can we get a longer trial?", 50002),
      ticket(1003, "usr_demo_003_1", "Our card was declined, account says past due", 50003),
      ticket(1004, "usr_demo_004_1", "Why is our workspace suspended?", 50004),
      ticket(1005, "usr_demo_005_1", "Please reactivate our old account", 50005),
      ticket(1006, "usr_demo_006_1", "We need two more seats this week", 50006),
      ticket(1007, "usr_demo_007_3", "Our admin left the company, nobody can manage billing", 50007),
      ticket(1008, "usr_demo_008_2", "Lost my phone, can't get past 2FA", 50008),
      ticket(1009, "usr_demo_009_2", "I can't sign in at all", 50009),
      ticket(1010, "usr_demo_shared_1", "Which workspace is my invoice for?", 50010),
      ticket(1011, "usr_demo_010_1", "Close our account please", 50011),
      { id: 1012, subject: "Question about pricing", requester_email: "new.prospect@unknown.example", requester_name: "New Prospect", requester_zendesk_id: 50012, requester_external_id: null, created_at: at(-3_600_000) },
    ])
    .execute();
}
