import request from "supertest";
import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import { issueSessionToken } from "../../src/auth/sessionToken.js";
import { expireApprovals } from "../../src/commands/approval/approvals.js";
import { act, auditOf, sessionOf, useHarness, type Harness } from "../actions/harness.js";
import { databaseKinds } from "../support/databases.js";
import { ticketFor } from "../support/tickets.js";

/** Two-person approval (issue 13, item 4) through the real API on both databases. */
const ACCOUNT = "acc_demo_011";
const USER = "usr_demo_002_1";
const SECOND_FULL = { id: "stf_test_full_2", zendeskUserId: "7999", email: "second.full@steward.test", name: "Second Full" };

async function bearer(h: Harness, who: PanelRole | "second_full"): Promise<string> {
  if (who === "second_full") return `Bearer ${(await issueSessionToken(h.deps, { staffId: SECOND_FULL.id, zendeskUserId: SECOND_FULL.zendeskUserId })).token}`;
  return `Bearer ${await sessionOf(h, who)}`;
}

async function ask(h: Harness, who: PanelRole, body: { action: string; targetType: "user" | "account"; targetId: string; input: Record<string, unknown>; ticketId?: string; notifyCustomer?: boolean; customerLocale?: string; ticketOverrideReason?: string }) {
  const ticketId = body.ticketId ?? (await ticketFor(h.deps, { type: body.targetType, id: body.targetId }));
  return request(h.app).post("/api/approvals").set("Authorization", await bearer(h, who)).send({ reason: "Customer was double charged last month", ...body, ticketId });
}

function decide(h: Harness, auth: string, id: string, step: "approve" | "reject", body: object = {}) {
  return request(h.app).post(`/api/approvals/${id}/${step}`).set("Authorization", auth).set("Idempotency-Key", `click-${id}`).send(body);
}

async function creditsOf(h: Harness, amountCents: number): Promise<number> {
  const rows = await h.deps.database.db
    .selectFrom("billing_balance_transactions as t")
    .innerJoin("billing_customers as c", "c.id", "t.customer_id")
    .select("t.id")
    .where("c.account_id", "=", ACCOUNT)
    .where("t.amount_cents", "=", -amountCents)
    .execute();
  return rows.length;
}

