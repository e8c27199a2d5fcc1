import request from "supertest";
import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import type { AvailableActions } from "../../../shared/schemas/availability.js";
import { sweepImpersonation } from "../../src/impersonation/sweep.js";
import { reconcileOnce } from "../../src/reconcile/reconciler.js";
import { databaseKinds } from "../support/databases.js";
import { addProduct, endAllSessions, start, viewableUsers } from "../impersonation/support.js";
import { ticketFor } from "../support/tickets.js";
import { act, auditCount, auditOf, defaultDirectory, preview, sessionOf, useHarness, versionOf, type Harness } from "./harness.js";

/**
 * user.impersonation_protect and user.impersonation_unprotect through the HTTP API, on both databases
 * and (this folder runs again as "actions (http directory)") both directories: the flag is written to
 * the directory — Steward's tables, or the demo product's own store — and impersonation.start, which
 * reads it fresh from there, refuses a protected user and allows them again once unprotected.
 */
const PROTECT = "user.impersonation_protect";
const UNPROTECT = "user.impersonation_unprotect";
const user = (id: string) => ({ type: "user" as const, id });

/** The flag and version as the directory holds them (the product's store with http, Steward's tables with builtin). */
async function directoryFlag(h: Harness, id: string): Promise<{ protected: boolean; version: number }> {
  if (h.product) {
    const row = await h.product.store.user(id);
    return { protected: row!.protected, version: row!.version };
  }
  const row = await h.deps.database.db.selectFrom("users").select(["impersonation_protected", "version"]).where("id", "=", id).executeTakeFirstOrThrow();
  return { protected: row.impersonation_protected, version: row.version };
}

/** Everything either action could change about the user, in the directory and in Steward's copy. */
async function stateOf(h: Harness, id: string) {
  const cached = await h.deps.database.db.selectFrom("users").select(["impersonation_protected", "version", "role", "status"]).where("id", "=", id).executeTakeFirstOrThrow();
  return { directory: await directoryFlag(h, id), cached };
}

