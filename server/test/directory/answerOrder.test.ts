import request from "supertest";
import { afterEach, describe, expect, it } from "vitest";
import { DIRECTORY_BASE_PATH } from "../../../shared/directory/contract.js";
import { createApp } from "../../src/app.js";
import { openDatabase } from "../../src/db/database.js";
import { createDirectoryPort } from "../../src/directory/index.js";
import { databaseKinds } from "../support/databases.js";
import { reconcileOnce } from "../../src/reconcile/reconciler.js";
import { runSweeps } from "../../src/sweeps/runSweeps.js";
import { act, auditOf, sessionOf, useHarness, type Harness } from "../actions/harness.js";
import type { ProductDirectory, ProductRequest } from "./productDirectory.js";

/**
 * DIRECTORY_PROVIDER=http: two reads of the same object in flight at once may land out of order. The
 * cache keeps the answer asked last (Steward's clock, when the request was sent): an answer asked
 * earlier and landing later changes nothing, whatever the product's versions say; one asked later
 * always lands, even when the product's versions went backwards (restored from a backup).
 */
const pathOf = (r: ProductRequest) => decodeURIComponent(r.url.slice(DIRECTORY_BASE_PATH.length));

/**
 * The product answers the next `count` requests `matching` as it has the objects then, but sends those
 * answers only on `release()`; `held` resolves once all are ready. What Steward asked first lands last.
 */
function holdAnswers(product: ProductDirectory, count: number, matching: (path: string, r: ProductRequest) => boolean = () => true) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let allHeld!: () => void;
  const held = new Promise<void>((resolve) => (allHeld = resolve));
  let seen = 0;
  product.holdAnswer = (r) => {
    if (!matching(pathOf(r), r)) return undefined;
    if (++seen === count) {
      product.holdAnswer = null;
      allHeld();
    }
    return gate;
  };
  return { held, release };
}

/** The product's answer to a command's write of the user. */
const userWrite = (id: string) => (path: string, r: ProductRequest) => r.method === "PATCH" && path === `/users/${id}`;
/** The customer's own admin, in the product, activates the user again (after the command's write landed there). */
const activatedInProduct = (product: ProductDirectory, id: string) => product.store.db.query(`update users set status = 'active', version = version + 1 where id = $1`, [id]);
const cachedUser = (h: Harness, id: string) => h.deps.database.db.selectFrom("users").select(["status", "name", "directory_version"]).where("id", "=", id).executeTakeFirstOrThrow();
const emailOf = async (h: Harness, id: string) => (await h.deps.database.db.selectFrom("users").select("email").where("id", "=", id).executeTakeFirstOrThrow()).email;

async function readContext(app: Harness["app"], token: string, email: string) {
  const res = await request(app).get("/api/context").query({ email }).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", "4242");
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res;
}

