import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grantKeysFor } from "../../src/impersonation/signingKeys.js";
import { reconcileOnce } from "../../src/reconcile/reconciler.js";
import { runSweeps } from "../../src/sweeps/runSweeps.js";
import { databaseKinds, testConfig } from "../support/databases.js";
import { accountRow, act, createHarness, sessionOf, useHarness, HARNESS_TIMEOUT_MS, type Harness } from "../actions/harness.js";
import { directoryRowsOf, startProductDirectory, type ProductDirectory } from "../directory/productDirectory.js";

/**
 * A temporary grant whose provider outcome was lost past the key horizon waits for a person
 * (needs_review). Resolved as applied, it gets the record its successful path writes, dated from the
 * request, so the sweep still reverts it: the temporary change must not become permanent.
 */
const DAY = 24 * 3_600_000;
const HOUR = 3_600_000;
const account = (id: string) => ({ type: "account" as const, id });
const subscriptionItems = /^\/v1\/subscription_items\//;

async function operation(h: Harness, operationId: string) {
  return h.deps.database.db.selectFrom("provider_operations").selectAll().where("operation_id", "=", operationId).executeTakeFirstOrThrow();
}

/** A pass of the reconciler now, whatever backoff the operation was given. */
async function reconcilePass(h: Harness) {
  await h.deps.database.db.updateTable("provider_operations").set({ next_attempt_at: new Date(0) }).where("status", "=", "unknown").execute();
  return reconcileOnce(h.deps, "test-reconciler");
}

const resolveApplied = (h: Harness, accountId: string, operationId: string) => act(h, "operations", "operation.resolve", { target: account(accountId), input: { operationId, resolution: "applied" } });

describe.each(databaseKinds)("operation.resolve applied, temporary seats through Stripe (%s)", { timeout: 90_000 }, (kind) => {
  const h = useHarness(kind, { stripe: true, env: { PROVIDER_TIMEOUT_MS: "4000" } });

  it("records the expansion with the request's expiry, and the sweep reverts the billed seats", async () => {
    const stripe = h.stripe!;
    const accountId = "acc_demo_007";
    const licensed = (await accountRow(h.deps, accountId)).seats_licensed;
    const requestedAt = h.deps.clock.now();
    stripe.failNext(3, 502, { method: "POST", path: subscriptionItems });
    const res = await act(h, "operations", "seats.expand_temporarily", { target: account(accountId), input: { seats: 4, days: 3 } });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    stripe.clearFaults();
    // A day on, the seats at Stripe show neither the old nor the intended count: the re-read cannot tell.
    h.deps.clock.advance(DAY);
    stripe.ageIdempotencyKeys(DAY);
    const sub = [...stripe.subscriptions.values()].find((s) => s.customer === "cus_demo_007")!;
    stripe.subscriptions.set(sub.id, { ...sub, items: { ...sub.items, data: sub.items.data.map((i) => (i.id.includes("_addon") ? i : { ...i, quantity: licensed + 4 + 1 })) } });
    await reconcilePass(h);
    expect((await operation(h, operationId)).status).toBe("needs_review");

    // Operations checked Stripe: the expansion did land.
    const resolved = await resolveApplied(h, accountId, operationId);
    expect(resolved.status, JSON.stringify(resolved.body)).toBe(200);
    const expansions = await h.deps.database.db.selectFrom("seat_expansions").select(["seats", "expires_at", "ticket_id", "reverted_at"]).where("account_id", "=", accountId).execute();
    expect(expansions.map((x) => ({ ...x, expires_at: new Date(x.expires_at).toISOString() }))).toEqual([{ seats: 4, expires_at: new Date(requestedAt.getTime() + 3 * DAY).toISOString(), ticket_id: expect.any(String), reverted_at: null }]);

    // Due from the request's date, not the resolution's: the sweep takes the seats back off the bill.
    h.deps.clock.advance(2 * DAY + 1);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 1, skipped: 0, failed: 0 });
    const billed = stripe.subscriptions.get(sub.id)!.items.data.find((i) => !i.id.includes("_addon"))!.quantity;
    expect(billed).toBe(licensed);
  });
});

describe.each(databaseKinds)("operation.resolve applied, a role elevation at the product's directory (%s)", (kind) => {
  const AUDIENCE = "prd_demo";
  const USER = "usr_demo_008_5";
  let h: Harness;
  let product: ProductDirectory;
  beforeAll(async () => {
    const env = { DATA_DIR: "memory", PROVIDER_TIMEOUT_MS: "700", PROVIDER_MAX_RETRIES: "1" };
    const config = testConfig(env);
    let clockNow = () => new Date();
    product = await startProductDirectory({ keys: grantKeysFor(config), issuer: config.publicUrl, audience: AUDIENCE, now: () => clockNow() });
    h = await createHarness(kind, { env: { ...env, DIRECTORY_PROVIDER: "http", DIRECTORY_URL: product.url, DIRECTORY_AUDIENCE: AUDIENCE } });
    clockNow = () => h.deps.clock.now();
    const rows = await directoryRowsOf(h.deps.database.db);
    await product.store.load(rows.accounts, rows.users);
  }, HARNESS_TIMEOUT_MS);
  afterAll(async () => {
    await h?.close();
    await product?.close();
  });

  it("records the elevation with the role the request saw (not the one read back since), and the sweep restores it", async () => {
    const previous = (await product.store.user(USER))!.role;
    const requestedAt = h.deps.clock.now();
    // The product applies the write; its answer comes too late.
    product.faults.answerDelayMs = 1_500;
    const res = await act(h, "support_full", "user.elevate_temporarily", { target: { type: "user", id: USER }, input: { role: "admin", hours: 2 } });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    await new Promise((r) => setTimeout(r, 1_600));
    product.faults.answerDelayMs = 0;
    expect(await product.store.user(USER)).toMatchObject({ role: "admin" });
    // An agent's lookup meanwhile copies the product's role into Steward's row.
    const email = (await h.deps.database.db.selectFrom("users").select("email").where("id", "=", USER).executeTakeFirstOrThrow()).email;
    await request(h.app).get("/api/context").query({ email }).set("Authorization", `Bearer ${await sessionOf(h, "support_full")}`);
    expect((await h.deps.database.db.selectFrom("users").select("role").where("id", "=", USER).executeTakeFirstOrThrow()).role).toBe("admin");

    h.deps.clock.advance(DAY);
    await reconcilePass(h);
    expect((await operation(h, operationId)).status).toBe("needs_review");
    const resolved = await resolveApplied(h, "acc_demo_008", operationId);
    expect(resolved.status, JSON.stringify(resolved.body)).toBe(200);
    const elevations = await h.deps.database.db.selectFrom("role_elevations").select(["previous_role", "elevated_role", "expires_at", "reverted_at"]).where("user_id", "=", USER).execute();
    expect(elevations.map((e) => ({ ...e, expires_at: new Date(e.expires_at).toISOString() }))).toEqual([{ previous_role: previous, elevated_role: "admin", expires_at: new Date(requestedAt.getTime() + 2 * HOUR).toISOString(), reverted_at: null }]);

    // Already past the request's expiry: the next sweep restores the role at the product.
    expect(await runSweeps(h.deps)).toEqual({ reverted: 1, skipped: 0, failed: 0 });
    expect(await product.store.user(USER)).toMatchObject({ role: previous });
  });
});