describe.each(databaseKinds)("two-person approval (%s)", (kind) => {
  const h = useHarness(kind, {
    arrange: async (harness) => {
      await harness.deps.database.db.insertInto("staff").values({ id: SECOND_FULL.id, zendesk_user_id: SECOND_FULL.zendeskUserId, email: SECOND_FULL.email, name: SECOND_FULL.name, panel_role: "support_full" }).execute();
    },
  });

  it("over the cap: 403 says who can approve; the request → a different approver's approve runs it once (double click), with both people recorded", async () => {
    const over = await act(h, "support_full", "billing.credit_apply", { target: { type: "account", id: ACCOUNT }, input: { amountCents: 7_777 } });
    expect(over.status).toBe(403);
    expect(over.body).toMatchObject({ code: "over_cap", canApprove: ["operations", "admin"], approvalPossible: true });

    const asked = await ask(h, "support_full", { action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents: 7_777 } });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    const id = asked.body.approval.id as string;
    expect(asked.body.approval).toMatchObject({ status: "pending", action: "billing.credit_apply", requestedBy: { staffId: "stf_demo_full", panelRole: "support_full" }, decidedBy: null });
    expect((await auditOf(h.deps, "approval.request", ACCOUNT)).at(-1)).toMatchObject({ outcome: "succeeded", ticketSnapshot: expect.objectContaining({ match: "email" }) });

    // Nobody approves their own; a second support_full has the same cap as the requester: refused too.
    const own = await decide(h, await bearer(h, "support_full"), id, "approve");
    expect(own.status).toBe(403);
    expect(own.body.code).toBe("self_approval");
    const lowCap = await decide(h, await bearer(h, "second_full"), id, "approve");
    expect(lowCap.status).toBe(403);
    expect(lowCap.body).toMatchObject({ code: "approver_not_allowed", canApprove: ["operations", "admin"] });
    expect(await creditsOf(h, 7_777)).toBe(0);

    // The operations approver double-clicks.
    const ops = await bearer(h, "operations");
    const [first, second] = await Promise.all([decide(h, ops, id, "approve"), decide(h, ops, id, "approve")]);
    expect([first.status, second.status], JSON.stringify([first.body, second.body])).toEqual([200, 200]);
    expect(first.body.approval).toMatchObject({ status: "approved", decidedBy: { staffId: "stf_demo_ops" } });
    expect(second.body.approval.status).toBe("approved");
    expect(await creditsOf(h, 7_777)).toBe(1);

    const entries = (await auditOf(h.deps, "billing.credit_apply", ACCOUNT)).filter((e) => e.approval?.requestId === id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      outcome: "succeeded",
      actor: { staffId: "stf_demo_ops" },
      approval: { requestId: id, requestedBy: { staffId: "stf_demo_full" }, approvedBy: { staffId: "stf_demo_ops" } },
      ticketSnapshot: expect.objectContaining({ id: asked.body.approval.ticketId }),
    });
    expect((await auditOf(h.deps, "approval.approve", ACCOUNT)).filter((e) => (e.after as { approvalId?: string } | null)?.approvalId === id).map((e) => e.outcome)).toEqual(["succeeded"]);
    // The two refused approvals (own request, too low a cap) were audited as denied.
    expect((await auditOf(h.deps, "approval.approve", ACCOUNT)).filter((e) => e.outcome === "denied").map((e) => e.error?.split(":")[0])).toEqual(expect.arrayContaining(["self_approval", "approver_not_allowed"]));

    // Decided: a late reject is refused.
    const late = await decide(h, ops, id, "reject", { reason: "Too late, already done" });
    expect(late.status).toBe(409);
  });

  it("reject needs a reason, is audited, and the action never runs", async () => {
    const asked = await ask(h, "support_full", { action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents: 6_123 } });
    const id = asked.body.approval.id as string;
    const ops = await bearer(h, "operations");
    const noReason = await decide(h, ops, id, "reject", {});
    expect(noReason.status).toBe(400);
    expect(noReason.body.errors[0].field).toBe("body.reason");
    const rejected = await decide(h, ops, id, "reject", { reason: "Credit was already issued by finance" });
    expect(rejected.status).toBe(200);
    expect(rejected.body.approval).toMatchObject({ status: "rejected", decisionReason: "Credit was already issued by finance", decidedBy: { staffId: "stf_demo_ops" } });
    const approved = await decide(h, ops, id, "approve");
    expect(approved.status).toBe(409);
    expect(await creditsOf(h, 6_123)).toBe(0);
    expect((await auditOf(h.deps, "approval.reject", ACCOUNT)).at(-1)).toMatchObject({ reason: "Credit was already issued by finance", actor: { staffId: "stf_demo_ops" } });
  });

  it("expires after 24 h, exactly once even when two sweeps race; an expired request cannot be approved", async () => {
    // Requests other tests left pending expire in a sweep of their own first, so the race below has exactly this one to expire.
    h.deps.clock.advance(24 * 3_600_000);
    await expireApprovals(h.deps);
    const asked = await ask(h, "support_full", { action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents: 5_555 } });
    const id = asked.body.approval.id as string;
    h.deps.clock.advance(23 * 3_600_000);
    expect(await expireApprovals(h.deps)).toBe(0);
    h.deps.clock.advance(3_600_000);
    const counts = await Promise.all([expireApprovals(h.deps), expireApprovals(h.deps)]);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
    const list = await request(h.app).get("/api/approvals").query({ status: "expired" }).set("Authorization", await bearer(h, "support_full"));
    expect(list.body.approvals.map((a: { id: string }) => a.id)).toContain(id);
    expect((await auditOf(h.deps, "approval.expire", ACCOUNT)).filter((e) => (e.after as { approvalId?: string } | null)?.approvalId === id)).toHaveLength(1);
    const approved = await decide(h, await bearer(h, "operations"), id, "approve");
    expect(approved.status).toBe(409);
    expect(approved.body.code).toBe("approval_expired");
    expect(await creditsOf(h, 5_555)).toBe(0);
  });

  it("a run whose decision was never recorded (the approver's process died between the two) is not run again by the next approver", async () => {
    const asked = await ask(h, "support_full", { action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents: 6_789 } });
    const id = asked.body.approval.id as string;
    // A key spelled like the run's, used by someone else for an action of their own, is not taken for the run.
    const decoy = await act(h, "support_full", "billing.credit_apply", { target: { type: "account", id: ACCOUNT }, input: { amountCents: 111 } }, { idempotencyKey: `approval:${id}` });
    expect(decoy.status, JSON.stringify(decoy.body)).toBe(200);
    const ran = await decide(h, await bearer(h, "operations"), id, "approve");
    expect(ran.status, JSON.stringify(ran.body)).toBe(200);
    expect(await creditsOf(h, 6_789)).toBe(1);
    // The state a crash after the action's commit and before the decision's leaves: pending, its claim lapsed.
    await h.deps.database.db
      .updateTable("approval_requests")
      .set({ status: "pending", decided_by_staff_id: null, decided_by_email: null, decided_by_name: null, decided_at: null, result: null, claimed_by: "stf_demo_ops", claimed_until: new Date(Date.now() - 1_000) })
      .where("id", "=", id)
      .execute();
    const again = await decide(h, await bearer(h, "admin"), id, "approve");
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.approval.status).toBe("approved");
    expect(again.body.result).toMatchObject({ replayed: true, auditEntryId: ran.body.result.auditEntryId });
    expect(await creditsOf(h, 6_789)).toBe(1);
    expect((await auditOf(h.deps, "billing.credit_apply", ACCOUNT)).filter((e) => e.approval?.requestId === id && e.outcome === "succeeded")).toHaveLength(1);
  });

  it("an action the admin marks needs a second person (403 approval_required), then runs through approval; the policy change is audited", async () => {
    const notAdmin = await request(h.app).put("/api/approvals/policy").set("Authorization", await bearer(h, "operations")).send({ action: "user.lockout_clear", requiresApproval: true, reason: "Lockouts are a takeover vector" });
    expect(notAdmin.status).toBe(403);
    const marked = await request(h.app).put("/api/approvals/policy").set("Authorization", await bearer(h, "admin")).send({ action: "user.lockout_clear", requiresApproval: true, reason: "Lockouts are a takeover vector" });
    expect(marked.status).toBe(200);
    expect(marked.body.actions).toEqual(["user.lockout_clear"]);
    expect((await auditOf(h.deps, "approval.policy_set")).at(-1)).toMatchObject({ actor: { panelRole: "admin" }, after: { action: "user.lockout_clear", requiresApproval: true } });

    const refused = await act(h, "support_full", "user.lockout_clear", { target: { type: "user", id: USER } });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: "approval_required", approvalPossible: true });

    const asked = await ask(h, "support_full", { action: "user.lockout_clear", targetType: "user", targetId: USER, input: {} });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    // Another support_full may approve it: the role allows the action and there is no cap.
    const pendingForMe = await request(h.app).get("/api/approvals").query({ for: "me" }).set("Authorization", await bearer(h, "second_full"));
    expect(pendingForMe.body.approvals.map((a: { id: string }) => a.id)).toContain(asked.body.approval.id);
    const byTicket = await request(h.app).get("/api/approvals").query({ ticketId: asked.body.approval.ticketId }).set("Authorization", await bearer(h, "support_full"));
    expect(byTicket.body.approvals[0]).toMatchObject({ id: asked.body.approval.id, status: "pending" });

    const approved = await decide(h, await bearer(h, "second_full"), asked.body.approval.id as string, "approve");
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect((await auditOf(h.deps, "user.lockout_clear", USER)).at(-1)).toMatchObject({ outcome: "succeeded", actor: { staffId: SECOND_FULL.id }, approval: { requestedBy: { staffId: "stf_demo_full" }, approvedBy: { staffId: SECOND_FULL.id } } });
    // Each step of a request about a user is filed under the user's account, as the action itself is.
    const steps = [...(await auditOf(h.deps, "approval.request", USER)), ...(await auditOf(h.deps, "approval.approve", USER))].filter((e) => ((e.after as { approvalId?: string } | null)?.approvalId ?? null) === asked.body.approval.id);
    expect(steps.map((e) => [e.action, e.target.accountId])).toEqual([
      ["approval.request", "acc_demo_002"],
      ["approval.approve", "acc_demo_002"],
    ]);
    await request(h.app).put("/api/approvals/policy").set("Authorization", await bearer(h, "admin")).send({ action: "user.lockout_clear", requiresApproval: false, reason: "Back to normal" }).expect(200);
  });

  it("keeps the requester's 'notify the customer' choice (and the customer's language) until the approver runs the action: ticked, the notice goes out with the run; unticked, none", async () => {
    const db = h.deps.database.db;
    const noticeMails = (ticketId: string) => db.selectFrom("mail_outbox").select(["to_address", "subject", "body_text"]).where("ticket_id", "=", ticketId).where("kind", "=", "notice:billing.credit_apply").execute();
    const noticesOn = async (ticketId: string) => (await noticeMails(ticketId)).length;
    const admins = (await db.selectFrom("users").select("email").where("account_id", "=", ACCOUNT).where("role", "in", ["owner", "admin"]).where("status", "in", ["active", "suspended"]).execute()).length;
    expect(admins).toBeGreaterThan(0);
    const ops = await bearer(h, "operations");

    const ticked = await ask(h, "support_full", { action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents: 7_101 }, notifyCustomer: true, customerLocale: "de-CH" });
    expect(ticked.status, JSON.stringify(ticked.body)).toBe(201);
    expect(ticked.body.approval).toMatchObject({ notifyCustomer: true, input: { amountCents: 7_101 } });
    expect((await auditOf(h.deps, "approval.request", ACCOUNT)).at(-1)?.after).toMatchObject({ notifyCustomer: true, input: { amountCents: 7_101 } });
    const ticketId = ticked.body.approval.ticketId as string;
    const before = await noticesOn(ticketId);
    // Nothing is sent while the request waits.
    expect(before).toBe(0);
    const approved = await decide(h, ops, ticked.body.approval.id as string, "approve");
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(await noticesOn(ticketId)).toBe(admins);
    // In the requester's language, as asked: the request kept the locale too.
    expect(new Set((await noticeMails(ticketId)).map((m) => m.subject))).toEqual(new Set(["Ihrem Guthaben wurde eine Gutschrift hinzugefügt"]));
    const run = (await auditOf(h.deps, "billing.credit_apply", ACCOUNT)).find((e) => e.approval?.requestId === ticked.body.approval.id);
    expect(run?.after).toMatchObject({ customerNotice: expect.anything() });

    const unticked = await ask(h, "support_full", { action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents: 7_102 }, notifyCustomer: false });
    expect(unticked.status, JSON.stringify(unticked.body)).toBe(201);
    expect(unticked.body.approval.notifyCustomer).toBe(false);
    expect((await decide(h, ops, unticked.body.approval.id as string, "approve")).status).toBe(200);
    expect(await creditsOf(h, 7_102)).toBe(1);
    expect(await noticesOn(ticketId)).toBe(admins); // no second notice

    // Not given: null on the request, and the action's default (no notice) when it runs.
    const silent = await ask(h, "support_full", { action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents: 7_103 } });
    expect(silent.body.approval.notifyCustomer).toBeNull();
  });

  it("refuses requests that need no approval, that no role could approve, and bad input (400 naming the field)", async () => {
    const notNeeded = await ask(h, "support_full", { action: "user.sessions_revoke", targetType: "user", targetId: USER, input: {} });
    expect(notNeeded.status).toBe(422);
    expect(notNeeded.body.code).toBe("approval_not_needed");
    const impossible = await ask(h, "support_full", { action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents: 9_000_000 } });
    expect(impossible.status).toBe(422);
    expect(impossible.body.code).toBe("approval_impossible");
    const bad = await ask(h, "support_full", { action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe("body.input.amountCents");
    const readOnly = await ask(h, "support_read_only", { action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents: 7_000 } });
    expect(readOnly.status).toBe(403);
    // A notice choice the action could not take is refused when asked, not first when an approver runs it.
    const before = await h.deps.database.db.selectFrom("approval_requests").select("id").execute();
    const mandatoryOff = await ask(h, "support_full", { action: "user.mfa_reset", targetType: "user", targetId: USER, input: { identityVerification: "callback_known_phone", verificationNote: "called the number on file" }, notifyCustomer: false });
    expect(mandatoryOff.status).toBe(400);
    expect(mandatoryOff.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.notifyCustomer"]);
    const noNotice = await ask(h, "operations", { action: "seats.expand_temporarily", targetType: "account", targetId: ACCOUNT, input: { seats: 500, days: 5 }, notifyCustomer: true });
    expect(noNotice.status).toBe(400);
    expect(noNotice.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.notifyCustomer"]);
    // An override reason is held to the action's own rule (at least 10 characters once trimmed), not recorded as "x".
    const thinOverride = await ask(h, "operations", { action: "billing.credit_apply", targetType: "account", targetId: ACCOUNT, input: { amountCents: 7_000 }, ticketOverrideReason: "   x   " });
    expect(thinOverride.status).toBe(400);
    expect(thinOverride.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.ticketOverrideReason"]);
    expect(await h.deps.database.db.selectFrom("approval_requests").select("id").execute()).toEqual(before);
  });
});