describe.each(databaseKinds)("the product's answers landing out of order on %s", (kind) => {
  const h = useHarness(kind, { directory: "http" });
  // A test that failed while answers were held leaves none held for the next.
  afterEach(() => void (h.product!.holdAnswer = null));

  it("a user the product deactivated between two context reads stays deactivated when the first read's (older) answer is cached last", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const user = "usr_demo_002_4";
    const email = await emailOf(h, user);
    await readContext(h.app, token, email);
    // The first read: its lookup and account answers (the user active) held on the way back.
    const first = holdAnswers(product, 2);
    const older = readContext(h.app, token, email);
    await first.held;
    await product.store.db.query(`update users set status = 'deactivated', version = version + 1 where id = $1`, [user]);
    h.deps.clock.advance(1_000);
    await readContext(h.app, token, email);
    expect(await cachedUser(h, user)).toMatchObject({ status: "deactivated" });
    first.release();
    await older;
    expect(await cachedUser(h, user)).toMatchObject({ status: "deactivated" });
  });

  it("orders by when Steward asked, not by the product's versions: a restored product (versions back) still updates, an earlier answer with a higher version does not", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const user = "usr_demo_002_3";
    const email = await emailOf(h, user);
    await product.store.db.query(`update users set name = 'Rosa Before', version = 40 where id = $1`, [user]);
    await readContext(h.app, token, email);
    expect(await cachedUser(h, user)).toEqual({ status: "active", name: "Rosa Before", directory_version: 40 });
    const first = holdAnswers(product, 2);
    const older = readContext(h.app, token, email);
    await first.held;
    // Restored from a backup: another name at a lower version than the cache has seen.
    await product.store.db.query(`update users set name = 'Rosa Restored', version = 3 where id = $1`, [user]);
    h.deps.clock.advance(1_000);
    await readContext(h.app, token, email);
    expect(await cachedUser(h, user)).toEqual({ status: "active", name: "Rosa Restored", directory_version: 3 });
    first.release();
    await older;
    expect(await cachedUser(h, user)).toEqual({ status: "active", name: "Rosa Restored", directory_version: 3 });
    // Later reads keep following the product, lower versions included: nothing sticks.
    await product.store.db.query(`update users set name = 'Rosa Again', version = 2 where id = $1`, [user]);
    h.deps.clock.advance(1_000);
    await readContext(h.app, token, email);
    expect(await cachedUser(h, user)).toEqual({ status: "active", name: "Rosa Again", directory_version: 2 });
  });

  it("an account's user list asked before a user joined does not mark that user (cached by a later read) deleted", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const member = "usr_demo_003_4";
    const email = await emailOf(h, member);
    await readContext(h.app, token, email);
    // The first read's account answer (its users listed as they were) held on the way back.
    const first = holdAnswers(product, 1, (path) => path === "/accounts/acc_demo_003");
    const older = readContext(h.app, token, email);
    await first.held;
    const joined = `usr_joined_${kind}`;
    await product.store.load([], [{ id: joined, accountId: "acc_demo_003", email: `joined.${kind}@initech.example`, name: "Jo Ined", role: "member", status: "active", idpId: null, staff: false, protected: false, settings: {}, version: 1 }]);
    h.deps.clock.advance(1_000);
    await readContext(h.app, token, `joined.${kind}@initech.example`);
    expect(await cachedUser(h, joined)).toMatchObject({ status: "active" });
    first.release();
    await older;
    expect(await cachedUser(h, joined)).toMatchObject({ status: "active" });
  });

  it("search: an older answer cached last does not bring back the name the product changed", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const user = "usr_demo_003_5";
    // Sent at once (a supertest request goes out when awaited).
    const search = async (q: string) => request(h.app).get("/api/search").query({ q }).set("Authorization", `Bearer ${token}`).set("X-Ticket-Id", "4242");
    const first = holdAnswers(product, 1, (path) => path.startsWith("/search"));
    const older = search("Costa");
    await first.held;
    await product.store.db.query(`update users set name = 'Jonas Costa-Renamed', version = version + 1 where id = $1`, [user]);
    h.deps.clock.advance(1_000);
    expect((await search("Costa")).status).toBe(200);
    expect(await cachedUser(h, user)).toMatchObject({ name: "Jonas Costa-Renamed" });
    first.release();
    expect((await older).status).toBe(200);
    expect(await cachedUser(h, user)).toMatchObject({ name: "Jonas Costa-Renamed" });
  });

  it("a read asked before an agent's deactivation and cached after it does not undo the deactivation in the cache", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const user = "usr_demo_006_5";
    const email = await emailOf(h, user);
    await readContext(h.app, token, email);
    const first = holdAnswers(product, 2);
    const older = readContext(h.app, token, email);
    await first.held;
    h.deps.clock.advance(1_000);
    const res = await act(h, "support_full", "user.deactivate", { target: { type: "user", id: user } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await cachedUser(h, user)).toMatchObject({ status: "deactivated" });
    first.release();
    await older;
    expect(await cachedUser(h, user)).toMatchObject({ status: "deactivated" });
  });
  it("a read asked after seats.reclaim's write and cached before the command records it keeps its newer state: the command's own status write waits its turn like the answer", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const account = "acc_demo_011";
    const user = "usr_demo_011_4";
    const email = await emailOf(h, user);
    // The product deactivates the user; its answer is held on the way back.
    const write = holdAnswers(product, 1, userWrite(user));
    const reclaim = act(h, "support_full", "seats.reclaim", { target: { type: "account", id: account }, input: { userIds: [user] } });
    await write.held;
    await activatedInProduct(product, user);
    h.deps.clock.advance(1_000);
    await readContext(h.app, token, email);
    expect(await cachedUser(h, user)).toMatchObject({ status: "active" });
    write.release();
    const res = await reclaim;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await cachedUser(h, user)).toMatchObject({ status: "active" });
    // The command's own result: the user it deactivated no longer holds a seat, whatever the newer read says.
    expect(res.body.result).toMatchObject({ seatsUsed: 3 });
    expect((await auditOf(h.deps, "seats.reclaim", account)).at(-1)).toMatchObject({ outcome: "succeeded", after: { seatsUsed: 3 } });
  });
  it("a read that changed the target while the command's write was out bumps Steward's version, yet the command, holding the product's answer, records success (200), not outcome unknown", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const user = "usr_demo_025_4";
    const email = await emailOf(h, user);
    await readContext(h.app, token, email);
    const { version } = await h.deps.database.db.selectFrom("users").select("version").where("id", "=", user).executeTakeFirstOrThrow();
    const write = holdAnswers(product, 1, userWrite(user));
    const deactivate = act(h, "support_full", "user.deactivate", { target: { type: "user", id: user } });
    await write.held;
    // Meanwhile the customer's admin renames the user at the product, and a read caches it (Steward's version moves).
    await product.store.db.query(`update users set name = 'Renamed Meanwhile', version = version + 1 where id = $1`, [user]);
    h.deps.clock.advance(1_000);
    await readContext(h.app, token, email);
    expect(await h.deps.database.db.selectFrom("users").select("version").where("id", "=", user).executeTakeFirstOrThrow()).toEqual({ version: version + 1 });
    write.release();
    const res = await deactivate;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ outcome: "succeeded", after: { status: "deactivated" } });
    expect((await auditOf(h.deps, "user.deactivate", user)).map((e) => e.outcome)).toEqual(["pending", "succeeded"]);
    expect(await h.deps.database.db.selectFrom("provider_operations").select("status").where("target_id", "=", user).execute()).toEqual([{ status: "succeeded" }]);
    expect(await cachedUser(h, user)).toMatchObject({ status: "deactivated", name: "Renamed Meanwhile" });
  });

  it("a Steward write to the target while the command's write was out (the reconciler took over its lapsed operation and recorded it) is still a conflict: the request does not record it twice, adds no `unknown` after it, and answers with the reconciler's record", async () => {
    const product = h.product!;
    const user = "usr_demo_026_5";
    const write = holdAnswers(product, 1, userWrite(user));
    const deactivate = act(h, "support_full", "user.deactivate", { target: { type: "user", id: user } });
    await write.held;
    // The request looks dead: its operation's and the account's leases lapse, and the reconciler records the write (same key, the product's record).
    const { db } = h.deps.database;
    const op = await db.selectFrom("provider_operations").select(["operation_id", "account_id"]).where("target_id", "=", user).executeTakeFirstOrThrow();
    await db.updateTable("provider_operations").set({ lease_expires_at: new Date(Date.now() - 60_000), next_attempt_at: new Date(Date.now() - 60_000) }).where("operation_id", "=", op.operation_id).execute();
    await db.updateTable("target_leases").set({ expires_at: new Date(Date.now() - 60_000) }).execute();
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
    write.release();
    const res = await deactivate;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ outcome: "succeeded", operationId: op.operation_id, after: { status: "deactivated" } });
    expect((await auditOf(h.deps, "user.deactivate", user)).filter((e) => e.operationId === op.operation_id).map((e) => e.outcome)).toEqual(["pending", "succeeded"]);
    expect(await db.selectFrom("provider_operations").select("status").where("operation_id", "=", op.operation_id).executeTakeFirstOrThrow()).toEqual({ status: "succeeded" });
    expect(await cachedUser(h, user)).toMatchObject({ status: "deactivated" });
  });
});

