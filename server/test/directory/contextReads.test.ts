import request from "supertest";
import { describe, expect, it } from "vitest";
import { DIRECTORY_BASE_PATH } from "../../../shared/directory/contract.js";
import { databaseKinds } from "../support/databases.js";
import { sessionOf, useHarness, type Harness } from "../actions/harness.js";
import { addUser } from "../lookup/fixtures.js";
import type { ProductDirectory, ProductRequest } from "./productDirectory.js";

/**
 * What one context read costs the product (DIRECTORY_PROVIDER=http): the requester lookups and the
 * account's read go out together (one round trip, not one after the other), over kept-alive
 * connections, and a read that finds nothing changed at the product writes nothing in Steward's cache.
 */
const USER = "usr_demo_006_3";
const ACCOUNT = "acc_demo_006";
const OTHER_ACCOUNT = "acc_demo_001";

const emailOf = async (h: Harness, id: string) => (await h.deps.database.db.selectFrom("users").select("email").where("id", "=", id).executeTakeFirstOrThrow()).email;

async function readContext(h: Harness, token: string, userId = USER) {
  return request(h.app)
    .get("/api/context")
    .query({ email: await emailOf(h, userId), externalId: userId })
    .set("Authorization", `Bearer ${token}`)
    .set("X-Ticket-Id", "4242");
}

/** The product's requests made while `work` ran. */
async function requestsDuring(product: ProductDirectory, work: () => Promise<unknown>): Promise<ProductRequest[]> {
  const from = product.requests.length;
  await work();
  return product.requests.slice(from);
}

const pathOf = (r: ProductRequest) => decodeURIComponent(r.url.slice(DIRECTORY_BASE_PATH.length));

