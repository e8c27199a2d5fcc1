import request from "supertest";
import type { RequestHandler } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grantKeysFor } from "../../src/impersonation/signingKeys.js";
import { reconcileOnce } from "../../src/reconcile/reconciler.js";
import { runSweeps } from "../../src/sweeps/runSweeps.js";
import { databaseKinds, testConfig } from "../support/databases.js";
import { act, auditOf, createHarness, sessionOf, versionOf, HARNESS_TIMEOUT_MS, type Harness } from "../actions/harness.js";
import { addProduct, start, viewableUsers } from "../impersonation/support.js";
import { addAccount, addUser } from "../lookup/fixtures.js";
import { directoryRowsOf, startProductDirectory, type ProductDirectory } from "./productDirectory.js";

/**
 * A representative slice of the action suite on both directories — builtin (Steward's tables) and
 * http (the demo product's own store, through the contract) — with the same assertions, reading the
 * result from whichever is the directory. Then, http only: the product refusing a stale write, down
 * and slow (context shows the account part failed beside the rest; writes are audited failed or
 * unknown and never half-done).
 */
const AUDIENCE = "prd_demo";
const DIRECTORY_ENV = { DATA_DIR: "memory" };
const USER = "usr_demo_006_3";
const ACCOUNT = "acc_demo_001";
const SEATED = "acc_demo_006";

type Mode = "builtin" | "http";

/** Bumps the user's version at the product just before a write reaches it: someone changed it meanwhile. */
function racer(product: { current?: ProductDirectory }, userId: string, armed: { on: boolean }): RequestHandler {
  return async (req, _res, next) => {
    if (armed.on && req.method === "PATCH" && req.path.endsWith(`/users/${userId}`)) {
      armed.on = false;
      await product.current!.store.db.query(`update users set name = name || ' (renamed)', version = version + 1 where id = $1`, [userId]);
    }
    next();
  };
}

async function setUp(kind: (typeof databaseKinds)[number], mode: Mode, extraEnv: Record<string, string> = {}) {
  if (mode === "builtin") return { h: await createHarness(kind, { env: { ...DIRECTORY_ENV, ...extraEnv } }), product: null, armed: { on: false } };
  const config = testConfig(DIRECTORY_ENV);
  const holder: { current?: ProductDirectory } = {};
  const armed = { on: false };
  let clockNow = () => new Date();
  const product = await startProductDirectory({ keys: grantKeysFor(config), issuer: config.publicUrl, audience: AUDIENCE, now: () => clockNow(), before: () => [racer(holder, USER, armed)] });
  holder.current = product;
  const h = await createHarness(kind, { env: { ...DIRECTORY_ENV, DIRECTORY_PROVIDER: "http", DIRECTORY_URL: product.url, DIRECTORY_AUDIENCE: AUDIENCE, ...extraEnv } });
  clockNow = () => h.deps.clock.now();
  // The product starts with the same customers Steward's demo has (in its own store).
  const rows = await directoryRowsOf(h.deps.database.db);
  await product.store.load(rows.accounts, rows.users);
  return { h, product, armed };
}