/** The write applied at the product, its answer lost on the way back: 202, left for the reconciler (and the answer's delay over). */
async function appliedAnswerLost(h: Harness, action: string, target: { type: "user" | "account"; id: string }): Promise<void> {
  h.product!.faults.answerDelayMs = 1_500;
  const res = await act(h, "support_full", action, { target });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  h.product!.faults.answerDelayMs = 0;
  await new Promise((r) => setTimeout(r, 1_500));
}

/**
 * The same through the reconciler: it records a write whose first answer was lost on the current row
 * (no version check), so a read that landed before its record must still win when asked later. Its retry
 * may be answered from the product's record of the first attempt (same key), so that answer is dated by
 * the first attempt: a read asked between the two wins too. The entry's `after` is the command's answer.
 */
describe.each(databaseKinds)("a command's write recorded by the reconciler after a newer read on %s", (kind) => {
  const h = useHarness(kind, { directory: "http", env: { PROVIDER_TIMEOUT_MS: "700", PROVIDER_MAX_RETRIES: "0", RECONCILE_INTERVAL_MS: "100" } });
  afterEach(() => {
    h.product!.holdAnswer = null;
    h.product!.faults.answerDelayMs = 0;
  });

  it("user.deactivate: the retry's answer (asked before the read) does not put back the status the customer changed since", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const user = "usr_demo_012_4";
    const email = await emailOf(h, user);
    // Applied at the product, its answer lost: 202, settled later.
    await appliedAnswerLost(h, "user.deactivate", { type: "user", id: user });
    expect(await cachedUser(h, user)).toMatchObject({ status: "active" });
    // The reconciler's retry is answered from the product's record; that answer is held on the way back.
    const retry = holdAnswers(product, 1, userWrite(user));
    const settled = reconcileOnce(h.deps, "test-reconciler");
    await retry.held;
    await activatedInProduct(product, user);
    h.deps.clock.advance(1_000);
    await readContext(h.app, token, email);
    expect(await cachedUser(h, user)).toMatchObject({ status: "active" });
    retry.release();
    expect(await settled).toMatchObject({ succeeded: 1 });
    expect((await auditOf(h.deps, "user.deactivate", user)).at(-1)).toMatchObject({ outcome: "succeeded", after: { status: "deactivated" } });
    expect(await cachedUser(h, user)).toMatchObject({ status: "active" });
  });

  it("account.suspend: the retry's answer (asked before the read) does not put back the status the product changed since", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const account = "acc_demo_018";
    const email = await emailOf(h, "usr_demo_018_1");
    const cachedAccount = () => h.deps.database.db.selectFrom("accounts").select("status").where("id", "=", account).executeTakeFirstOrThrow();
    expect(await cachedAccount()).toEqual({ status: "active" });
    await appliedAnswerLost(h, "account.suspend", { type: "account", id: account });
    const retry = holdAnswers(product, 1, (path, r) => r.method === "PATCH" && path === `/accounts/${account}`);
    const settled = reconcileOnce(h.deps, "test-reconciler");
    await retry.held;
    // The product's own staff lift the suspension.
    await product.store.db.query(`update accounts set status = 'active', version = version + 1 where id = $1`, [account]);
    h.deps.clock.advance(1_000);
    await readContext(h.app, token, email);
    expect(await cachedAccount()).toEqual({ status: "active" });
    retry.release();
    expect(await settled).toMatchObject({ succeeded: 1 });
    expect((await auditOf(h.deps, "account.suspend", account)).at(-1)).toMatchObject({ outcome: "succeeded", after: { status: "suspended" } });
    expect(await cachedAccount()).toEqual({ status: "active" });
  });

  it("user.deactivate: a retry the product answers from its record of the first attempt does not outrank a read asked between the two", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const user = "usr_demo_026_4";
    const email = await emailOf(h, user);
    // Applied at the product, its answer lost: 202, settled later.
    await appliedAnswerLost(h, "user.deactivate", { type: "user", id: user });
    // After the first attempt: the customer's admin activates the user again, and a read sees it.
    await activatedInProduct(product, user);
    h.deps.clock.advance(1_000);
    await readContext(h.app, token, email);
    expect(await cachedUser(h, user)).toMatchObject({ status: "active" });
    // The retry, sent after that read, gets the first attempt's answer (deactivated) replayed.
    h.deps.clock.advance(1_000);
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
    expect(await cachedUser(h, user)).toMatchObject({ status: "active" });
    expect((await auditOf(h.deps, "user.deactivate", user)).at(-1)).toMatchObject({ outcome: "succeeded", after: { status: "deactivated" } });
  });

  it("user.activate: the entry's seat count counts the user as the product answered the activation, not as a newer read left the cache", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const user = "usr_demo_033_4";
    const email = await emailOf(h, user);
    // Six seat holders; this one deactivated at the product, then activated by the agent (its answer lost).
    await product.store.db.query(`update users set status = 'deactivated', version = version + 1 where id = $1`, [user]);
    await readContext(h.app, token, email);
    await appliedAnswerLost(h, "user.activate", { type: "user", id: user });
    // The customer's admin suspends the user afterwards; a read caches that.
    await product.store.db.query(`update users set status = 'suspended', version = version + 1 where id = $1`, [user]);
    h.deps.clock.advance(1_000);
    await readContext(h.app, token, email);
    h.deps.clock.advance(1_000);
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
    expect(await cachedUser(h, user)).toMatchObject({ status: "suspended" });
    expect((await auditOf(h.deps, "user.activate", user)).at(-1)).toMatchObject({ outcome: "succeeded", after: { status: "active", seats: { used: 6 } } });
  });

  it("account.suspend: a retry the product answers from its record of the first attempt does not outrank a read asked between the two", async () => {
    const product = h.product!;
    const token = await sessionOf(h, "support_full");
    const account = "acc_demo_032";
    const email = await emailOf(h, "usr_demo_032_1");
    const cachedAccount = () => h.deps.database.db.selectFrom("accounts").select("status").where("id", "=", account).executeTakeFirstOrThrow();
    await appliedAnswerLost(h, "account.suspend", { type: "account", id: account });
    await product.store.db.query(`update accounts set status = 'active', version = version + 1 where id = $1`, [account]);
    h.deps.clock.advance(1_000);
    await readContext(h.app, token, email);
    expect(await cachedAccount()).toEqual({ status: "active" });
    h.deps.clock.advance(1_000);
    expect(await reconcileOnce(h.deps, "test-reconciler")).toMatchObject({ succeeded: 1 });
    expect(await cachedAccount()).toEqual({ status: "active" });
    expect((await auditOf(h.deps, "account.suspend", account)).at(-1)).toMatchObject({ outcome: "succeeded", after: { status: "suspended" } });
  });
});