async function available(h: Harness, role: PanelRole, id: string): Promise<AvailableActions> {
  const res = await request(h.app).get("/api/actions/available").query({ targetType: "user", targetId: id }).set("Authorization", `Bearer ${await sessionOf(h, role)}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as AvailableActions;
}
const entryOf = (result: AvailableActions, action: string) => result.actions.find((a) => a.action === action);

describe.each(databaseKinds)("impersonation protection (%s)", (kind) => {
  // Short provider timeouts so the product-down tests (http directory) stay fast.
  const h = useHarness(kind, {
    env: { PROVIDER_TIMEOUT_MS: "700", PROVIDER_MAX_RETRIES: "1", RECONCILE_INTERVAL_MS: "100" },
    arrange: async ({ deps }) => void (await deps.database.db.updateTable("users").set({ status: "deleted" }).where("id", "=", "usr_demo_008_5").execute()),
  });

  it("protecting makes impersonation.start refuse the user (target_protected, no session); unprotecting (operations) allows it again; both audited with the ticket, before and after", async () => {
    const product = await addProduct(h, "prd_protect", "http://127.0.0.1:4599");
    const [target] = await viewableUsers(h, 1, 20);
    const id = target!.id;
    const ticketId = await ticketFor(h.deps, user(id));
    const before = await directoryFlag(h, id);
    expect(before.protected).toBe(false);

    const protect = await act(h, "support_full", PROTECT, { target: user(id), ticketId, reason: "Customer asked that no one logs into their account" });
    expect(protect.status, JSON.stringify(protect.body)).toBe(200);
    expect(await directoryFlag(h, id)).toEqual({ protected: true, version: before.version + 1 });
    const [entry, ...more] = (await auditOf(h.deps, PROTECT, id)).filter((e) => e.outcome === "succeeded");
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ ticketId, reason: "Customer asked that no one logs into their account", before: { impersonationProtected: false }, after: { impersonationProtected: true } });
    expect(protect.body.after).toEqual(entry!.after);

    const refused = await start(h, "support_full", id, { productId: product.id });
    expect([refused.status, refused.body.code], JSON.stringify(refused.body)).toEqual([409, "target_protected"]);
    expect((await auditOf(h.deps, "impersonation.start", id)).at(-1)).toMatchObject({ outcome: "failed", error: expect.stringContaining("target_protected") });
    expect(await h.deps.database.db.selectFrom("impersonation_sessions").select("id").where("user_id", "=", id).execute()).toEqual([]);
    // Even by an admin: the protection is the customer's wish, not a role question.
    expect((await start(h, "admin", id, { productId: product.id })).body.code).toBe("target_protected");

    const unprotect = await act(h, "operations", UNPROTECT, { target: user(id), ticketId, reason: "Customer asked us to look at their dashboard" });
    expect(unprotect.status, JSON.stringify(unprotect.body)).toBe(200);
    expect(await directoryFlag(h, id)).toEqual({ protected: false, version: before.version + 2 });
    expect((await auditOf(h.deps, UNPROTECT, id)).at(-1)).toMatchObject({ outcome: "succeeded", ticketId, before: { impersonationProtected: true }, after: { impersonationProtected: false } });

    const allowed = await start(h, "support_full", id, { productId: product.id });
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
    await endAllSessions(h);
  });

  it("a session already live when its user is protected is ended by the next sweep (target_changed)", async () => {
    const product = await addProduct(h, "prd_protect_live", "http://127.0.0.1:4598");
    const [target] = await viewableUsers(h, 1, 21);
    const id = target!.id;
    const started = await start(h, "support_full", id, { productId: product.id });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect((await sweepImpersonation(h.deps)).ended).toBe(0);
    // The preview names the live session's agent before anything changes.
    const shown = await preview(h, "support_full", PROTECT, { target: user(id) });
    expect(shown.status, JSON.stringify(shown.body)).toBe(200);
    expect(shown.body.effects.summaryPhrase).toMatchObject({ code: "user_impersonation_protect" });
    expect(shown.body.effects.warningPhrases).toEqual([expect.objectContaining({ code: "impersonation_sessions_end", params: expect.objectContaining({ count: 1, seconds: 5 }) })]);
    expect(await directoryFlag(h, id)).toMatchObject({ protected: false });
    expect((await act(h, "support_full", PROTECT, { target: user(id) })).status).toBe(200);
    expect((await sweepImpersonation(h.deps)).ended).toBe(1);
    const session = await h.deps.database.db.selectFrom("impersonation_sessions").select(["ended_at", "end_reason"]).where("user_id", "=", id).executeTakeFirstOrThrow();
    expect(session).toMatchObject({ ended_at: expect.any(Date), end_reason: "target_changed" });
  });

  it("tells the customer: protecting when the agent chooses to (in the ticket's language), lifting it always (a security notice that cannot be turned off)", async () => {
    const [target] = await viewableUsers(h, 1, 31);
    const id = target!.id;
    const mails = () => h.deps.database.db.selectFrom("mail_outbox").select(["kind", "to_address", "subject"]).where("user_id", "=", id).orderBy("kind").execute();
    expect((await act(h, "support_full", PROTECT, { target: user(id), notifyCustomer: true, customerLocale: "de" })).status).toBe(200);
    const shown = await preview(h, "operations", UNPROTECT, { target: user(id) });
    expect(shown.status, JSON.stringify(shown.body)).toBe(200);
    expect(shown.body.effects.summaryPhrase).toMatchObject({ code: "user_impersonation_unprotect" });
    expect(shown.body.effects.warningPhrases).toEqual([expect.objectContaining({ code: "security_notice_mandatory" })]);
    const off = await act(h, "operations", UNPROTECT, { target: user(id), notifyCustomer: false });
    expect(off.status).toBe(400);
    expect(off.body.errors).toEqual([expect.objectContaining({ field: "body.notifyCustomer" })]);
    const lifted = await act(h, "operations", UNPROTECT, { target: user(id) });
    expect(lifted.status, JSON.stringify(lifted.body)).toBe(200);
    expect(lifted.body.after).toMatchObject({ customerNotice: { to: [target!.email], mandatory: true } });
    expect(await mails()).toEqual([
      { kind: `notice:${PROTECT}`, to_address: target!.email, subject: "Der Support sieht Ihr Konto nicht mehr als Sie an" },
      { kind: `notice:${UNPROTECT}`, to_address: target!.email, subject: "Security notice: support may view your account as you again" },
    ]);
    // Protecting without the agent's choice sends nothing.
    expect((await act(h, "support_full", PROTECT, { target: user(id) })).status).toBe(200);
    expect(await mails()).toHaveLength(2);
  });

  it("refuses the wrong panel role with 403 naming the role needed, audited as denied with the ticket, nothing changed", async () => {
    const [target] = await viewableUsers(h, 1, 22);
    const id = target!.id;
    const ticketId = await ticketFor(h.deps, user(id));
    const before = await stateOf(h, id);
    const readOnly = await act(h, "support_read_only", PROTECT, { target: user(id), ticketId });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body).toMatchObject({ code: "action_not_allowed", action: PROTECT, requiredRole: "support_full", panelRole: "support_read_only" });
    expect((await auditOf(h.deps, PROTECT, id)).at(-1)).toMatchObject({ outcome: "denied", ticketId, actor: { panelRole: "support_read_only" } });
    expect(await stateOf(h, id)).toEqual(before);

    // Lifting the protection re-opens the customer to impersonation: support cannot, operations can.
    expect((await act(h, "support_full", PROTECT, { target: user(id), ticketId })).status).toBe(200);
    const protectedState = await stateOf(h, id);
    const support = await act(h, "support_full", UNPROTECT, { target: user(id), ticketId });
    expect(support.status).toBe(403);
    expect(support.body).toMatchObject({ code: "action_not_allowed", action: UNPROTECT, requiredRole: "operations", panelRole: "support_full" });
    expect((await auditOf(h.deps, UNPROTECT, id)).at(-1)).toMatchObject({ outcome: "denied", ticketId, actor: { panelRole: "support_full" } });
    expect(await stateOf(h, id)).toEqual(protectedState);
  });

  it("answers bad input with 400 naming the field; nothing changed, nothing audited", async () => {
    const [target] = await viewableUsers(h, 1, 23);
    const id = target!.id;
    const before = await stateOf(h, id);
    const audits = await auditCount(h.deps);
    const extra = await act(h, "support_full", PROTECT, { target: user(id), input: { protected: true } });
    expect(extra.status).toBe(400);
    expect(extra.body).toMatchObject({ code: "invalid_request", errors: [{ field: "body.input" }] });
    const account = await act(h, "support_full", PROTECT, { target: { type: "account", id: target!.account_id } });
    expect(account.status).toBe(400);
    expect(account.body.errors).toEqual([expect.objectContaining({ field: "body.target.type" })]);
    const version = await request(h.app)
      .post(`/api/actions/${UNPROTECT}`)
      .set("Authorization", `Bearer ${await sessionOf(h, "operations")}`)
      .send({ ticketId: await ticketFor(h.deps, user(id)), reason: "Customer asked", target: user(id), expectedVersion: "latest", input: {} });
    expect(version.status).toBe(400);
    expect(version.body.errors).toEqual([expect.objectContaining({ field: "body.expectedVersion" })]);
    expect(await stateOf(h, id)).toEqual(before);
    expect(await auditCount(h.deps)).toBe(audits);
  });

  it("answers a stale version with 409 stale_version, audited failed, the directory unchanged", async () => {
    const [target] = await viewableUsers(h, 1, 24);
    const id = target!.id;
    const before = await stateOf(h, id);
    const current = await versionOf(h.deps, user(id));
    const res = await act(h, "support_full", PROTECT, { target: user(id), expectedVersion: current + 1 });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "stale_version", expectedVersion: current + 1, currentVersion: current });
    expect((await auditOf(h.deps, PROTECT, id)).at(-1)).toMatchObject({ outcome: "failed", error: expect.stringContaining("stale_version") });
    expect(await stateOf(h, id)).toEqual(before);
  });

  it("applies once when retried with the same Idempotency-Key (one directory write, one audit entry)", async () => {
    const [target] = await viewableUsers(h, 1, 25);
    const id = target!.id;
    const before = await directoryFlag(h, id);
    const key = `protect-retry-${kind}-${defaultDirectory()}`;
    const first = await act(h, "support_full", PROTECT, { target: user(id) }, { idempotencyKey: key });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const retry = await act(h, "support_full", PROTECT, { target: user(id), expectedVersion: first.body.before.version }, { idempotencyKey: key });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ replayed: true, auditEntryId: first.body.auditEntryId });
    expect(await directoryFlag(h, id)).toEqual({ protected: true, version: before.version + 1 });
    // One succeeded entry (with the http directory, after its pending intent).
    expect((await auditOf(h.deps, PROTECT, id)).map((e) => e.outcome)).toEqual(h.product ? ["pending", "succeeded"] : ["succeeded"]);
    // Without the key, protecting again is refused: it is already so.
    const again = await act(h, "support_full", PROTECT, { target: user(id) });
    expect([again.status, again.body.code]).toEqual([409, "already_protected"]);
  });

  it("the available actions say which applies: protect until protected, then unprotect (operations); the reason when not", async () => {
    const [target] = await viewableUsers(h, 1, 26);
    const id = target!.id;
    const fresh = await available(h, "operations", id);
    expect(entryOf(fresh, PROTECT)).toMatchObject({ status: "available" });
    expect(entryOf(fresh, UNPROTECT)).toMatchObject({ status: "unavailable", reason: "state", code: "not_protected" });
    const notProtected = await act(h, "operations", UNPROTECT, { target: user(id) });
    expect([notProtected.status, notProtected.body.code]).toEqual([409, "not_protected"]);

    expect((await act(h, "support_full", PROTECT, { target: user(id) })).status).toBe(200);
    const after = await available(h, "operations", id);
    expect(entryOf(after, PROTECT)).toMatchObject({ status: "unavailable", reason: "state", code: "already_protected" });
    expect(entryOf(after, UNPROTECT)).toMatchObject({ status: "available" });
    expect(entryOf(await available(h, "support_full", id), UNPROTECT)).toMatchObject({ status: "unavailable", reason: "role", requiredRole: "operations" });

    const deleted = await available(h, "admin", "usr_demo_008_5");
    for (const action of [PROTECT, UNPROTECT]) expect(entryOf(deleted, action), action).toMatchObject({ status: "unavailable", reason: "state", code: "user_deleted" });
  });

  it("context carries the flag, so the sidebar offers the action that applies", async () => {
    const [target] = await viewableUsers(h, 1, 27);
    const context = async () => (await request(h.app).get("/api/context").query({ email: target!.email }).set("Authorization", `Bearer ${await sessionOf(h, "support_full")}`)).body;
    expect((await context()).user).toMatchObject({ id: target!.id, impersonationProtected: false });
    expect((await act(h, "support_full", PROTECT, { target: user(target!.id) })).status).toBe(200);
    expect((await context()).user).toMatchObject({ id: target!.id, impersonationProtected: true });
  });

  describe.runIf(defaultDirectory() === "http")("the product's directory down or slow", () => {
    const heal = () => Object.assign(h.product!.faults, { delayMs: 0, status: null, writesOnly: false, answerDelayMs: 0 });

    it("product down: a clear 502, audited failed, nothing changed in the product or in Steward's copy", async () => {
      const [target] = await viewableUsers(h, 1, 28);
      const id = target!.id;
      const before = await stateOf(h, id);
      h.product!.faults.status = 503;
      const res = await act(h, "support_full", PROTECT, { target: user(id) });
      heal();
      expect(res.status, JSON.stringify(res.body)).toBe(502);
      expect(res.body).toMatchObject({ code: "provider_unavailable", provider: "product" });
      expect(await stateOf(h, id)).toEqual(before);
      expect((await auditOf(h.deps, PROTECT, id)).map((e) => e.outcome)).toEqual(["failed"]);
    });

    it("the product refuses the write itself (503 on the write only): 202 outcome unknown, for it may have applied it; the reconciler's keyed retry settles it", async () => {
      const [target] = await viewableUsers(h, 1, 30);
      const id = target!.id;
      const before = await stateOf(h, id);
      Object.assign(h.product!.faults, { status: 503, writesOnly: true });
      const res = await act(h, "support_full", PROTECT, { target: user(id) });
      heal();
      expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
      expect(await stateOf(h, id)).toEqual(before);
      expect((await auditOf(h.deps, PROTECT, id)).map((e) => e.outcome)).toEqual(["pending", "unknown"]);
      await new Promise((r) => setTimeout(r, 300));
      expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
      expect(await directoryFlag(h, id)).toEqual({ protected: true, version: before.directory.version + 1 });
      expect((await auditOf(h.deps, PROTECT, id)).map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
    });

    it("product too slow to answer: 202 outcome unknown, audited unknown, Steward's copy unmoved; the reconciler settles it once with the same key", async () => {
      const [target] = await viewableUsers(h, 1, 29);
      const id = target!.id;
      const before = await stateOf(h, id);
      Object.assign(h.product!.faults, { delayMs: 1_000, writesOnly: true });
      const res = await act(h, "support_full", PROTECT, { target: user(id) });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect(res.body.code).toBe("outcome_unknown");
      expect((await auditOf(h.deps, PROTECT, id)).map((e) => e.outcome)).toEqual(["pending", "unknown"]);
      // Whatever the late write did at the product, nothing is half-recorded here.
      expect((await stateOf(h, id)).cached).toEqual(before.cached);
      await new Promise((r) => setTimeout(r, 1_500));
      heal();
      expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
      // Applied once at the product however many times the keyed write was sent.
      expect(await directoryFlag(h, id)).toEqual({ protected: true, version: before.directory.version + 1 });
      expect((await auditOf(h.deps, PROTECT, id)).at(-1)).toMatchObject({ outcome: "succeeded", after: { impersonationProtected: true } });
      expect((await stateOf(h, id)).cached.impersonation_protected).toBe(true);
    });
  });
});
