import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sealPending } from "../../src/audit/sealer.js";
import { verifyAuditChain } from "../../src/audit/verifyChain.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { verifyTicket } from "../../src/zendesk/ticketVerification.js";
import { act, auditCount, auditOf, localState, useHarness, userRow, type Harness } from "../actions/harness.js";
import { ZendeskFake } from "../fakes/zendeskFake.js";
import { TEST_AUDIT_KEYS } from "../support/auditKeys.js";
import { databaseKinds } from "../support/databases.js";
import { putTicket } from "../support/tickets.js";
import { closedPort } from "../support/ports.js";

/**
 * Every write is checked against the ticket it names (issue 13, item 3): in demo mode against the local
 * Zendesk page's store, with ZENDESK_API_URL through the real HTTP client against a Zendesk fake.
 */
const USER = "usr_demo_001_1";
const ACCOUNT = "acc_demo_001";

async function accountDomain(h: Harness): Promise<string> {
  const row = await h.deps.database.db.selectFrom("accounts").select("domain").where("id", "=", ACCOUNT).executeTakeFirstOrThrow();
  return row.domain as string;
}

async function lastSnapshot(h: Harness, action: string, targetId: string) {
  return (await auditOf(h.deps, action, targetId)).filter((e) => e.outcome === "succeeded").at(-1)?.ticketSnapshot;
}

