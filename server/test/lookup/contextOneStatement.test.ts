import type { Express } from "express";
import { sql, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from "kysely";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContextQuery } from "../../../shared/schemas/context.js";
import { createApp } from "../../src/app.js";
import { createLogger } from "../../src/logger.js";
import { buildRequesterContext, type ContextSources } from "../../src/lookup/requesterContext.js";
import { BuiltinBilling } from "../../src/providers/builtin/builtinBilling.js";
import { BuiltinIdentity } from "../../src/providers/builtin/builtinIdentity.js";
import { insertOperation, openOperationsOf } from "../../src/reconcile/providerOperations.js";
import { loadAccountAuditLines, loadRecentActivity } from "../../src/lookup/accountHistory.js";
import { loadAccountSummary } from "../../src/lookup/accountSummary.js";
import type { BillingPort, IdentityPort } from "../../src/providers/ports.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, lookupTestDeps, sessionFor, SETUP_TIMEOUT_MS, type TestDeps } from "./fixtures.js";

/** Counts the statements the app sends (transaction begin/commit aside): the round trips a request costs. */
class StatementCounter implements KyselyPlugin {
  count = 0;
  /** Makes the statement named so fail (a thrown error) or answer late (ms), to see what the parts do then. */
  trouble: { statement: string; fail?: Error; delayMs?: number } | null = null;
  private readonly late = new WeakSet<object>();
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count++;
    const named = this.trouble && JSON.stringify(args.node).includes(`prepared:${this.trouble.statement} `);
    if (named && this.trouble?.fail) throw this.trouble.fail;
    if (named) this.late.add(args.queryId);
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.late.has(args.queryId)) await new Promise((resolve) => setTimeout(resolve, this.trouble?.delayMs ?? 0));
    return args.result;
  }
}

