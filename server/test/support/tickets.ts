import type { AppDeps } from "../../src/deps.js";
import { forgetCachedTickets } from "../../src/zendesk/ticketVerification.js";

/**
 * The local Zendesk page's ticket store, filled by tests: every write is checked against the ticket it
 * names, so a test writes the ticket the customer would have raised (or a mismatching one, on purpose).
 */
let nextTicket = 700_000;

export interface TicketSpec {
  id?: number;
  subject?: string;
  status?: string;
  requester: { email: string; name?: string; externalId?: string | null; zendeskId?: number };
  organization?: { id: number; name?: string; externalId?: string | null; domainNames?: string[] };
  assigneeZendeskId?: number | null;
}

type Deps = Pick<AppDeps, "database">;

/** Writes (or replaces) a ticket and returns its id as the API takes it. */
export async function putTicket(deps: Deps, spec: TicketSpec): Promise<string> {
  const { db } = deps.database;
  const id = spec.id ?? nextTicket++;
  if (spec.organization) {
    const org = spec.organization;
    await db.deleteFrom("demo_organizations").where("id", "=", org.id).execute();
    await db.insertInto("demo_organizations").values({ id: org.id, name: org.name ?? `Organization ${org.id}`, external_id: org.externalId ?? null, domain_names: org.domainNames ?? [] }).execute();
  }
  await db.deleteFrom("demo_tickets").where("id", "=", id).execute();
  await db
    .insertInto("demo_tickets")
    .values({
      id,
      subject: spec.subject ?? `Test ticket ${id}`,
      status: spec.status ?? "open",
      requester_email: spec.requester.email,
      requester_name: spec.requester.name ?? spec.requester.email,
      requester_zendesk_id: spec.requester.zendeskId ?? 90_000_000 + id,
      requester_external_id: spec.requester.externalId ?? null,
      requester_organization_id: spec.organization?.id ?? null,
      assignee_zendesk_id: spec.assigneeZendeskId ?? null,
    })
    .execute();
  forgetCachedTickets(deps.database);
  return String(id);
}

/**
 * A ticket raised by the target: the user itself, or for an account its first user by id (so the
 * requester is in the account). One per target and database, reused across calls.
 */
const raised = new WeakMap<object, Map<string, string>>();

export async function ticketFor(deps: Deps, target: { type: "user" | "account"; id: string }): Promise<string> {
  let known = raised.get(deps.database);
  if (!known) raised.set(deps.database, (known = new Map()));
  const key = `${target.type}:${target.id}`;
  const existing = known.get(key);
  if (existing) return existing;
  const { db } = deps.database;
  const user =
    target.type === "user"
      ? await db.selectFrom("users").select(["id", "email", "name"]).where("id", "=", target.id).executeTakeFirst()
      : await db.selectFrom("users").select(["id", "email", "name"]).where("account_id", "=", target.id).orderBy("id").limit(1).executeTakeFirst();
  // No such user or an empty account: a ticket from nobody in particular (the write then 404s or mismatches on its own merits).
  const id = await putTicket(deps, { subject: `About ${target.type} ${target.id}`, requester: user ? { email: user.email, name: user.name, externalId: user.id } : { email: `nobody-${target.id}@tickets.test` } });
  known.set(key, id);
  return id;
}

/** Ticket `id` (a seeded one, or any) as raised by the target, for tests that name their ticket. */
export async function raisedBy(deps: Deps, target: { type: "user" | "account"; id: string }, id: string): Promise<string> {
  const { db } = deps.database;
  const user =
    target.type === "user"
      ? await db.selectFrom("users").select(["id", "email", "name"]).where("id", "=", target.id).executeTakeFirst()
      : await db.selectFrom("users").select(["id", "email", "name"]).where("account_id", "=", target.id).orderBy("id").limit(1).executeTakeFirst();
  return putTicket(deps, { id: Number(id), subject: `About ${target.type} ${target.id}`, requester: user ? { email: user.email, name: user.name, externalId: user.id } : { email: `nobody-${target.id}@tickets.test` } });
}
