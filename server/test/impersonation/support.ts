import request from "supertest";
import type { PanelRole } from "../../../shared/roles.js";
import { systemActor } from "../../src/actor.js";
import { registerProduct } from "../../src/impersonation/products.js";
import { act, type Harness } from "../actions/harness.js";
import { raisedBy, ticketFor } from "../support/tickets.js";

/** Helpers of the impersonation tests: a registered product, targets that may be viewed, start/redeem calls. */
export interface TestProduct {
  id: string;
  credential: string;
}

export async function addProduct(h: Harness, id = "prd_test", url = "http://127.0.0.1:41799"): Promise<TestProduct> {
  const product = await registerProduct(h.deps.database.db, h.deps.clock, { id, name: `Test product ${id}`, url, actor: systemActor("test") });
  return { id: product.id, credential: `${product.id}.${product.secret}` };
}

/** Active, unblocked members of open accounts, not staff: users an agent may view. */
export async function viewableUsers(h: Harness, count: number, offset = 0): Promise<{ id: string; email: string; name: string; account_id: string }[]> {
  const rows = await h.deps.database.db
    .selectFrom("users as u")
    .innerJoin("accounts as a", "a.id", "u.account_id")
    .select(["u.id", "u.email", "u.name", "u.account_id"])
    .where("u.status", "=", "active")
    .where("u.blocked", "=", false)
    .where("u.role", "in", ["member", "billing", "viewer"])
    .where("a.status", "in", ["active", "trialing"])
    .orderBy("u.id")
    .limit(count)
    .offset(offset)
    .execute();
  if (rows.length < count) throw new Error(`only ${rows.length} viewable users in the demo data`);
  return rows;
}

export interface StartOptions {
  mode?: "read_only" | "full";
  minutes?: number;
  ticketId?: string;
  reason?: string;
  productId?: string;
}

/** Starts a session on a ticket the customer raised (the named one, written into the ticket store as theirs). */
export async function start(h: Harness, role: PanelRole, userId: string, options: StartOptions = {}) {
  const target = { type: "user" as const, id: userId };
  return act(h, role, "impersonation.start", {
    target,
    ticketId: options.ticketId ? await raisedBy(h.deps, target, options.ticketId) : await ticketFor(h.deps, target),
    reason: options.reason ?? "Customer says the projects page is empty",
    input: { mode: options.mode ?? "read_only", minutes: options.minutes ?? 30, ...(options.productId ? { productId: options.productId } : {}) },
  });
}

export async function stop(h: Harness, role: PanelRole, userId: string, sessionId: string) {
  return act(h, role, "impersonation.stop", { target: { type: "user", id: userId }, ticketId: await ticketFor(h.deps, { type: "user", id: userId }), reason: "Done looking at the account", input: { sessionId } });
}

export function redeem(h: Harness, product: TestProduct, grant: string) {
  return request(h.app).post("/api/impersonation/redeem").set("Authorization", `Bearer ${product.credential}`).send({ grant });
}

export function status(h: Harness, product: TestProduct, sid: string, heartbeat = false) {
  return request(h.app).get(`/api/impersonation/sessions/${sid}${heartbeat ? "?heartbeat=true" : ""}`).set("Authorization", `Bearer ${product.credential}`);
}

/** Events without their own time happened now on the harness's (manual) clock, as the product would report them. */
export function postEvents(h: Harness, product: TestProduct, sid: string, events: Record<string, unknown>[]) {
  const occurredAt = h.deps.clock.now().toISOString();
  return request(h.app)
    .post(`/api/impersonation/sessions/${sid}/events`)
    .set("Authorization", `Bearer ${product.credential}`)
    .send({ events: events.map((e) => ({ occurredAt, ...e })) });
}

let eventSeq = 0;
export function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  eventSeq++;
  return { id: `ev-${eventSeq}`, method: "GET", route: "GET /projects", object: null, outcome: "succeeded", status: 200, ...overrides };
}

export async function endAllSessions(h: Harness): Promise<void> {
  await h.deps.database.db.updateTable("impersonation_sessions").set({ ended_at: h.deps.clock.now(), end_reason: "agent", ended_by: "test" }).where("ended_at", "is", null).execute();
}
