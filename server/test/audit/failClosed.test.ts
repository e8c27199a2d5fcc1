import { sql } from "kysely";
import { sealAndVerify } from "../support/auditKeys.js";
import request from "supertest";
import { describe, expect, it } from "vitest";
import type { PanelRole } from "../../../shared/roles.js";
import { createApp } from "../../src/app.js";
import { AuditWriteFailed, auditWriteFailed, failClosed } from "../../src/audit/failClosed.js";
import { Problem } from "../../src/http/problem.js";
import { createLogger } from "../../src/logger.js";
import { auditCount, localState, sessionOf, useHarness, versionOf, type Harness } from "../actions/harness.js";
import { databaseKinds } from "../support/databases.js";
import { raisedBy } from "../support/tickets.js";

/**
 * Fail closed: when a request's audit entry cannot be written, the request does not succeed — not a
 * change, not a lookup, not a refusal or a failure answered with its own status. The failure is
 * injected with a trigger that makes every insert into audit_log raise, and driven through HTTP.
 */
const ACCOUNT = "acc_demo_001";
const USER = "usr_demo_001_3";
const INJECTED = "injected audit failure";

async function breakAudit(h: Harness): Promise<void> {
  await sql
    .raw(`create or replace function test_fail_audit() returns trigger language plpgsql as $$ begin raise exception '${INJECTED}'; end $$`)
    .execute(h.deps.database.db);
  await sql.raw("create trigger test_fail_audit before insert on audit_log for each row execute function test_fail_audit()").execute(h.deps.database.db);
}

async function repairAudit(h: Harness): Promise<void> {
  await sql.raw("drop trigger if exists test_fail_audit on audit_log").execute(h.deps.database.db);
}

describe.each(databaseKinds)("a request whose audit entry cannot be written, on %s", (kind) => {
  // Ticket 1006 as raised by ACCOUNT, so the writes reach the audit step they test.
  const h = useHarness(kind, { arrange: async (harness) => void (await raisedBy(harness.deps, { type: "account", id: ACCOUNT }, "1006")) });
  const logLines: string[] = [];
  const app = () => createApp({ ...h.deps, logger: createLogger("info", { write: (line: string) => void logLines.push(line) }) });
  const bearer = async (role: PanelRole) => `Bearer ${await sessionOf(h, role)}`;

  async function suspend(role: PanelRole, patch: Record<string, unknown> = {}) {
    const expectedVersion = await versionOf(h.deps, { type: "account", id: ACCOUNT });
    return request(app())
      .post("/api/actions/account.suspend")
      .set("Authorization", await bearer(role))
      .send({ ticketId: "1006", reason: "Customer asked on the ticket", target: { type: "account", id: ACCOUNT }, expectedVersion, input: {}, ...patch });
  }
  async function email(): Promise<string> {
    return (await h.deps.database.db.selectFrom("users").select("email").where("id", "=", USER).executeTakeFirstOrThrow()).email;
  }

  const cases: { name: string; send: () => Promise<request.Response>; usual: number }[] = [
    { name: "an allowed change", send: () => suspend("support_full"), usual: 200 },
    { name: "a denied change", send: () => suspend("support_read_only"), usual: 403 },
    { name: "a change that fails (stale version)", send: async () => suspend("support_full", { expectedVersion: (await versionOf(h.deps, { type: "account", id: ACCOUNT })) + 5 }), usual: 409 },
    {
      name: "an over-cap request",
      usual: 403,
      send: async () => {
        const expectedVersion = await versionOf(h.deps, { type: "account", id: ACCOUNT });
        return request(app())
          .post("/api/actions/billing.trial_extend")
          .set("Authorization", await bearer("support_full"))
          .send({ ticketId: "1006", reason: "Customer asked on the ticket", target: { type: "account", id: ACCOUNT }, expectedVersion, input: { days: 30 } });
      },
    },
    { name: "a context lookup", usual: 200, send: async () => request(app()).get("/api/context").query({ email: await email() }).set("Authorization", await bearer("support_read_only")) },
    { name: "a search", usual: 200, send: async () => request(app()).get("/api/search").query({ q: "demo" }).set("Authorization", await bearer("support_read_only")) },
    { name: "an audit search", usual: 200, send: async () => request(app()).get("/api/audit").set("Authorization", await bearer("support_read_only")) },
    { name: "a denied staff list", usual: 403, send: async () => request(app()).get("/api/staff").set("Authorization", await bearer("support_full")) },
  ];

  it.each(cases)("$name: 503 problem+json, nothing changed or written, the cause logged", async ({ send, usual }) => {
    const entries = await auditCount(h.deps);
    const state = await localState(h.deps, ACCOUNT);
    logLines.length = 0;
    await breakAudit(h);
    let res: request.Response;
    try {
      res = await send();
    } finally {
      await repairAudit(h);
    }
    expect(res.status).toBe(503);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 503, code: "audit_unavailable" });
    expect(await auditCount(h.deps)).toBe(entries);
    expect(await localState(h.deps, ACCOUNT)).toEqual(state);
    expect(logLines.some((line) => line.includes(INJECTED) && JSON.parse(line).level >= 50)).toBe(true);

    // With the audit log writable again the same request gets its usual answer, audited.
    const again = await send();
    expect(again.status).toBe(usual);
    expect(await auditCount(h.deps)).toBe(entries + 1);
    expect((await sealAndVerify(h.deps.database.db)).ok).toBe(true);
    if (usual === 200 && again.body.action === "account.suspend") {
      await request(app())
        .post("/api/actions/account.unsuspend")
        .set("Authorization", await bearer("support_full"))
        .send({ ticketId: "1006", reason: "undo", target: { type: "account", id: ACCOUNT }, expectedVersion: await versionOf(h.deps, { type: "account", id: ACCOUNT }), input: {} })
        .expect(200);
    }
  });
});

describe("the error a failed audit write becomes", () => {
  it("answers a database outage with the outage's own 503 (and its Retry-After); anything else as the audit log's", () => {
    const outage = Problem.unavailable("database_unavailable", "The database cannot be reached right now; retry shortly", 5);
    expect(new AuditWriteFailed(outage).toProblem()).toBe(outage);
    expect(new AuditWriteFailed(new Error("disk full")).toProblem()).toMatchObject({
      status: 503,
      code: "audit_unavailable",
      detail: "The audit log could not record this request, so Steward did not complete it; try again shortly",
      retryAfterSeconds: 2,
    });
  });

  it("names its cause, and wraps a failure only once", async () => {
    const failed = new AuditWriteFailed(new Error("disk full"));
    expect([failed.name, failed.message]).toEqual(["AuditWriteFailed", "the audit entry could not be written: disk full"]);
    expect(new AuditWriteFailed("no reason").message).toBe("the audit entry could not be written: no reason");
    expect(auditWriteFailed(failed)).toBe(failed);
    await expect(failClosed(() => Promise.reject(failed))).rejects.toBe(failed);
    await expect(failClosed(() => Promise.resolve(7))).resolves.toBe(7);
    const wrapped = await failClosed(() => Promise.reject(new Error("gone"))).catch((err: unknown) => err);
    expect(wrapped).toBeInstanceOf(AuditWriteFailed);
    expect((wrapped as AuditWriteFailed).cause).toEqual(new Error("gone"));
  });
});
