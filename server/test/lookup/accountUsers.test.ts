import type { Express } from "express";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccountUsers, SearchHit } from "../../../shared/schemas/context.js";
import { createApp } from "../../src/app.js";
import { databaseKinds } from "../support/databases.js";
import { AGENT, addAccount, addUser, lookupTestDeps, sessionFor, SETUP_TIMEOUT_MS, type TestDeps } from "./fixtures.js";

/**
 * Issue 14: a search by account id, domain or billing customer id finds the account, not a user; the
 * requester picker then lists that account's users (GET /api/accounts/:accountId/users) to pick one.
 * Both databases: the users by name, deleted ones left out, paged by `limit` with `more`; a 404 for an
 * unknown account; each listing audited as account.view with the ticket; bad input a 400 naming it.
 */
describe.each(databaseKinds)("an account's users for the picker on %s", (kind) => {
  let deps: TestDeps;
  let app: Express;
  let token: string;
  const get = (path: string, query: Record<string, string | number> = {}) => request(app).get(path).query(query).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", "4242");
  const lastSeq = async () => Number((await deps.database.db.selectFrom("audit_log").select((eb) => eb.fn.max("seq").as("seq")).executeTakeFirst())?.seq ?? 0);
  const viewsSince = (seq: number) =>
    deps.database.db.selectFrom("audit_log").select(["action", "target_type", "target_id", "ticket_id", "after", "outcome", "error", "actor_role"]).where("action", "=", "account.view").where("seq", ">", seq).orderBy("seq").execute();

  beforeAll(async () => {
    deps = await lookupTestDeps(kind);
    app = createApp(deps);
    token = await sessionFor(app, deps, AGENT.readOnly.zendeskUserId);
    const db = deps.database.db;
    await addAccount(db, { id: "acc_t_pickme", name: "Pickering Mills", domain: "pickering-mills.example", billing_customer_id: "cus_PickMills77" });
    await addAccount(db, { id: "acc_t_other", name: "Other Works" });
    await addUser(db, { id: "usr_t_bea", account_id: "acc_t_pickme", email: "bea@pickering-mills.example", name: "Bea Brook" });
    await addUser(db, { id: "usr_t_al", account_id: "acc_t_pickme", email: "al@pickering-mills.example", name: "Al Ash", status: "suspended" });
    await addUser(db, { id: "usr_t_gone", account_id: "acc_t_pickme", email: "gone@pickering-mills.example", name: "Aaron Gone", status: "deleted" });
    await addUser(db, { id: "usr_t_elsewhere", account_id: "acc_t_other", email: "al@other.example", name: "Al Else" });
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await deps.database.close();
  });

  it("search by account id, domain and customer id finds the account (kind account) the picker opens", async () => {
    for (const q of ["acc_t_pickme", "pickering-mills.example", "cus_PickMills77"]) {
      const res = await get("/api/search", { q, limit: 10 });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect((res.body.hits as SearchHit[]).find((h) => h.kind === "account" && h.id === "acc_t_pickme"), q).toBeDefined();
    }
  });

  it("lists the account's users by name, without deleted ones, and audits the listing with the ticket", async () => {
    const since = await lastSeq();
    const res = await get("/api/accounts/acc_t_pickme/users");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const body = res.body as AccountUsers;
    expect(body.account).toMatchObject({ kind: "account", id: "acc_t_pickme", title: "Pickering Mills" });
    expect(body.users.map((u) => [u.id, u.kind, u.accountId, u.status])).toEqual([
      ["usr_t_al", "user", "acc_t_pickme", "suspended"],
      ["usr_t_bea", "user", "acc_t_pickme", "active"],
    ]);
    expect(body.users[0]?.subtitle).toBe("al@pickering-mills.example · Pickering Mills");
    expect(body.more).toBe(false);
    expect(await viewsSince(since)).toEqual([
      { action: "account.view", target_type: "account", target_id: "acc_t_pickme", ticket_id: "4242", after: { accountId: "acc_t_pickme", usersListed: 2 }, outcome: "succeeded", error: null, actor_role: "support_read_only" },
    ]);
  });

  it("pages by limit with more, and answers an unknown account with 404 (audited as failed)", async () => {
    const first = await get("/api/accounts/acc_t_pickme/users", { limit: 1 });
    expect(first.status).toBe(200);
    expect((first.body as AccountUsers).users.map((u) => u.id)).toEqual(["usr_t_al"]);
    expect((first.body as AccountUsers).more).toBe(true);

    const since = await lastSeq();
    const unknown = await get("/api/accounts/acc_t_nobody/users");
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("not_found");
    expect(await viewsSince(since)).toMatchObject([{ target_id: null, ticket_id: "4242", outcome: "failed", error: "not_found" }]);
  });

  it("answers a bad limit with 400 naming query.limit, listing nothing", async () => {
    const since = await lastSeq();
    for (const limit of [0, 101, "many"]) {
      const res = await get("/api/accounts/acc_t_pickme/users", { limit });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(["query.limit"]);
    }
    expect(await viewsSince(since)).toEqual([]);
  });
});
