import type { Request } from "express";
import { describe, expect, it } from "vitest";
import { deniedTargetOf, ticketIdOf } from "../../src/auth/recordDenial.js";

// What a refusal's audit entry names, from the request alone (the entry itself: permissions.test.ts). No app or
// database, so the mutation run tries it first. A request here is what Express hands the guard: params, body, headers.

function req(parts: { params?: Record<string, unknown>; body?: unknown; headers?: Record<string, string> }): Request {
  const headers = Object.fromEntries(Object.entries(parts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return { params: parts.params ?? {}, body: parts.body, get: (name: string) => headers[name.toLowerCase()] } as unknown as Request;
}

describe("the target of a refused request", () => {
  it("takes a body target only when it is a valid target of the action's type", () => {
    expect(deniedTargetOf(req({ body: { target: { type: "user", id: "usr_1" } } }), "user.block")).toEqual({ type: "user", id: "usr_1", accountId: null });
    expect(deniedTargetOf(req({ body: { target: { type: "account", id: "acc_1" } } }), "account.suspend")).toEqual({ type: "account", id: "acc_1", accountId: "acc_1" });
    // A target of another type, or not a valid target, names no id (not even the path's) rather than what the caller wrote.
    for (const target of [{ type: "account", id: "acc_1" }, { type: "user", id: "" }, { type: "user", id: "x".repeat(101) }, "usr_1", null]) {
      expect(deniedTargetOf(req({ params: { userId: "usr_path" }, body: { target } }), "user.block"), JSON.stringify(target)).toEqual({ type: "user", id: null, accountId: null });
    }
  });

  it("otherwise takes the id the action's type has in the path, cut at 100 characters", () => {
    const params = { accountId: "acc_1", userId: "usr_1", staffId: "stf_1" };
    expect(deniedTargetOf(req({ params }), "user.view")).toEqual({ type: "user", id: "usr_1", accountId: "acc_1" });
    expect(deniedTargetOf(req({ params }), "account.view")).toEqual({ type: "account", id: "acc_1", accountId: "acc_1" });
    expect(deniedTargetOf(req({ params }), "staff.deactivate")).toEqual({ type: "staff", id: "stf_1", accountId: "acc_1" });
    expect(deniedTargetOf(req({ params }), "audit.verify")).toEqual({ type: "audit", id: null, accountId: "acc_1" });
    expect(deniedTargetOf(req({}), "staff.list")).toEqual({ type: "staff", id: null, accountId: null });
    expect(deniedTargetOf(req({ params: { userId: "u".repeat(150), accountId: "" } }), "user.view")).toEqual({ type: "user", id: "u".repeat(100), accountId: null });
    expect(deniedTargetOf(req({ params: { userId: 7 } }), "user.view")).toEqual({ type: "user", id: null, accountId: null });
    // A staff action's body target is not a staff target: the path still names it.
    expect(deniedTargetOf(req({ params: { staffId: "stf_1" }, body: { target: { type: "user", id: "usr_1" } } }), "staff.deactivate")).toEqual({ type: "staff", id: "stf_1", accountId: null });
  });

  it("names the ticket from a write's body (text or number), else the X-Ticket-Id header, only as a ticket id", () => {
    expect(ticketIdOf(req({ body: { ticketId: "1002" }, headers: { "X-Ticket-Id": "1005" } }))).toBe("1002");
    expect(ticketIdOf(req({ body: { ticketId: 1002 } }))).toBe("1002");
    expect(ticketIdOf(req({ body: { ticketId: "not-a-ticket" }, headers: { "X-Ticket-Id": "1005" } }))).toBe("1005");
    expect(ticketIdOf(req({ headers: { "X-Ticket-Id": "1005" } }))).toBe("1005");
    expect(ticketIdOf(req({ body: { ticketId: 0 }, headers: { "X-Ticket-Id": "abc" } }))).toBeNull();
    // Only a number is taken as text: a list holding an id is not a ticket id.
    expect(ticketIdOf(req({ body: { ticketId: [1002] } }))).toBeNull();
    expect(ticketIdOf(req({}))).toBeNull();
  });
});
