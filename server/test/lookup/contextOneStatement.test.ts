import type { Express } from "express";
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from "kysely";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContextQuery } from "../../../shared/schemas/context.js";
import { createApp } from "../../src/app.js";
import { createLogger } from "../../src/logger.js";
import { buildRequesterContext, type ContextSources } from "../../src/lookup/requesterContext.js";
import { BuiltinBilling } from "../../src/providers/builtin/builtinBilling.js";
import { BuiltinIdentity } from "../../src/providers/builtin/builtinIdentity.js";
import { insertOperation, openOperationsOf } from "../../src/reconcile/providerOperations.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, lookupTestDeps, sessionFor, SETUP_TIMEOUT_MS, type TestDeps } from "./fixtures.js";

/** Counts the statements the app sends (transaction begin/commit aside): the round trips a request costs. */
class StatementCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count++;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
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
});