/**
 * The sweep's grant reverts repeat a keyed write (`grant:<id>`) in a fresh run, with no operation record: the
 * product may answer a repeat from its record of the first attempt, so that answer is dated by the first attempt.
 */
describe.each(databaseKinds)("a grant's revert repeated by a later sweep on %s", (kind) => {
  const h = useHarness(kind, { directory: "http", env: { PROVIDER_TIMEOUT_MS: "700", PROVIDER_MAX_RETRIES: "0" } });
  afterEach(() => void (h.product!.faults.answerDelayMs = 0));
  const MINUTE_MS = 60_000;

  it("user.elevation_expire: the repeat's replayed answer (the role put back) does not overwrite the role the customer set since, as the sweep's own read cached it", async () => {
    const product = h.product!;
    const user = "usr_demo_019_4";
    const previous = (await product.store.user(user))!.role;
    const granted = await act(h, "support_full", "user.elevate_temporarily", { target: { type: "user", id: user }, input: { role: "admin", hours: 1 } });
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);
    h.deps.clock.advance(60 * MINUTE_MS + 1);
    // The first sweep's revert is applied at the product, its answer lost.
    product.faults.answerDelayMs = 1_500;
    expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 1 });
    product.faults.answerDelayMs = 0;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await product.store.user(user)).toMatchObject({ role: previous });
    // The customer's admin makes the user an admin again at the product.
    await product.store.db.query(`update users set role = 'admin', version = version + 1 where id = $1`, [user]);
    // After the backoff: the next sweep reads the product (admin, as elevated) and repeats the write, answered from the first attempt's record.
    h.deps.clock.advance(2 * MINUTE_MS);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 1, skipped: 0, failed: 0 });
    expect(await product.store.user(user)).toMatchObject({ role: "admin" });
    expect(await h.deps.database.db.selectFrom("users").select("role").where("id", "=", user).executeTakeFirstOrThrow()).toEqual({ role: "admin" });
    expect((await auditOf(h.deps, "user.elevation_expire", user)).map((e) => e.outcome)).toEqual(["unknown", "succeeded"]);
  });

  it("user.elevation_expire: a first attempt the product refused keeps nothing under the key, so the next sweep's answer is dated by its own attempt and lands in the cache", async () => {
    const product = h.product!;
    const user = "usr_demo_019_5";
    const previous = (await product.store.user(user))!.role;
    const granted = await act(h, "support_full", "user.elevate_temporarily", { target: { type: "user", id: user }, input: { role: "admin", hours: 1 } });
    expect(granted.status, JSON.stringify(granted.body)).toBe(200);
    h.deps.clock.advance(60 * MINUTE_MS + 1);
    // The product refuses the write itself for sure (a 4xx; its reads answer).
    Object.assign(product.faults, { status: 429, writesOnly: true });
    try {
      expect(await runSweeps(h.deps)).toEqual({ reverted: 0, skipped: 0, failed: 1 });
    } finally {
      Object.assign(product.faults, { status: null, writesOnly: false });
    }
    expect((await auditOf(h.deps, "user.elevation_expire", user)).map((e) => [e.outcome, e.error])).toEqual([["failed", expect.any(String)]]);
    // The customer renames the user meanwhile: the next sweep's own read caches that before it writes.
    await product.store.db.query(`update users set name = 'Renamed Between Sweeps', version = version + 1 where id = $1`, [user]);
    h.deps.clock.advance(2 * MINUTE_MS);
    expect(await runSweeps(h.deps)).toEqual({ reverted: 1, skipped: 0, failed: 0 });
    expect(await product.store.user(user)).toMatchObject({ role: previous });
    expect(await h.deps.database.db.selectFrom("users").select(["role", "name"]).where("id", "=", user).executeTakeFirstOrThrow()).toEqual({ role: previous, name: "Renamed Between Sweeps" });
  });
});

