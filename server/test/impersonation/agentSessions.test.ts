import request from "supertest";
import { beforeEach, describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import { act, auditCount, auditOf, sessionOf, useHarness } from "../actions/harness.js";
import { databaseKinds } from "../support/databases.js";
import { raisedBy } from "../support/tickets.js";
import { addProduct, endAllSessions, start, stop, viewableUsers, type TestProduct } from "./support.js";

/**
 * What the sidebar's View as customer card reads and does about other agents: the customer's live
 * sessions from any ticket (not only the open one), and ending another agent's session, which only
 * operations and admin may do (support is refused, and the refusal audited).
 */
describe.each(databaseKinds)("other agents' sessions on a customer, on %s", (kind) => {
  let product: TestProduct;
  const h = useHarness(kind, {
    arrange: async (harness) => {
      product = await addProduct(harness);
    },
  });
  beforeEach(() => endAllSessions(h));

  async function sessionsOf(role: PanelRole, ticketId: string, query = "") {
    return request(h.app)
      .get(`/api/impersonation/tickets/${ticketId}/sessions${query}`)
      .set("Authorization", `Bearer ${await sessionOf(h, role)}`);
  }

  async function opened(role: PanelRole, userId: string, ticketId: string, mode: "read_only" | "full" = "read_only") {
    const res = await start(h, role, userId, { productId: product.id, ticketId, mode });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return (res.body.result as { sessionId: string }).sessionId;
  }

  it("with userId: the customer's live sessions from every ticket, for every role; not ended ones, not other customers'", async () => {
    const [viewed, other] = await viewableUsers(h, 2, 40);
    // An ended session on the same customer is history, not someone viewing them now.
    const ended = await opened("admin", viewed!.id, "1004");
    expect((await stop(h, "operations", viewed!.id, ended)).status).toBe(200);
    const fromOtherTicket = await opened("support_full", viewed!.id, "1003");
    const fullMode = await opened("operations", viewed!.id, "1005", "full");
    await opened("admin", other!.id, "1006");
    // The open ticket, raised by the same customer, where none of these sessions was started.
    const here = await raisedBy(h.deps, { type: "user", id: viewed!.id }, "1008");

    const read = await sessionsOf("support_read_only", here, `?userId=${viewed!.id}`);
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(read.body.sessions).toEqual([]);
    expect(read.body.live).toBeNull();
    const listed = read.body.customerLive as { sid: string; ticket: string; mode: string; mine: boolean; status: string; endsAt: string; agent: { name: string } }[];
    expect(listed.map((s) => s.sid).sort()).toEqual([fromOtherTicket, fullMode].sort());
    expect(listed.find((s) => s.sid === fromOtherTicket)).toMatchObject({ ticket: "1003", mode: "read_only", status: "live", mine: false, agent: { name: "Sam Support" }, endsAt: expect.any(String) });
    expect(listed.find((s) => s.sid === fullMode)).toMatchObject({ ticket: "1005", mode: "full", mine: false, agent: { name: "Olive Ops" } });

    // The agent's own session is marked theirs (the card shows it as its own, not as someone else's).
    const own = await sessionsOf("support_full", here, `?userId=${viewed!.id}`);
    expect((own.body.customerLive as { sid: string; mine: boolean }[]).find((s) => s.sid === fromOtherTicket)).toMatchObject({ mine: true });
    expect(own.body.live).toMatchObject({ sid: fromOtherTicket });

    // Without userId the answer is as before: this ticket's sessions only.
    const plain = await sessionsOf("support_read_only", here);
    expect(plain.status).toBe(200);
    expect(plain.body.customerLive).toEqual([]);
  });

  it("a userId that is no user id: 400 problem+json naming query.userId, nothing written", async () => {
    const before = await auditCount(h.deps);
    for (const bad of ["", "%20%20", "u".repeat(256)]) {
      const res = await sessionsOf("support_read_only", "1003", `?userId=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "query.userId" })]);
    }
    expect(await auditCount(h.deps)).toBe(before);
  });

  it("ending another agent's session: both support roles are refused (403, audited as denied, session still live); operations ends it as revoked", async () => {
    const [viewed] = await viewableUsers(h, 1, 42);
    const sid = await opened("admin", viewed!.id, "1003");
    const here = await raisedBy(h.deps, { type: "user", id: viewed!.id }, "1008");
    const call = { target: { type: "user" as const, id: viewed!.id }, ticketId: here, reason: "Customer asked us to stop", input: { sessionId: sid } };

    const readOnly = await act(h, "support_read_only", "impersonation.stop", call);
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.code).toBe("action_not_allowed");
    // support_full may end their own session only.
    const full = await act(h, "support_full", "impersonation.stop", call);
    expect(full.status).toBe(403);
    expect(full.body.code).toBe("not_your_session");
    const denials = (await auditOf(h.deps, "impersonation.stop", viewed!.id)).filter((e) => e.outcome === "denied");
    expect(denials).toHaveLength(2);
    expect(denials.map((e) => e.ticketId)).toEqual([here, here]);
    expect((await sessionsOf("operations", here, `?userId=${viewed!.id}`)).body.customerLive).toEqual([expect.objectContaining({ sid, status: "live" })]);

    const revoked = await act(h, "operations", "impersonation.stop", call);
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(revoked.body.result).toMatchObject({ sessionId: sid, endReason: "admin_revoked" });
    expect((await auditOf(h.deps, "impersonation.stop", viewed!.id)).at(-1)).toMatchObject({ outcome: "succeeded", reason: "Customer asked us to stop", ticketId: here });
    expect((await sessionsOf("operations", here, `?userId=${viewed!.id}`)).body.customerLive).toEqual([]);
  });
});
