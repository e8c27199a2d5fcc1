import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import request from "supertest";
import type { PanelRole } from "../../../shared/roles.js";
import { systemActor } from "../../src/actor.js";
import { createApp } from "../../src/app.js";
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

/** An answer as the link in front of Steward sends it. */
export interface LinkReply {
  status: number;
  contentType: string;
  body: string;
}

/** What the link answers when Steward is down (nothing passed on) or its answer was lost. */
export const STEWARD_UNAVAILABLE: LinkReply = { status: 503, contentType: "application/problem+json", body: JSON.stringify({ status: 503, code: "unavailable" }) };

/**
 * The real app on a port of its own, and a link in front of it the test controls (a proxy, a filter, a flaky
 * network): `handle` gets each request and `forward`, which passes it to Steward and resolves to its answer.
 * The kit under test talks to `url`; `appUrl` reaches Steward directly.
 */
export async function startLinkedApp(
  h: Harness,
  handle: (req: { method: string; url: string; body: string }, forward: () => Promise<LinkReply>) => Promise<LinkReply>,
): Promise<{ url: string; appUrl: string; close(): void }> {
  const app = createApp(h.deps).listen(0, "127.0.0.1");
  await new Promise((resolve) => app.once("listening", resolve));
  const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  const link = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString();
      const method = req.method ?? "GET";
      const url = req.url ?? "/";
      const forward = async (): Promise<LinkReply> => {
        const headers: Record<string, string> = {};
        for (const name of ["authorization", "content-type"]) if (req.headers[name]) headers[name] = String(req.headers[name]);
        const answer = await fetch(`${appUrl}${url}`, { method, headers, ...(body ? { body } : {}) });
        return { status: answer.status, contentType: answer.headers.get("content-type") ?? "application/json", body: await answer.text() };
      };
      const reply = await handle({ method, url, body }, forward);
      res.writeHead(reply.status, { "content-type": reply.contentType }).end(reply.body);
    });
  }).listen(0, "127.0.0.1");
  await new Promise((resolve) => link.once("listening", resolve));
  return {
    url: `http://127.0.0.1:${(link.address() as AddressInfo).port}`,
    appUrl,
    close() {
      app.close();
      link.close();
    },
  };
}

/** A live session of support_full's on the `offset`th viewable user, its grant redeemed by the product. */
export async function openedSession(h: Harness, product: TestProduct, offset: number, ticketId: string): Promise<{ sid: string; user: { id: string; email: string; name: string; account_id: string } }> {
  const [user] = await viewableUsers(h, 1, offset);
  const res = await start(h, "support_full", user!.id, { minutes: 30, productId: product.id, ticketId });
  if (res.status !== 200) throw new Error(`start answered ${res.status}: ${JSON.stringify(res.body)}`);
  const { sessionId, grant } = res.body.result as { sessionId: string; grant: string };
  const redeemed = await redeem(h, product, grant);
  if (redeemed.status !== 200) throw new Error(`redeem answered ${redeemed.status}: ${JSON.stringify(redeemed.body)}`);
  return { sid: sessionId, user: user! };
}