describe.each(databaseKinds)("context over the product's directory on %s", (kind) => {
  const h = useHarness(kind, { directory: "http" });

  it("asks the product for the lookups and the requester's account at the same time: three requests, each sent before any was answered", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    expect((await readContext(h, token)).status).toBe(200);
    const email = await emailOf(h, USER);
    // Each answer held back long enough that requests sent one after another could not overlap.
    product.faults.delayMs = 400;
    let res: request.Response | undefined;
    const seen = await requestsDuring(product, async () => (res = await readContext(h, token))).finally(() => (product.faults.delayMs = 0));
    expect(res?.status).toBe(200);
    expect(res?.body.account).toMatchObject({ status: "ok", source: "product", data: { id: ACCOUNT } });
    expect(seen.map(pathOf).sort()).toEqual([`/accounts/${ACCOUNT}`, `/users?email=${email}`, `/users?externalId=${USER}`].sort());
    const lastSent = Math.max(...seen.map((r) => r.arrivedAt));
    const firstAnswered = Math.min(...seen.map((r) => r.answeredAt ?? Infinity));
    expect(lastSent).toBeLessThan(firstAnswered);
  });

  it("keeps its connections to the product alive: five reads (fifteen requests) share a few connections", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const seen = await requestsDuring(product, async () => {
      for (let i = 0; i < 5; i++) expect((await readContext(h, token)).status).toBe(200);
    });
    expect(seen).toHaveLength(15);
    // A connection per request would be fifteen; at most three are ever in use at once.
    expect(new Set(seen.map((r) => r.clientPort)).size).toBeLessThanOrEqual(6);
  });

  it("search: what the product renamed is found under its new name at once, and a repeated search (nothing changed) finds the same", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const search = (q: string) => request(h.app).get("/api/search").query({ q }).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", "4242");
    await product.store.db.query(`update users set name = 'Quirinus Vandermolen', version = version + 1 where id = $1`, [USER]);
    const renamed = await search("Vandermolen");
    expect(renamed.status).toBe(200);
    expect(renamed.body.hits.map((hit: { id: string }) => hit.id)).toContain(USER);
    const again = await search("Vandermolen");
    expect(again.body.hits).toEqual(renamed.body.hits);
  });

  it("the product down for a requester, account or search only it knows: 502 naming the product and audited failed, never \"not found\"", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const db = h.deps.database.db;
    await product.store.load(
      [{ id: `acc_only_product_${kind}`, name: "Zanzibar Only", domain: null, status: "active", plan: "team", seatsLicensed: 5, billingCustomerId: null, version: 1 }],
      [{ id: `usr_only_product_${kind}`, accountId: `acc_only_product_${kind}`, email: `zanzibar.${kind}@product-only.test`, name: "Zanzibar Only", role: "member", status: "active", idpId: null, staff: false, protected: false, settings: {}, version: 1 }],
    );
    const get = (path: string, query: Record<string, string>, requestId: string) =>
      request(h.app).get(path).query(query).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", "4242").set("X-Request-Id", requestId);
    const entryOf = (requestId: string) => db.selectFrom("audit_log").select(["action", "outcome", "error"]).where("request_id", "=", requestId).executeTakeFirst();
    product.faults.status = 503;
    try {
      const context = await get("/api/context", { email: `zanzibar.${kind}@product-only.test` }, `req-down-context-${kind}`);
      expect(context.status, JSON.stringify(context.body)).toBe(502);
      expect(context.body).toMatchObject({ code: "provider_unavailable", provider: "product" });
      expect(await entryOf(`req-down-context-${kind}`)).toEqual({ action: "context.view", outcome: "failed", error: "directory: unavailable" });
      const users = await get(`/api/accounts/acc_only_product_${kind}/users`, {}, `req-down-users-${kind}`);
      expect(users.status, JSON.stringify(users.body)).toBe(502);
      expect(await entryOf(`req-down-users-${kind}`)).toEqual({ action: "account.view", outcome: "failed", error: "directory: unavailable" });
      const search = await get("/api/search", { q: `zanzibar.${kind}@product-only.test` }, `req-down-search-${kind}`);
      expect(search.status, JSON.stringify(search.body)).toBe(502);
      expect(await entryOf(`req-down-search-${kind}`)).toEqual({ action: "search.run", outcome: "failed", error: "directory: unavailable" });
      // What the cache does hold is still answered (the account part says the product did not answer).
      expect((await readContext(h, token)).status).toBe(200);
    } finally {
      product.faults.status = null;
    }
    // Up again: the same reads find them, and a requester no one has is still plainly not found.
    expect((await get("/api/context", { email: `zanzibar.${kind}@product-only.test` }, `req-up-context-${kind}`)).body.user).toMatchObject({ id: `usr_only_product_${kind}` });
    expect((await get(`/api/accounts/acc_only_product_${kind}/users`, {}, `req-up-users-${kind}`)).status).toBe(200);
    const nobody = await get("/api/context", { email: `nobody.${kind}@product-only.test` }, `req-up-nobody-${kind}`);
    expect(nobody.status).toBe(404);
    expect(nobody.body.code).toBe("requester_not_found");
    expect((await get("/api/accounts/acc_nobody_anywhere/users", {}, `req-up-nobody-users-${kind}`)).status).toBe(404);
  });

  it("the product down: the user, search hits and account users served from the cache say since when (asOf), and only then", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const user = "usr_demo_006_4";
    const email = await emailOf(h, user);
    const get = (path: string, query: Record<string, string>) => request(h.app).get(path).query(query).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", "4242");
    // A change at the product, read: the cache's row is written from an answer asked now.
    await product.store.db.query(`update users set name = 'Lena Okafor-Asof', version = version + 1 where id = $1`, [user]);
    const askedAt = h.deps.clock.now().toISOString();
    const up = await readContext(h, token, user);
    expect(up.body.user).toMatchObject({ id: user, name: "Lena Okafor-Asof" });
    expect(up.body.user).not.toHaveProperty("asOf");
    expect((await get("/api/search", { q: email })).body.hits.every((hit: object) => !("asOf" in hit))).toBe(true);
    h.deps.clock.advance(60_000);
    product.faults.status = 503;
    try {
      const down = await readContext(h, token, user);
      expect(down.status).toBe(200);
      expect(down.body.account).toMatchObject({ status: "error", source: "product" });
      expect(down.body.user).toMatchObject({ id: user, asOf: askedAt });
      const search = await get("/api/search", { q: email });
      expect(search.status).toBe(200);
      expect(search.body.hits.find((hit: { id: string }) => hit.id === user)).toMatchObject({ kind: "user", asOf: askedAt });
      const listed = await get(`/api/accounts/${ACCOUNT}/users`, {});
      expect(listed.status).toBe(200);
      expect(listed.body.account).toHaveProperty("asOf");
      expect(listed.body.users.find((u: { id: string }) => u.id === user)).toMatchObject({ asOf: askedAt });
    } finally {
      product.faults.status = null;
    }
  });

  it("a user deleted through Steward (kept in the cache as deleted) sharing the requester's email is not matched nor a candidate", async () => {
    const token = await sessionOf(h, "support_full");
    const email = await emailOf(h, USER);
    // What the mirror keeps from the product's answer to a delete: the user, status deleted (the product's lookups no longer return it).
    await addUser(h.deps.database.db, { id: "usr_t_deleted_twin", account_id: OTHER_ACCOUNT, email: email.toUpperCase(), name: "Deleted Twin", status: "deleted" });
    const res = await request(h.app).get("/api/context").query({ email }).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", "4242");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ match: "exact", user: { id: USER }, candidates: [] });
  });

  it("a pick whose user the product deleted since is passed over: the email decides, the response has no pick, and the stored pick stays", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const db = h.deps.database.db;
    const email = `robin.${kind}@stale-pick.test`;
    const account = (id: string) => ({ id, name: "Stale Pick", domain: null, status: "active", plan: "team", seatsLicensed: 5, billingCustomerId: null, version: 1 });
    const user = (id: string, accountId: string) => ({ id, accountId, email, name: "Robin Stale", role: "member", status: "active", idpId: null, staff: false, protected: false, settings: {}, version: 1 });
    const [live, picked] = [`usr_stale_live_${kind}`, `usr_stale_picked_${kind}`];
    await product.store.load([account(`acc_stale_1_${kind}`), account(`acc_stale_2_${kind}`)], [user(live, `acc_stale_1_${kind}`), user(picked, `acc_stale_2_${kind}`)]);
    const view = (requestId: string) => request(h.app).get("/api/context").query({ email }).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", "4343").set("X-Request-Id", requestId);
    // Both found (and cached) through the product; the agent picks one.
    expect((await view(`req-stale-ambiguous-${kind}`)).body.match).toBe("ambiguous");
    const made = await request(h.app).post("/api/context/pick").set("Authorization", `Bearer ${token}`).send({ ticketId: "4343", email, userId: picked });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    expect((await view(`req-stale-picked-${kind}`)).body).toMatchObject({ match: "exact", user: { id: picked }, pick: { userId: picked } });

    await product.store.db.query(`update users set status = 'deleted', version = version + 1 where id = $1`, [picked]);
    const res = await view(`req-stale-${kind}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ match: "exact", user: { id: live }, candidates: [], pick: null });
    expect(await db.selectFrom("audit_log").select(["target_id", "after"]).where("request_id", "=", `req-stale-${kind}`).executeTakeFirstOrThrow()).toMatchObject({ target_id: live, after: { requester: { userId: null } } });
    expect(await db.selectFrom("ticket_requester_picks").select("user_id").where("ticket_id", "=", "4343").execute()).toEqual([{ user_id: picked }]);
  });

  it("a requester the product moved to another account: the account part is the new one, read after the lookups showed the move", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    expect((await readContext(h, token)).status).toBe(200);
    await product.store.db.query(`update users set account_id = $2, version = version + 1 where id = $1`, [USER, OTHER_ACCOUNT]);
    try {
      let res: request.Response | undefined;
      const seen = await requestsDuring(product, async () => (res = await readContext(h, token)));
      expect(res?.status).toBe(200);
      expect(res?.body.account).toMatchObject({ status: "ok", source: "product", data: { id: OTHER_ACCOUNT } });
      expect(res?.body.user).toMatchObject({ id: USER, accountId: OTHER_ACCOUNT });
      // The cached account was asked for with the lookups, the new one once they named it.
      expect(seen.map(pathOf).filter((p) => p.startsWith("/accounts/"))).toEqual([`/accounts/${ACCOUNT}`, `/accounts/${OTHER_ACCOUNT}`]);
      const cached = await h.deps.database.db.selectFrom("users").select(["account_id", "status"]).where("id", "=", USER).executeTakeFirstOrThrow();
      expect(cached).toEqual({ account_id: OTHER_ACCOUNT, status: "active" });
    } finally {
      await product.store.db.query(`update users set account_id = $2, version = version + 1 where id = $1`, [USER, ACCOUNT]);
      expect((await readContext(h, token)).body.account.data.id).toBe(ACCOUNT);
    }
  });
});

describe("context over the product's directory on postgres, nothing changed at the product", () => {
  if (!databaseKinds.includes("postgres")) return;
  const h = useHarness("postgres", { directory: "http" });

  it("writes nothing in the cache: it is answered while another transaction holds the requester's user and account rows", async () => {
    const token = await sessionOf(h, "support_full");
    // The first read brings the cache level with the product.
    expect((await readContext(h, token)).status).toBe(200);
    const db = h.deps.database.db;
    const before = await db.selectFrom("users").select(["version", "updated_at"]).where("account_id", "=", ACCOUNT).orderBy("id").execute();
    await db.transaction().execute(async (trx) => {
      await trx.selectFrom("users").select("id").where("account_id", "=", ACCOUNT).forUpdate().execute();
      await trx.selectFrom("accounts").select("id").where("id", "=", ACCOUNT).forUpdate().execute();
      // An upsert of those rows would wait for this transaction, which waits for the read: it would never answer.
      const answered = await Promise.race([readContext(h, token), new Promise<"waiting">((resolve) => setTimeout(() => resolve("waiting"), 10_000))]);
      expect(answered).not.toBe("waiting");
      expect((answered as request.Response).status).toBe(200);
      expect((answered as request.Response).body.account).toMatchObject({ status: "ok", source: "product" });
    });
    expect(await db.selectFrom("users").select(["version", "updated_at"]).where("account_id", "=", ACCOUNT).orderBy("id").execute()).toEqual(before);
  });
});