describe.each(databaseKinds)("requester context in one statement on %s", (kind) => {
  let deps: TestDeps;
  let app: Express;
  let token: string;
  const counter = new StatementCounter();

  beforeAll(async () => {
    const base = await lookupTestDeps(kind);
    const db = base.database.db.withPlugin(counter);
    deps = { ...base, database: { ...base.database, db }, identity: new BuiltinIdentity(db, base.clock), billing: new BuiltinBilling(db, base.clock) };
    app = createApp(deps);
    token = await sessionFor(app, deps, AGENT.readOnly.zendeskUserId);
    // An operation still open for acc_demo_001, so the sidebar's unresolved list has something to show.
    await deps.database.db.transaction().execute((trx) =>
      insertOperation(trx, {
        operationId: "op_one_statement",
        action: "billing.change_seats",
        targetType: "account",
        targetId: "acc_demo_001",
        accountId: "acc_demo_001",
        keyOwner: "test",
        idempotencyKey: null,
        providerKey: "op_one_statement",
        request: { actor: { kind: "system", component: "test" }, ticketId: "1", reason: "test", requestId: null, input: {}, now: deps.clock.now().toISOString() },
        providerBefore: null,
        leaseMs: 60_000,
        createdAt: deps.clock.now(),
      }),
    );
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await deps.database.close();
  });

  /** The same sources twice: the built-in adapters themselves (one statement), and wrapped so the parts are read one by one. */
  function sources(atOnce: boolean): ContextSources {
    const identity = deps.identity as BuiltinIdentity;
    const billing = deps.billing as BuiltinBilling;
    return {
      db: deps.database.db,
      identity: atOnce ? identity : { name: identity.name, getIdentity: (u) => identity.getIdentity(u) },
      billing: atOnce ? billing : { name: billing.name, getBilling: (a) => billing.getBilling(a) },
      directory: deps.directory,
      clock: deps.clock,
      partTimeoutMs: 60_000,
      logger: createLogger("silent"),
    };
  }

  it("answers exactly as reading the parts one by one does, for every demo user", async () => {
    const users = await deps.database.db.selectFrom("users").select(["id", "email", "account_id"]).orderBy("id").execute();
    expect(users.length).toBeGreaterThan(20);
    for (const u of users) {
      const query: ContextQuery = { email: u.email, userId: u.id };
      const one = await buildRequesterContext(sources(true), query);
      const parts = await buildRequesterContext(sources(false), query);
      expect(one.match).toBe("exact");
      if (one.match === "unknown" || parts.match === "unknown") throw new Error(`user ${u.id} not found`);
      expect(one.context, u.id).toEqual(parts.context);
      const open = await openOperationsOf(deps.database.db, u.account_id);
      expect(one.openOperations, u.id).toEqual(open);
      expect(parts.openOperations, u.id).toEqual(open);
    }
  });

  it("lists the account's open operations from the same statement", async () => {
    const res = await request(app).get("/api/context").query({ email: "x@example.test", userId: "usr_demo_001_1" }).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", "1001");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.unresolvedOperations).toEqual([expect.objectContaining({ operationId: "op_one_statement", action: "billing.change_seats", status: "pending" })]);
  });

  it("costs three statements per request: requester, every part at once, audit entry (which checks the cached staff row)", async () => {
    const get = () => request(app).get("/api/context").query({ email: "x@example.test", userId: "usr_demo_002_1" }).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", "1002");
    expect((await get()).status).toBe(200);
    counter.count = 0;
    const res = await get();
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.identity.status).toBe("ok");
    expect(res.body.billing.status).toBe("ok");
    // Part by part it was 13: staff, requester, account, activity, audit lines, 3 identity, 3 billing, audit entry, open operations.
    expect(counter.count).toBe(3);
  });

  // PostgreSQL keeps a named statement per connection and refuses to run it once its result type has changed.
  it.runIf(kind === "postgres")("the requester and the ticket's pick are named statements that a column added to users does not break", async () => {
    const view = (userId?: string) =>
      request(app)
        .get("/api/context")
        .query({ email: "ana.almeida@acme.example", ...(userId ? { userId } : {}) })
        .set("Authorization", `Bearer ${token}`)
        .set("X-Ticket-Id", "1005");
    const shapes = async () => [(await view()).status, (await view("usr_demo_001_1")).status];
    // Each shape runs (and is prepared) on the pool's connections before the table changes under them.
    for (let i = 0; i < 4; i++) expect(await shapes()).toEqual([200, 200]);
    await sql`alter table users add column zz_added_later integer`.execute(deps.database.db);
    try {
      for (let i = 0; i < 4; i++) expect(await shapes()).toEqual([200, 200]);
    } finally {
      await sql`alter table users drop column zz_added_later`.execute(deps.database.db);
    }
  });

  /** Identity and billing answered from memory, as a remote provider would (no statement of ours): what the builtin adapters say for the user. */
  async function remotePorts(userId: string, accountId: string) {
    const user = await deps.database.db.selectFrom("users").innerJoin("accounts", "accounts.id", "users.account_id").select(["users.id", "users.idp_id", "users.email", "accounts.billing_customer_id"]).where("users.id", "=", userId).executeTakeFirstOrThrow();
    const identitySummary = await deps.identity.getIdentity({ id: user.id, idpId: user.idp_id, email: user.email });
    const billingSummary = await deps.billing.getBilling({ id: accountId, billingCustomerId: user.billing_customer_id });
    // Only the reads are called here; a write would fail on the missing method.
    const identity = { name: "auth0", getIdentity: async () => identitySummary } as Pick<IdentityPort, "name" | "getIdentity"> as IdentityPort;
    const billing = { name: "stripe", getBilling: async () => billingSummary } as Pick<BillingPort, "name" | "getBilling"> as BillingPort;
    return { identity, billing };
  }

  it("with remote providers, reads Steward's own parts in one statement that answers as the per-part readers do, for every demo user", async () => {
    const users = await deps.database.db.selectFrom("users").select(["id", "email", "account_id"]).orderBy("id").execute();
    for (const u of users) {
      const remote = { ...sources(false), ...(await remotePorts(u.id, u.account_id)) };
      const result = await buildRequesterContext(remote, { email: u.email, userId: u.id });
      if (result.match !== "exact") throw new Error(`user ${u.id}: ${result.match}`);
      expect(result.failedParts, u.id).toEqual([]);
      const { account, activity, audit } = result.context;
      expect(account, u.id).toEqual({ status: "ok", source: "steward", data: await loadAccountSummary(deps.database.db, u.account_id, deps.clock.now()) });
      expect(activity, u.id).toEqual({ status: "ok", source: "steward", data: await loadRecentActivity(deps.database.db, u.account_id) });
      expect(audit, u.id).toEqual({ status: "ok", source: "steward", data: await loadAccountAuditLines(deps.database.db, u.account_id) });
      expect(result.openOperations, u.id).toEqual(await openOperationsOf(deps.database.db, u.account_id));
    }
  });

  describe("with remote providers", () => {
    let remoteApp: Express;
    let remoteToken: string;
    beforeAll(async () => {
      remoteApp = createApp({ ...deps, ...(await remotePorts("usr_demo_001_1", "acc_demo_001")) });
      remoteToken = await sessionFor(remoteApp, deps, AGENT.readOnly.zendeskUserId);
    });
    const get = () => request(remoteApp).get("/api/context").query({ email: "x@example.test", userId: "usr_demo_001_1" }).set("Authorization", `Bearer ${remoteToken}`).set("X-Ticket-Id", "1003");

    it("costs three statements per request: requester, Steward's parts at once, audit entry", async () => {
      expect((await get()).status).toBe(200);
      counter.count = 0;
      const res = await get();
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect([res.body.identity.source, res.body.billing.source, res.body.account.status, res.body.activity.status, res.body.audit.status]).toEqual(["auth0", "stripe", "ok", "ok", "ok"]);
      // Part by part it was 6: requester, account, activity, audit lines, open operations, audit entry (and the pick, when no user is named, beside the requester).
      expect(counter.count).toBe(3);
    });

    it("when the statement fails, reads the parts one by one and answers the same", async () => {
      const before = (await get()).body;
      counter.trouble = { statement: "requester_context_steward", fail: new Error("injected statement failure") };
      try {
        const res = await get();
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        for (const part of ["identity", "account", "billing", "activity", "audit"] as const) expect(res.body[part], part).toEqual(before[part]);
        expect(res.body.unresolvedOperations).toEqual(before.unresolvedOperations);
        expect(res.body.unresolvedOperations).toEqual([expect.objectContaining({ operationId: "op_one_statement" })]);
      } finally {
        counter.trouble = null;
      }
    });

    it("when the statement is too slow, Steward's parts say timeout and the providers' parts still answer", async () => {
      const slowApp = createApp({ ...deps, ...(await remotePorts("usr_demo_001_1", "acc_demo_001")), config: { ...deps.config, CONTEXT_PART_TIMEOUT_MS: 150 } });
      const slowToken = await sessionFor(slowApp, deps, AGENT.readOnly.zendeskUserId);
      counter.trouble = { statement: "requester_context_steward", delayMs: 600 };
      try {
        const res = await request(slowApp).get("/api/context").query({ email: "x@example.test", userId: "usr_demo_001_1" }).set("Authorization", `Bearer ${slowToken}`).set("X-Ticket-Id", "1004");
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect([res.body.identity.status, res.body.billing.status]).toEqual(["ok", "ok"]);
        for (const part of ["account", "activity", "audit"] as const) expect(res.body[part], part).toMatchObject({ status: "error", source: "steward", error: { code: "timeout" } });
        // The open operations are not a part: read on their own when the statement is late.
        expect(res.body.unresolvedOperations).toEqual([expect.objectContaining({ operationId: "op_one_statement" })]);
      } finally {
        counter.trouble = null;
      }
    });
  });
});