describe("the product's answers landing out of order across two Steward processes on one postgres", () => {
  if (!databaseKinds.includes("postgres")) return;
  const h = useHarness("postgres", { directory: "http" });

  it("the other instance's older answer cached last does not overwrite this one's newer", async () => {
    const product = h.product!;
    // A second Steward on the same database: its own pool, its own client of the product, its own app.
    const database = await openDatabase({ kind: "postgres", url: h.deps.database.location, poolSize: 2 });
    try {
      const other = { ...h.deps, database, directory: createDirectoryPort({ config: h.deps.config, db: database.db, clock: h.deps.clock, logger: h.deps.logger }) };
      const otherApp = createApp(other);
      const token = await sessionOf(h, "support_full");
      const user = "usr_demo_006_6";
      const email = await emailOf(h, user);
      await readContext(h.app, token, email);
      const first = holdAnswers(product, 2);
      const older = readContext(otherApp, token, email);
      await first.held;
      await product.store.db.query(`update users set status = 'suspended', version = version + 1 where id = $1`, [user]);
      h.deps.clock.advance(1_000);
      await readContext(h.app, token, email);
      expect(await cachedUser(h, user)).toMatchObject({ status: "suspended" });
      first.release();
      await older;
      expect(await cachedUser(h, user)).toMatchObject({ status: "suspended" });
    } finally {
      await database.close();
    }
  });
});