describe.each(databaseKinds)("directory actions on %s", (kind) => {
  describe.each(["builtin", "http"] as const)("DIRECTORY_PROVIDER=%s", (mode) => {
    let h: Harness;
    let product: ProductDirectory | null;
    let armed: { on: boolean };
    beforeAll(async () => {
      ({ h, product, armed } = await setUp(kind, mode));
    }, HARNESS_TIMEOUT_MS);
    afterAll(async () => {
      await h?.close();
      await product?.close();
    });

    /** The directory's copy: the product's store with http, Steward's tables with builtin. */
    const directoryUser = async (id: string) =>
      product ? await product.store.user(id) : await h.deps.database.db.selectFrom("users").select(["role", "status", "version"]).where("id", "=", id).executeTakeFirstOrThrow();
    const directoryAccount = async (id: string) => {
      if (product) return await product.store.account(id);
      const row = await h.deps.database.db.selectFrom("accounts").select(["status", "seats_licensed", "version"]).where("id", "=", id).executeTakeFirstOrThrow();
      return { status: row.status, seatsLicensed: row.seats_licensed, version: row.version };
    };

    /** What the agent's sidebar does on opening a user: read their context, which refreshes Steward's copy from the directory. */
    const loadAsAgent = async (userId: string) => {
      const email = (await h.deps.database.db.selectFrom("users").select("email").where("id", "=", userId).executeTakeFirstOrThrow()).email;
      expect((await request(h.app).get("/api/context").query({ email }).set("Authorization", `Bearer ${await sessionOf(h, "support_full")}`)).status).toBe(200);
    };

    it("user.role_change changes the role in the directory, once for a retried key, audited", async () => {
      // The agent loads the user first: another test may have moved the product's copy past Steward's cache.
      await loadAsAgent(USER);
      const before = await directoryUser(USER);
      const role = before!.role === "billing" ? "viewer" : "billing";
      const first = await act(h, "support_full", "user.role_change", { target: { type: "user", id: USER }, input: { role } }, { idempotencyKey: `dir-role-${mode}` });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const again = await act(h, "support_full", "user.role_change", { target: { type: "user", id: USER }, input: { role }, expectedVersion: first.body.before.version }, { idempotencyKey: `dir-role-${mode}` });
      expect(again.body).toMatchObject({ replayed: true, auditEntryId: first.body.auditEntryId });
      const after = await directoryUser(USER);
      expect(after).toMatchObject({ role, version: before!.version + 1 });
      expect(first.body.after).toMatchObject({ role, version: await versionOf(h.deps, { type: "user", id: USER }) });
      expect((await auditOf(h.deps, "user.role_change", USER)).at(-1)).toMatchObject({ outcome: "succeeded", after: { role } });
    });

    it("account.suspend then account.unsuspend move the account's status in the directory", async () => {
      const before = await directoryAccount(ACCOUNT);
      const suspended = await act(h, "support_full", "account.suspend", { target: { type: "account", id: ACCOUNT } });
      expect(suspended.status, JSON.stringify(suspended.body)).toBe(200);
      expect(await directoryAccount(ACCOUNT)).toMatchObject({ status: "suspended" });
      const lifted = await act(h, "support_full", "account.unsuspend", { target: { type: "account", id: ACCOUNT } });
      expect(lifted.status, JSON.stringify(lifted.body)).toBe(200);
      expect(await directoryAccount(ACCOUNT)).toMatchObject({ status: before!.status });
    });

    it("user.suspend and user.activate move the user's status in the directory", async () => {
      const suspended = await act(h, "support_full", "user.suspend", { target: { type: "user", id: USER } });
      expect(suspended.status, JSON.stringify(suspended.body)).toBe(200);
      expect(await directoryUser(USER)).toMatchObject({ status: "suspended" });
      const active = await act(h, "support_full", "user.activate", { target: { type: "user", id: USER } });
      expect(active.status, JSON.stringify(active.body)).toBe(200);
      expect(await directoryUser(USER)).toMatchObject({ status: "active" });
    });

    it("seats.change sets the licence in the directory", async () => {
      const before = await directoryAccount(SEATED);
      const seats = before!.seatsLicensed + 2;
      const res = await act(h, "operations", "seats.change", { target: { type: "account", id: SEATED }, input: { seats } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(await directoryAccount(SEATED)).toMatchObject({ seatsLicensed: seats });
    });

    it("temporary seats reach the directory: expanding adds them, ending one and the sweep's expiry take them back", async () => {
      // The product's count, or with builtin the open expansions in Steward's tables (which are the directory).
      const temporary = async () => {
        if (product) return (await product.store.account(SEATED))!.seatsTemporary;
        const rows = await h.deps.database.db.selectFrom("seat_expansions").select("seats").where("account_id", "=", SEATED).where("reverted_at", "is", null).execute();
        return rows.reduce((sum, r) => sum + r.seats, 0);
      };
      const target = { type: "account" as const, id: SEATED };
      const licensed = (await directoryAccount(SEATED))!.seatsLicensed;
      const first = await act(h, "support_full", "seats.expand_temporarily", { target, input: { seats: 3, days: 2 } });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(await temporary()).toBe(3);
      const second = await act(h, "support_full", "seats.expand_temporarily", { target, input: { seats: 2, days: 1 } });
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      expect(await temporary()).toBe(5);
      const ended = await act(h, "support_full", "seats.expansion_end", { target, input: { expansionId: first.body.result.expansionId } });
      expect(ended.status, JSON.stringify(ended.body)).toBe(200);
      expect(await temporary()).toBe(2);
      h.deps.clock.advance(86_400_000 + 1);
      expect(await runSweeps(h.deps)).toMatchObject({ reverted: 1, failed: 0 });
      expect(await temporary()).toBe(0);
      // The licence itself never moved.
      expect((await directoryAccount(SEATED))!.seatsLicensed).toBe(licensed);
      expect((await auditOf(h.deps, "seats.expansion_expire", SEATED)).map((e) => e.outcome)).toEqual(["succeeded"]);
    });

    it("a write on a version the directory has moved past is refused 409 stale_version, audited failed, nothing changed", async () => {
      const target = { type: "user" as const, id: USER };
      const before = await directoryUser(USER);
      const role = before!.role === "member" ? "viewer" : "member";
      // builtin: someone else's write lands first; http: the product changes between Steward's read and write.
      if (product) armed.on = true;
      else await h.deps.database.db.updateTable("users").set((eb) => ({ version: eb("version", "+", 1) })).where("id", "=", USER).execute();
      const expectedVersion = product ? await versionOf(h.deps, target) : (before!.version as number);
      const res = await act(h, "support_full", "user.role_change", { target, input: { role }, expectedVersion });
      expect(res.status, JSON.stringify(res.body)).toBe(409);
      expect(res.body.code).toBe("stale_version");
      expect((await directoryUser(USER))?.role).toBe(before!.role);
      expect((await auditOf(h.deps, "user.role_change", USER)).at(-1)).toMatchObject({ outcome: "failed", error: expect.stringContaining("stale_version") });
      // Reloading, as the 409 asks, takes the directory's version: the next write from this screen is not stale.
      await loadAsAgent(USER);
      expect(await versionOf(h.deps, target)).toBe((await directoryUser(USER))!.version);
    });

    it("GET /api/directory/settings gives the settings support may change, as the directory declares them", async () => {
      const res = await request(h.app).get("/api/directory/settings").set("Authorization", `Bearer ${await sessionOf(h, "support_read_only")}`);
      expect(res.status).toBe(200);
      // The built-in directory declares the demo product's settings, so the demo runs alike either way.
      expect(res.body).toEqual({
        settings: [
          { key: "language", label: "Language", type: "enum", values: ["en", "de", "fr", "es"] },
          { key: "weekly_digest", label: "Weekly digest email", type: "boolean" },
          { key: "display_name", label: "Display name", type: "string", maxLength: 80 },
        ],
      });
    });

    /** The directory's copy of the user's settings. */
    const directorySettings = async (id: string) =>
      product ? (await product.store.user(id))!.settings : (await h.deps.database.db.selectFrom("users").select("directory_settings").where("id", "=", id).executeTakeFirstOrThrow()).directory_settings;

    it("user.settings_change changes declared settings in the directory, once for a retried key; context shows them; audited before and after", async () => {
      const target = { type: "user" as const, id: USER };
      const email = (await h.deps.database.db.selectFrom("users").select("email").where("id", "=", USER).executeTakeFirstOrThrow()).email;
      const token = await sessionOf(h, "support_full");
      const context = () => request(h.app).get("/api/context").query({ email }).set("Authorization", `Bearer ${token}`);
      // The agent loads the user first (with http, the cache takes the product's current version).
      expect((await context()).status).toBe(200);
      const before = await directorySettings(USER);
      const settings = { language: before.language === "de" ? "fr" : "de", weekly_digest: true };
      const first = await act(h, "support_full", "user.settings_change", { target, input: { settings } }, { idempotencyKey: `dir-settings-${mode}` });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const again = await act(h, "support_full", "user.settings_change", { target, input: { settings }, expectedVersion: first.body.before.version }, { idempotencyKey: `dir-settings-${mode}` });
      expect(again.body).toMatchObject({ replayed: true, auditEntryId: first.body.auditEntryId });
      expect(await directorySettings(USER)).toEqual({ ...before, ...settings });
      const [entry, ...more] = (await auditOf(h.deps, "user.settings_change", USER)).filter((e) => e.outcome === "succeeded");
      expect(more).toEqual([]);
      expect(entry).toMatchObject({ before: { settings: before }, after: { settings: { ...before, ...settings } } });
      expect((await context()).body.user.settings).toEqual({ ...before, ...settings });
      // The same values again change nothing: refused as no change.
      const same = await act(h, "support_full", "user.settings_change", { target, input: { settings } });
      expect(same.status).toBe(409);
      expect(same.body.code).toBe("invalid_transition");
    });

    it("user.settings_change refuses a setting the directory does not declare, or a value of the wrong type: 400 naming the field, nothing changed, nothing audited", async () => {
      const target = { type: "user" as const, id: USER };
      const cases = [
        [{ colour: "blue" }, "body.input.settings.colour"],
        [{ weekly_digest: "yes" }, "body.input.settings.weekly_digest"],
        [{ language: "nl" }, "body.input.settings.language"],
        [{ display_name: "x".repeat(81) }, "body.input.settings.display_name"],
        [{ language: "de", weekly_digest: 1 }, "body.input.settings.weekly_digest"],
      ] as const;
      for (const [settings, field] of cases) {
        const before = { settings: await directorySettings(USER), version: await versionOf(h.deps, target), audit: (await auditOf(h.deps, "user.settings_change", USER)).length };
        const res = await act(h, "support_full", "user.settings_change", { target, input: { settings } });
        expect(res.status, JSON.stringify(settings)).toBe(400);
        expect(res.body).toMatchObject({ code: "invalid_request", errors: [{ field }] });
        expect({ settings: await directorySettings(USER), version: await versionOf(h.deps, target), audit: (await auditOf(h.deps, "user.settings_change", USER)).length }).toEqual(before);
      }
    });

    it("the picker's list of an account's users reads through to the directory (a user only the product knows yet is listed)", async () => {
      if (product) {
        await product.store.load([], [{ id: "usr_product_listed", accountId: SEATED, email: "aaron.aardvark@product-only.test", name: "Aaron Aardvark", role: "member", status: "active", idpId: null, staff: false, protected: false, settings: { language: "en" }, version: 2 }]);
      }
      const res = await request(h.app).get(`/api/accounts/${SEATED}/users`).query({ limit: 100 }).set("Authorization", `Bearer ${await sessionOf(h, "support_read_only")}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const ids = (res.body.users as { id: string; accountId: string }[]).map((u) => u.id);
      const cached = (await h.deps.database.db.selectFrom("users").select("id").where("account_id", "=", SEATED).where("status", "!=", "deleted").execute()).map((u) => u.id);
      expect([...ids].sort()).toEqual([...cached].sort());
      if (product) expect(ids).toContain("usr_product_listed");
    });

    it("search finds the directory's users; context names where the account came from", async () => {
      if (product) {
        // A user only the product knows yet: search reads through to it.
        await product.store.load([], [{ id: "usr_product_only", accountId: SEATED, email: "zora.quist@product-only.test", name: "Zora Quist", role: "member", status: "active", idpId: null, staff: false, protected: false, settings: { language: "de" }, version: 4 }]);
      }
      const token = await sessionOf(h, "support_full");
      const q = product ? "zora.quist@product-only.test" : (await h.deps.database.db.selectFrom("users").select("email").where("id", "=", USER).executeTakeFirstOrThrow()).email;
      const found = await request(h.app).get("/api/search").query({ q }).set("Authorization", `Bearer ${token}`);
      expect(found.status).toBe(200);
      expect(found.body.hits[0]).toMatchObject({ kind: "user", id: product ? "usr_product_only" : USER });
      const ctx = await request(h.app).get("/api/context").query({ email: q }).set("Authorization", `Bearer ${token}`);
      expect(ctx.status).toBe(200);
      expect(ctx.body).toMatchObject({ match: "exact", account: { status: "ok", source: product ? "product" : "steward" }, sources: { user: product ? "product" : "steward" } });
    });

    it("search finds by user id, account id, domain, name and email, ranked as the sidebar expects (exact above fuzzy)", async () => {
      // Rows the directory has and Steward has not searched for yet: with http, only the product holds them.
      const account = { id: "acc_dir_quill", name: "Quillfeather Labs", domain: "quillfeather.test", status: "active", plan: "team", seatsLicensed: 5, billingCustomerId: null, version: 1 };
      const users = [
        { id: "usr_dir_quill_1", email: "mara@quillfeather.test", name: "Mara Quillfeather" },
        // Shares the name words of the first's address but not the address: the fuzzy rival of an exact email.
        { id: "usr_dir_quill_2", email: "m.q@quillfeather.test", name: "Mara Quilfeather" },
      ];
      if (product) {
        await product.store.load([account], users.map((u) => ({ ...u, accountId: account.id, role: "member", status: "active", idpId: null, staff: false, protected: false, settings: {}, version: 1 })));
      } else {
        await addAccount(h.deps.database.db, { id: account.id, name: account.name, domain: account.domain });
        for (const u of users) await addUser(h.deps.database.db, { ...u, account_id: account.id });
      }
      const token = await sessionOf(h, "support_read_only");
      const hits = async (q: string) => {
        const res = await request(h.app).get("/api/search").query({ q }).set("Authorization", `Bearer ${token}`);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        return res.body.hits as { kind: string; id: string; matchedOn: string; score: number }[];
      };
      expect((await hits("usr_dir_quill_1"))[0]).toMatchObject({ kind: "user", id: "usr_dir_quill_1", matchedOn: "user_id" });
      expect((await hits("acc_dir_quill"))[0]).toMatchObject({ kind: "account", id: account.id, matchedOn: "account_id" });
      expect((await hits("quillfeather.test"))[0]).toMatchObject({ kind: "account", id: account.id, matchedOn: "domain" });
      const byEmail = await hits("Mara@Quillfeather.test");
      expect(byEmail[0]).toMatchObject({ kind: "user", id: "usr_dir_quill_1", matchedOn: "email", score: 3 });
      const rival = byEmail.find((x) => x.id === "usr_dir_quill_2");
      if (rival) expect(rival.score).toBeLessThan(3);
      const byName = await hits("Mara Quillfeather");
      expect(byName[0]).toMatchObject({ kind: "user", id: "usr_dir_quill_1" });
    });

    it("impersonation refuses a user the directory marks protected, and one the product marks as its own staff, read fresh from the directory", async () => {
      const impersonationProduct = await addProduct(h);
      const [protectedUser, staffUser] = await viewableUsers(h, 2, 12);
      // Marked after Steward last read them: with http, only the product's store says so.
      if (product) {
        await product.store.db.query(`update users set protected = true, version = version + 1 where id = $1`, [protectedUser!.id]);
        await product.store.db.query(`update users set staff = true, version = version + 1 where id = $1`, [staffUser!.id]);
      } else {
        await h.deps.database.db.updateTable("users").set((eb) => ({ impersonation_protected: true, version: eb("version", "+", 1) })).where("id", "=", protectedUser!.id).execute();
      }
      const cases: [string, string][] = [[protectedUser!.id, "target_protected"], ...(product ? [[staffUser!.id, "target_is_staff"] as [string, string]] : [])];
      for (const [id, code] of cases) {
        const res = await start(h, "support_full", id, { productId: impersonationProduct.id });
        expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([409, code]);
        expect((await auditOf(h.deps, "impersonation.start", id)).at(-1)).toMatchObject({ outcome: "failed", error: expect.stringContaining(code) });
      }
      expect(await h.deps.database.db.selectFrom("impersonation_sessions").select("id").where("user_id", "in", [protectedUser!.id, staffUser!.id]).execute()).toEqual([]);
    });
  });
});

describe("the product's directory down or slow", () => {
  let h: Harness;
  let product: ProductDirectory;
  beforeAll(async () => {
    ({ h, product } = (await setUp("pglite", "http", { CONTEXT_PART_TIMEOUT_MS: "1500", PROVIDER_TIMEOUT_MS: "700", PROVIDER_MAX_RETRIES: "1", RECONCILE_INTERVAL_MS: "100" })) as { h: Harness; product: ProductDirectory });
  }, HARNESS_TIMEOUT_MS);
  afterAll(async () => {
    await h?.close();
    await product?.close();
  });
  const heal = () => Object.assign(product.faults, { delayMs: 0, status: null, writesOnly: false, answerDelayMs: 0 });
  const email = async () => (await h.deps.database.db.selectFrom("users").select("email").where("id", "=", USER).executeTakeFirstOrThrow()).email;

  it("context: the account part fails naming the product; identity, billing, activity and audit still come back", async () => {
    const token = await sessionOf(h, "support_full");
    const address = await email();
    // Seen once while the product is up, so the requester is in the cache.
    expect((await request(h.app).get("/api/context").query({ email: address }).set("Authorization", `Bearer ${token}`)).status).toBe(200);
    for (const fault of [{ status: 503 }, { delayMs: 2_500 }]) {
      Object.assign(product.faults, fault);
      const res = await request(h.app).get("/api/context").query({ email: address }).set("Authorization", `Bearer ${token}`);
      heal();
      expect(res.status).toBe(200);
      expect(res.body.account).toMatchObject({ status: "error", source: "product", error: { provider: expect.stringMatching(/^product$/) } });
      for (const part of ["identity", "billing", "activity", "audit"]) expect(res.body[part].status, part).toBe("ok");
    }
  });

  it("a write while the product is down: a clear 502, audited failed, nothing changed anywhere", async () => {
    const before = await product.store.user(USER);
    const cached = await h.deps.database.db.selectFrom("users").select(["role", "version"]).where("id", "=", USER).executeTakeFirstOrThrow();
    product.faults.status = 503;
    const res = await act(h, "support_full", "user.role_change", { target: { type: "user", id: USER }, input: { role: before!.role === "viewer" ? "member" : "viewer" } });
    heal();
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ code: "provider_unavailable", provider: "product" });
    expect(await product.store.user(USER)).toEqual(before);
    expect(await h.deps.database.db.selectFrom("users").select(["role", "version"]).where("id", "=", USER).executeTakeFirstOrThrow()).toEqual(cached);
    expect((await auditOf(h.deps, "user.role_change", USER)).at(-1)).toMatchObject({ outcome: "failed", error: expect.stringContaining("provider_unavailable") });
  });

  it("temporary seats while the product is down: a clear 502, audited failed, nothing billed or recorded, the product unchanged", async () => {
    const before = await product.store.account(SEATED);
    const billed = async () => (await h.deps.billing.getBilling({ id: SEATED, billingCustomerId: before!.billingCustomerId }))?.seats;
    const seatsBefore = await billed();
    expect(seatsBefore).toEqual(expect.any(Number));
    product.faults.status = 503;
    const res = await act(h, "support_full", "seats.expand_temporarily", { target: { type: "account", id: SEATED }, input: { seats: 2, days: 3 } });
    heal();
    expect(res.status, JSON.stringify(res.body)).toBe(502);
    expect(res.body).toMatchObject({ code: "provider_unavailable", provider: "product" });
    expect(await product.store.account(SEATED)).toEqual(before);
    expect(await billed()).toBe(seatsBefore);
    expect(await h.deps.database.db.selectFrom("seat_expansions").select("id").where("account_id", "=", SEATED).execute()).toEqual([]);
    expect((await auditOf(h.deps, "seats.expand_temporarily", SEATED)).map((e) => e.outcome)).toEqual(["failed"]);
  });

  it("a write the product answers too late: 202 outcome unknown, audited unknown, then the reconciler settles it once", async () => {
    const before = await product.store.user(USER);
    const role = before!.role === "viewer" ? "member" : "viewer";
    Object.assign(product.faults, { delayMs: 1_000, writesOnly: true });
    const res = await act(h, "support_full", "user.role_change", { target: { type: "user", id: USER }, input: { role } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.code).toBe("outcome_unknown");
    const entries = await auditOf(h.deps, "user.role_change", USER);
    expect(entries.slice(-2).map((e) => e.outcome)).toEqual(["pending", "unknown"]);
    // Whether the late write landed or not, Steward's copy has not moved: nothing is half-recorded.
    const cached = await h.deps.database.db.selectFrom("users").select("role").where("id", "=", USER).executeTakeFirstOrThrow();
    expect(cached.role).toBe(before!.role);
    await new Promise((r) => setTimeout(r, 1_500));
    heal();
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
    // Settled with the same key: applied once at the product however many times it was sent.
    expect(await product.store.user(USER)).toMatchObject({ role, version: before!.version + 1 });
    expect((await auditOf(h.deps, "user.role_change", USER)).at(-1)).toMatchObject({ outcome: "succeeded", after: { role } });
    expect(await h.deps.database.db.selectFrom("users").select("role").where("id", "=", USER).executeTakeFirstOrThrow()).toEqual({ role });
  });

  it("a write applied at the product whose answer was lost: a read meanwhile shows it, and the reconciler's retry (newer version, same key) is answered from the product's record, applied once", async () => {
    const before = await product.store.user(USER);
    const role = before!.role === "viewer" ? "member" : "viewer";
    product.faults.answerDelayMs = 1_500;
    const res = await act(h, "support_full", "user.role_change", { target: { type: "user", id: USER }, input: { role } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    heal();
    expect(await product.store.user(USER)).toMatchObject({ role, version: before!.version + 1 });
    // The agent looks again: the cache now holds the product's new version (the one the retry will send).
    const token = await sessionOf(h, "support_full");
    expect((await request(h.app).get("/api/context").query({ email: await email() }).set("Authorization", `Bearer ${token}`)).body.user).toMatchObject({ role });
    await new Promise((r) => setTimeout(r, 300));
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
    expect(await product.store.user(USER)).toMatchObject({ role, version: before!.version + 1 });
    expect((await auditOf(h.deps, "user.role_change", USER)).slice(-3).map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
  });

  it("an elevation's revert while the product is down, then answered too late: one failed, one unknown entry, the grant stays due; the next sweep finds the role back and closes it with one succeeded entry", async () => {
    const userId = "usr_demo_008_5";
    const minute = 60_000;
    const previous = (await product.store.user(userId))!.role;
    const granted = await act(h, "support_full", "user.elevate_temporarily", { target: { type: "user", id: userId }, input: { role: "admin", hours: 1 } });
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);
    const elevated = await product.store.user(userId);
    const open = () => h.deps.database.db.selectFrom("role_elevations").select("id").where("user_id", "=", userId).where("reverted_at", "is", null).execute();
    const outcomes = async () => (await auditOf(h.deps, "user.elevation_expire", userId)).map((e) => e.outcome);
    h.deps.clock.advance(60 * minute + 1);

    product.faults.status = 503;
    expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 1 });
    heal();
    expect(await product.store.user(userId)).toEqual(elevated);
    expect((await auditOf(h.deps, "user.elevation_expire", userId)).map((e) => [e.outcome, e.error])).toEqual([["failed", expect.stringContaining("provider_unavailable")]]);
    expect(await open()).toHaveLength(1);

    // After the first failure's backoff (2 minutes): the product applies the write, its answer comes too late.
    h.deps.clock.advance(2 * minute);
    product.faults.answerDelayMs = 1_500;
    expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 1 });
    heal();
    expect(await outcomes()).toEqual(["failed", "unknown"]);
    expect(await product.store.user(userId)).toMatchObject({ role: previous, version: elevated!.version + 1 });
    expect(await open()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1_500));

    // After the second backoff (4 minutes): the role is back at the product; the grant is closed, once, nothing sent twice.
    h.deps.clock.advance(4 * minute);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 1, skipped: 0, failed: 0 });
    expect(await outcomes()).toEqual(["failed", "unknown", "succeeded"]);
    expect((await auditOf(h.deps, "user.elevation_expire", userId)).at(-1)).toMatchObject({ actor: { system: "sweeper" }, after: { role: previous, roleRestored: true } });
    expect(await product.store.user(userId)).toMatchObject({ role: previous, version: elevated!.version + 1 });
    expect(await open()).toEqual([]);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 0 });
  });
});