describe.each(databaseKinds)("ticket verification (%s)", (kind) => {
  describe("against the local Zendesk page's ticket store", () => {
    const h = useHarness(kind);

    it("matches the requester by email, and stores the ticket snapshot with the entry", async () => {
      const user = await userRow(h.deps, USER);
      const ticketId = await putTicket(h.deps, { subject: "Please clear my lockout", requester: { email: user.email.toUpperCase(), name: user.name, zendeskId: 61001 }, assigneeZendeskId: 7002 });
      const res = await act(h, "support_full", "user.lockout_clear", { target: { type: "user", id: USER }, ticketId });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await lastSnapshot(h, "user.lockout_clear", USER)).toEqual({
        id: ticketId,
        subject: "Please clear my lockout",
        status: "open",
        requester: { id: "61001", email: user.email.toUpperCase(), externalId: null, organizationId: null, name: user.name },
        assigneeId: "7002",
        match: "email",
        overrideReason: null,
        fetchedAt: h.deps.clock.now().toISOString(),
      });
    });

    it("matches an internationalised requester email however either side spells it (case, composed or decomposed)", async () => {
      const original = (await userRow(h.deps, USER)).email;
      // The product stored the address composed and capitalised; Zendesk sends it decomposed, in another case.
      await h.deps.database.db.updateTable("users").set({ email: "Jos\u00e9.Ng@Elsewhere-Mail.test" }).where("id", "=", USER).execute();
      try {
        const ticketId = await putTicket(h.deps, { requester: { email: "jose\u0301.ng@elsewhere-mail.test" } });
        const res = await act(h, "support_full", "user.sessions_revoke", { target: { type: "user", id: USER }, ticketId });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect((await lastSnapshot(h, "user.sessions_revoke", USER))?.match).toBe("email");
        // The account as target: the requester is one of its users, by the same address.
        const onAccount = await putTicket(h.deps, { requester: { email: "JOSE\u0301.NG@ELSEWHERE-MAIL.TEST" } });
        const suspended = await act(h, "support_full", "account.suspend", { target: { type: "account", id: ACCOUNT }, ticketId: onAccount });
        expect(suspended.status, JSON.stringify(suspended.body)).toBe(200);
        expect((await lastSnapshot(h, "account.suspend", ACCOUNT))?.match).toBe("email");
        const lifted = await act(h, "support_full", "account.unsuspend", { target: { type: "account", id: ACCOUNT }, ticketId: onAccount });
        expect(lifted.status, JSON.stringify(lifted.body)).toBe(200);
      } finally {
        await h.deps.database.db.updateTable("users").set({ email: original }).where("id", "=", USER).execute();
      }
    });

    it("matches by external id when the requester wrote from another address", async () => {
      const ticketId = await putTicket(h.deps, { requester: { email: "private.person@elsewhere.test", externalId: USER } });
      const res = await act(h, "support_full", "user.sessions_revoke", { target: { type: "user", id: USER }, ticketId });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await lastSnapshot(h, "user.sessions_revoke", USER)).toMatchObject({ match: "external_id", requester: { externalId: USER } });
    });

    it("matches the target's account by organization (external id = account) and by email domain", async () => {
      const byOrg = await putTicket(h.deps, { requester: { email: "someone@unrelated.test" }, organization: { id: 9101, externalId: ACCOUNT } });
      const suspended = await act(h, "support_full", "account.suspend", { target: { type: "account", id: ACCOUNT }, ticketId: byOrg });
      expect(suspended.status, JSON.stringify(suspended.body)).toBe(200);
      expect(await lastSnapshot(h, "account.suspend", ACCOUNT)).toMatchObject({ match: "organization", requester: { organizationId: "9101" } });

      const byDomain = await putTicket(h.deps, { requester: { email: `new.colleague@${await accountDomain(h)}` } });
      const lifted = await act(h, "support_full", "account.unsuspend", { target: { type: "account", id: ACCOUNT }, ticketId: byDomain });
      expect(lifted.status, JSON.stringify(lifted.body)).toBe(200);
      expect(await lastSnapshot(h, "account.unsuspend", ACCOUNT)).toMatchObject({ match: "domain" });

      // A user target also matches through its account: a colleague asked for them.
      const colleague = await act(h, "support_full", "user.lockout_clear", { target: { type: "user", id: USER }, ticketId: byDomain });
      expect(colleague.status).toBe(200);
      expect(await lastSnapshot(h, "user.lockout_clear", USER)).toMatchObject({ match: "domain" });
    });

    it("refuses a mismatch for support_full, naming both the requester and the target, and changes nothing", async () => {
      const ticketId = await putTicket(h.deps, { requester: { email: "stranger@nowhere.test", zendeskId: 61999 } });
      const before = await localState(h.deps, ACCOUNT);
      const res = await act(h, "support_full", "user.block", { target: { type: "user", id: USER }, ticketId });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: "ticket_mismatch", overrideAllowed: false, overrideRole: "operations", ticket: { id: ticketId, requester: { email: "stranger@nowhere.test" } }, target: { type: "user", id: USER, accountId: ACCOUNT } });
      expect(res.body.detail).toContain("stranger@nowhere.test");
      expect(res.body.detail).toContain(USER);
      expect(await localState(h.deps, ACCOUNT)).toEqual(before);
      expect((await auditOf(h.deps, "user.block", USER)).at(-1)).toMatchObject({ outcome: "denied", ticketId, error: expect.stringContaining("ticket_mismatch") });

      // support_full cannot override, even with a reason.
      const overridden = await act(h, "support_full", "user.block", { target: { type: "user", id: USER }, ticketId, ticketOverrideReason: "The customer called from a colleague's phone" });
      expect(overridden.status).toBe(403);
      expect(await localState(h.deps, ACCOUNT)).toEqual(before);
    });

    it("lets operations go ahead with an override reason, recorded as match override", async () => {
      const ticketId = await putTicket(h.deps, { requester: { email: "reseller@partner.test" } });
      const without = await act(h, "operations", "user.block", { target: { type: "user", id: USER }, ticketId });
      expect(without.status).toBe(403);
      expect(without.body).toMatchObject({ code: "ticket_mismatch", overrideAllowed: true });

      const tooShort = await act(h, "operations", "user.block", { target: { type: "user", id: USER }, ticketId, ticketOverrideReason: "because" });
      expect(tooShort.status).toBe(400);
      expect(tooShort.body.errors).toEqual([expect.objectContaining({ field: "body.ticketOverrideReason" })]);

      const res = await act(h, "operations", "user.block", { target: { type: "user", id: USER }, ticketId, ticketOverrideReason: "Reseller raised it for their customer, confirmed by phone" });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await lastSnapshot(h, "user.block", USER)).toMatchObject({ match: "override", overrideReason: "Reseller raised it for their customer, confirmed by phone", requester: { email: "reseller@partner.test" } });
      await act(h, "support_full", "user.unblock", { target: { type: "user", id: USER } });
    });

    it("impersonation: no override below admin (issue 9); admin's override is recorded", async () => {
      const ticketId = await putTicket(h.deps, { requester: { email: "someone.else@nowhere.test" } });
      const staff = async (role: "operations" | "admin") => {
        const agent = DEMO_AGENTS.find((a) => a.role === role)!;
        return { kind: "staff" as const, staffId: agent.id, zendeskUserId: agent.zendeskUserId, email: agent.email, name: agent.name, panelRole: role };
      };
      const check = async (role: "operations" | "admin") =>
        verifyTicket(h.deps, { actor: await staff(role), action: "impersonation.start", ticketId, reason: "Customer says the projects page is empty", target: { type: "user", id: USER }, ticketOverrideReason: "Reseller raised it on the customer's behalf" });
      await expect(check("operations")).rejects.toMatchObject({ status: 403, code: "ticket_mismatch", extra: expect.objectContaining({ overrideAllowed: false, overrideRole: "admin" }) });
      await expect(check("admin")).resolves.toMatchObject({ match: "override", overrideReason: "Reseller raised it on the customer's behalf" });
    });

    it("refuses a closed ticket (409) and a ticket Zendesk does not have (422)", async () => {
      const user = await userRow(h.deps, USER);
      const closed = await putTicket(h.deps, { status: "closed", requester: { email: user.email } });
      const count = await auditCount(h.deps);
      const res = await act(h, "support_full", "user.lockout_clear", { target: { type: "user", id: USER }, ticketId: closed });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("ticket_closed");
      const missing = await act(h, "support_full", "user.lockout_clear", { target: { type: "user", id: USER }, ticketId: "987654321" });
      expect(missing.status).toBe(422);
      expect(missing.body.code).toBe("ticket_not_found");
      // The closed ticket's refusal is audited; an unknown ticket id is not a customer's, so nothing to attach it to but the attempt.
      expect(await auditCount(h.deps)).toBe(count + 1);
    });

    it("entries with snapshots verify in the chain", async () => {
      await sealPending(h.deps.database.db, TEST_AUDIT_KEYS);
      const result = await verifyAuditChain(h.deps.database.db, TEST_AUDIT_KEYS);
      expect(result).toMatchObject({ ok: true });
    });
  });

  describe("through the HTTP client against a Zendesk fake", () => {
    const zendesk = new ZendeskFake();
    // The fake's port is known only once it listens, after the harness's config is built: set on it then.
    const h = useHarness(kind);
    let url = "";
    beforeAll(async () => {
      url = await zendesk.start();
    });
    afterAll(() => zendesk.close());
    // Every test starts pointed at the fake (one of them points Steward at a closed port). The timeout is well
    // under the fake's 2 s delay, and over what a loaded machine takes to answer.
    beforeEach(() => {
      Object.assign(h.deps.config, { ZENDESK_API_URL: `${url}/api/v2`, zendeskApiUrl: `${url}/api/v2`, ZENDESK_API_EMAIL: zendesk.email, ZENDESK_API_TOKEN: zendesk.token, PROVIDER_TIMEOUT_MS: 1_000 });
    });

    it("reads the ticket with users and organizations sideloaded, with the API token", async () => {
      const user = await userRow(h.deps, USER);
      zendesk.tickets.set(424242, { id: 424242, subject: "Sign-in trouble", status: "pending", requester: { id: 71, name: user.name, email: null, external_id: USER, organization_id: null }, assignee_id: null });
      const res = await act(h, "support_full", "user.lockout_clear", { target: { type: "user", id: USER }, ticketId: "424242" });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const seen = zendesk.requestsTo("GET", "/api/v2/tickets/424242.json");
      expect(seen).toHaveLength(1);
      expect(seen[0]?.query.get("include")).toBe("users,organizations");
      expect(await lastSnapshot(h, "user.lockout_clear", USER)).toMatchObject({ id: "424242", status: "pending", match: "external_id" });

      // Read again within the cache time: no second call.
      await act(h, "support_full", "user.sessions_revoke", { target: { type: "user", id: USER }, ticketId: "424242" });
      expect(zendesk.requestsTo("GET", "/api/v2/tickets/424242.json")).toHaveLength(1);
    });

    it("Zendesk answering 503, timing out or not listening → 503 problem, nothing written", async () => {
      const user = await userRow(h.deps, USER);
      zendesk.tickets.set(434343, { id: 434343, subject: "Blocked", status: "open", requester: { id: 72, name: user.name, email: user.email, external_id: null, organization_id: null }, assignee_id: null });
      const before = { state: await localState(h.deps, ACCOUNT), audit: await auditCount(h.deps) };

      zendesk.failNext(1, 503, { retryAfter: 7 });
      const failed = await act(h, "support_full", "user.block", { target: { type: "user", id: USER }, ticketId: "434343" });
      expect(failed.status).toBe(503);
      expect(failed.body).toMatchObject({ code: "zendesk_unavailable" });
      expect(failed.headers["retry-after"]).toBe("7");

      zendesk.delayNext(2_000);
      const slow = await act(h, "support_full", "user.block", { target: { type: "user", id: USER }, ticketId: "434343" });
      expect(slow.status).toBe(503);
      expect(slow.body.detail).toMatch(/Timeout/i);

      const nobody = `http://127.0.0.1:${await closedPort()}/api/v2`;
      Object.assign(h.deps.config, { ZENDESK_API_URL: nobody, zendeskApiUrl: nobody });
      const down = await act(h, "support_full", "user.block", { target: { type: "user", id: USER }, ticketId: "434343" });
      expect(down.status).toBe(503);

      expect({ state: await localState(h.deps, ACCOUNT), audit: await auditCount(h.deps) }).toEqual(before);
    });
  });
});
