import { z } from "zod";
import type { ActionName } from "../../../shared/actions.js";
import { roleAtLeast, type PanelRole } from "../../../shared/roles.js";
import type { ActionTarget } from "../../../shared/schemas/actions.js";
import type { TicketMatch, TicketSnapshot } from "../../../shared/schemas/ticket.js";
import type { Actor, StaffActor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import { auditWriteFailed } from "../audit/failClosed.js";
import type { Database } from "../db/database.js";
import { demoTicketPayload } from "../demo/demoTickets.js";
import type { AppDeps } from "../deps.js";
import { Problem, toProblem } from "../http/problem.js";
import { createZendeskClient, type ZendeskTicketRead } from "./zendeskClient.js";
import { emailKey } from "../lookup/resolveRequester.js";

/**
 * Every write names a Zendesk ticket; this checks it against Zendesk before anything is written: the
 * ticket exists, is not closed, and its requester is the target user (email, external id) or belongs
 * to the target's account (organization external id, email domain). A mismatch is refused; operations
 * and admin (admin only, for impersonation) may go ahead with an override reason, recorded as such.
 * Zendesk not answering is a 503 with nothing written: a read that failed is never a pass.
 */
type Deps = Pick<AppDeps, "config" | "database" | "clock" | "logger">;

export interface TicketReader {
  read(ticketId: string): Promise<ZendeskTicketRead>;
}

/** Demo mode reads the local Zendesk page's store directly; set ZENDESK_API_URL to go over HTTP instead. */
export function ticketReaderOf(deps: Deps): TicketReader {
  if (deps.config.demo && !deps.config.ZENDESK_API_URL) {
    return {
      async read(ticketId) {
        const body = await demoTicketPayload(deps.database.db, ticketId);
        return body ? { kind: "found", body } : { kind: "not_found" };
      },
    };
  }
  const client = createZendeskClient(deps.config);
  if (!client) return { read: async () => ({ kind: "unavailable", error: "no Zendesk API is configured (ZENDESK_API_EMAIL and ZENDESK_API_TOKEN)" }) };
  return { read: (ticketId) => client.getTicket(ticketId) };
}

const ZendeskTicketBody = z.object({
  ticket: z.object({
    id: z.number(),
    subject: z.string().nullable().optional(),
    status: z.string(),
    requester_id: z.number().nullable(),
    assignee_id: z.number().nullable().optional(),
    organization_id: z.number().nullable().optional(),
  }),
  users: z
    .array(z.object({ id: z.number(), name: z.string().nullable().optional(), email: z.string().nullable().optional(), external_id: z.string().nullable().optional(), organization_id: z.number().nullable().optional() }))
    .default([]),
  organizations: z.array(z.object({ id: z.number(), name: z.string().nullable().optional(), external_id: z.string().nullable().optional(), domain_names: z.array(z.string()).default([]) })).default([]),
});

export interface ZendeskTicket {
  id: string;
  subject: string;
  status: string;
  assigneeId: string | null;
  requester: { id: string; email: string | null; externalId: string | null; organizationId: string | null; name: string | null };
  organization: { id: string; externalId: string | null; domainNames: string[] } | null;
}

/** Zendesk's JSON → what verification needs; null when the shape is not what Zendesk documents. */
export function parseTicket(body: unknown): ZendeskTicket | null {
  const parsed = ZendeskTicketBody.safeParse(body);
  if (!parsed.success) return null;
  const { ticket, users, organizations } = parsed.data;
  const requester = users.find((u) => u.id === ticket.requester_id);
  const organizationId = requester?.organization_id ?? ticket.organization_id ?? null;
  const organization = organizationId === null ? undefined : organizations.find((o) => o.id === organizationId);
  return {
    id: String(ticket.id),
    subject: ticket.subject ?? "",
    status: ticket.status,
    assigneeId: ticket.assignee_id == null ? null : String(ticket.assignee_id),
    requester: {
      id: ticket.requester_id === null ? "" : String(ticket.requester_id),
      email: requester?.email ?? null,
      externalId: requester?.external_id ?? null,
      organizationId: organizationId === null ? null : String(organizationId),
      name: requester?.name ?? null,
    },
    organization: organization ? { id: String(organization.id), externalId: organization.external_id ?? null, domainNames: organization.domain_names.map((d) => d.toLowerCase()) } : null,
  };
}

const caches = new WeakMap<Database, Map<string, { ticket: ZendeskTicket; fetchedAt: Date; expiresAt: number }>>();

/** Tests that change a ticket in the store forget what was read of it. */
export function forgetCachedTickets(database: Database): void {
  caches.delete(database);
}

/** Only found tickets are cached: a ticket created a moment ago must not stay "not found". */
async function readTicket(deps: Deps, ticketId: string, reader: TicketReader): Promise<{ ticket: ZendeskTicket; fetchedAt: Date }> {
  const now = deps.clock.now();
  let cache = caches.get(deps.database);
  if (!cache) caches.set(deps.database, (cache = new Map()));
  const cached = cache.get(ticketId);
  if (cached && cached.expiresAt > now.getTime()) return cached;
  const read = await reader.read(ticketId);
  if (read.kind === "unavailable") {
    deps.logger.warn({ ticketId, error: read.error }, "could not read a ticket from Zendesk");
    const retry = read.retryAfterMs ? Math.ceil(read.retryAfterMs / 1000) : 5;
    throw Problem.unavailable("zendesk_unavailable", `Steward could not read ticket ${ticketId} from Zendesk to check it (${read.error.slice(0, 200)}); nothing was changed. Try again shortly`, retry);
  }
  if (read.kind === "not_found") {
    throw new Problem(422, "ticket_not_found", "Unprocessable request", `Zendesk has no ticket ${ticketId} (or Steward's Zendesk user cannot see it); a write must name the ticket the customer raised`, { ticketId });
  }
  const ticket = parseTicket(read.body);
  if (!ticket) throw Problem.unavailable("zendesk_unavailable", `Zendesk answered for ticket ${ticketId} in a shape Steward does not understand; nothing was changed`, 5);
  const ttl = deps.config.TICKET_CACHE_SECONDS * 1000;
  if (ttl > 0) cache.set(ticketId, { ticket, fetchedAt: now, expiresAt: now.getTime() + ttl });
  return { ticket, fetchedAt: now };
}

interface TargetFacts {
  type: "user" | "account";
  id: string;
  email: string | null;
  accountId: string;
  domain: string | null;
}

async function targetFacts(deps: Deps, target: ActionTarget): Promise<TargetFacts> {
  const { db } = deps.database;
  if (target.type === "user") {
    const row = await db.selectFrom("users as u").innerJoin("accounts as a", "a.id", "u.account_id").select(["u.id", "u.email", "u.status", "u.account_id", "a.domain"]).where("u.id", "=", target.id).executeTakeFirst();
    if (!row || row.status === "deleted") throw Problem.notFound(`No user ${target.id}`);
    return { type: "user", id: row.id, email: row.email, accountId: row.account_id, domain: row.domain };
  }
  const row = await db.selectFrom("accounts").select(["id", "domain"]).where("id", "=", target.id).executeTakeFirst();
  if (!row) throw Problem.notFound(`No account ${target.id}`);
  return { type: "account", id: row.id, email: null, accountId: row.id, domain: row.domain };
}

function domainOf(email: string | null): string | null {
  const at = email?.lastIndexOf("@") ?? -1;
  return email && at > 0 ? email.slice(at + 1).toLowerCase() : null;
}

/** How the requester relates to the target, or null when not at all. */
async function matchOf(deps: Deps, ticket: ZendeskTicket, target: TargetFacts): Promise<Exclude<TicketMatch, "override" | "unverified"> | null> {
  // One spelling for both sides (NFC, lower case), as the requester lookup compares them.
  const email = ticket.requester.email ? emailKey(ticket.requester.email) : null;
  const externalId = ticket.requester.externalId;
  if (target.type === "user") {
    if (email && target.email && emailKey(target.email) === email) return "email";
    if (externalId && externalId === target.id) return "external_id";
  }
  // The requester is any user of the target's account.
  if (email || externalId) {
    // steward_fold finds every spelling of the address (stored composed or decomposed, any case) and a few
    // accent variants besides; emailKey decides, as in the requester lookup.
    const members = await deps.database.db
      .selectFrom("users")
      .select(["id", "email"])
      .where("account_id", "=", target.accountId)
      .where((eb) => eb.or([...(email ? [eb(eb.fn("steward_fold", ["email"]), "=", eb.fn<string>("steward_fold", [eb.val(email)]))] : []), ...(externalId ? [eb("id", "=", externalId)] : [])]))
      .limit(50)
      .execute();
    if (email && members.some((m) => emailKey(m.email) === email)) return "email";
    if (externalId && members.some((m) => m.id === externalId)) return "external_id";
  }
  if (ticket.organization?.externalId && ticket.organization.externalId === target.accountId) return "organization";
  const domain = target.domain?.toLowerCase() ?? null;
  if (domain && (domainOf(ticket.requester.email) === domain || ticket.organization?.domainNames.includes(domain))) return "domain";
  return null;
}

/** Who may go ahead when the requester does not match: operations+, and only admin for impersonation (issue 9). */
export function overrideRoleFor(action: ActionName): PanelRole {
  return action === "impersonation.start" ? "admin" : "operations";
}

export interface TicketCheckRequest {
  actor: Actor;
  action: ActionName;
  ticketId: string;
  reason: string;
  target: ActionTarget;
  ticketOverrideReason?: string | undefined;
  requestId?: string | null;
}

async function auditRefusal(deps: Deps, req: TicketCheckRequest, target: TargetFacts, problem: Problem, snapshot: TicketSnapshot | null): Promise<void> {
  try {
    await appendAudit(
      deps.database.db,
      {
        actor: req.actor,
        action: req.action,
        target: { type: target.type, id: target.id, accountId: target.accountId },
        ticketId: req.ticketId,
        reason: req.reason,
        outcome: "denied",
        error: `${problem.code}: ${problem.detail ?? problem.title}`,
        requestId: req.requestId ?? null,
        ticketSnapshot: snapshot,
      },
      deps.clock,
    );
  } catch (err) {
    deps.logger.error({ err, action: req.action }, "could not audit a ticket refusal");
    throw auditWriteFailed(err);
  }
}

function describeRequester(ticket: ZendeskTicket): string {
  const r = ticket.requester;
  const parts = [r.email ?? "no email", `Zendesk user ${r.id || "unknown"}`, ...(r.externalId ? [`external id ${r.externalId}`] : []), ...(r.organizationId ? [`organization ${r.organizationId}`] : [])];
  return parts.join(", ");
}

function describeTarget(target: TargetFacts): string {
  const who = target.type === "user" ? `user ${target.id} (${target.email ?? "no email"}) of account ${target.accountId}` : `account ${target.id}`;
  return `${who}${target.domain ? `, domain ${target.domain}` : ""}`;
}

/** What the check found: a pass with its snapshot, or the refusal (with the ticket as read, where it was). */
type TicketCheck = { snapshot: TicketSnapshot; refusal: null } | { snapshot: TicketSnapshot | null; refusal: Problem; target: TargetFacts };

async function checkTicket(deps: Deps, req: TicketCheckRequest & { actor: StaffActor }, reader: TicketReader): Promise<TicketCheck> {
  const target = await targetFacts(deps, req.target);
  const { ticket, fetchedAt } = await readTicket(deps, req.ticketId, reader);
  const snapshotWith = (match: TicketMatch, overrideReason: string | null): TicketSnapshot => ({
    id: ticket.id,
    subject: ticket.subject,
    status: ticket.status,
    requester: ticket.requester,
    assigneeId: ticket.assigneeId,
    match,
    overrideReason,
    fetchedAt: fetchedAt.toISOString(),
  });
  const match = await matchOf(deps, ticket, target);
  if (ticket.status === "closed") {
    const problem = Problem.conflict("ticket_closed", `Ticket ${ticket.id} is closed; a write needs an open ticket (a follow-up ticket, if the customer asked again)`, { ticketId: ticket.id, ticketStatus: ticket.status });
    return { snapshot: snapshotWith(match ?? "unverified", null), refusal: problem, target };
  }
  if (match) return { snapshot: snapshotWith(match, null), refusal: null };

  const overrideRole = overrideRoleFor(req.action);
  const mayOverride = roleAtLeast(req.actor.panelRole, overrideRole);
  if (mayOverride && req.ticketOverrideReason) return { snapshot: snapshotWith("override", req.ticketOverrideReason), refusal: null };
  const how = mayOverride ? "; to go ahead anyway, give ticketOverrideReason (it is recorded and flagged)" : `; only ${overrideRole}${overrideRole === "admin" ? "" : " or admin"} may go ahead with an override reason`;
  const problem = Problem.forbidden("ticket_mismatch", `Ticket ${ticket.id}'s requester (${describeRequester(ticket)}) is not ${describeTarget(target)} nor in that account${how}`, {
    ticket: { id: ticket.id, subject: ticket.subject, status: ticket.status, requester: ticket.requester },
    target: { type: target.type, id: target.id, email: target.email, accountId: target.accountId, domain: target.domain },
    overrideAllowed: mayOverride,
    overrideRole,
  });
  return { snapshot: snapshotWith("unverified", null), refusal: problem, target };
}

/**
 * The check itself; returns the snapshot to store with the audit entry (null for Steward's own
 * actions, whose ticket was checked when the agent started them). Refusals are audited as denied.
 */
export async function verifyTicket(deps: Deps, req: TicketCheckRequest, options: { reader?: TicketReader } = {}): Promise<TicketSnapshot | null> {
  if (req.actor.kind === "system") return null;
  const check = await checkTicket(deps, { ...req, actor: req.actor }, options.reader ?? ticketReaderOf(deps));
  if (!check.refusal) return check.snapshot;
  await auditRefusal(deps, req, check.target, check.refusal, null);
  throw check.refusal;
}

/** The check's result as an entry records it next to the snapshot: passed, or why not (refused or not known). */
export type TicketCheckResult = { passed: true } | { passed: false; code: string; detail: string };

/**
 * For actions that only take access away (ending an impersonation): removing access must always be
 * possible, so the check runs and is recorded but never refuses. A closed or mismatching ticket keeps
 * its snapshot (match `unverified` when the requester does not match); Zendesk not answering leaves none.
 */
export async function recordTicketCheck(deps: Deps, req: TicketCheckRequest, options: { reader?: TicketReader } = {}): Promise<{ snapshot: TicketSnapshot | null; check: TicketCheckResult | null }> {
  if (req.actor.kind === "system") return { snapshot: null, check: null };
  const waitMs = deps.config.ENDS_ACCESS_TICKET_WAIT_MS;
  let timer: NodeJS.Timeout | undefined;
  // A Zendesk that hangs must not hold the end for the provider timeout: the read is a record, not a condition.
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Problem.unavailable("zendesk_unavailable", `Zendesk did not answer within ${waitMs} ms; access was ended without waiting for the ticket`)), waitMs);
  });
  try {
    const check = await Promise.race([checkTicket(deps, { ...req, actor: req.actor }, options.reader ?? ticketReaderOf(deps)), gaveUp]);
    if (!check.refusal) return { snapshot: check.snapshot, check: { passed: true } };
    return { snapshot: check.snapshot, check: { passed: false, code: check.refusal.code, detail: check.refusal.detail ?? check.refusal.title } };
  } catch (err) {
    // Zendesk down or unreadable, the ticket gone, the target gone: still not a reason to keep access open.
    const problem = toProblem(err);
    deps.logger.warn({ err, action: req.action, ticketId: req.ticketId }, "ticket check failed for an action that ends access; going ahead");
    return { snapshot: null, check: { passed: false, code: problem.code, detail: problem.detail ?? problem.title } };
  } finally {
    clearTimeout(timer);
  }
}
