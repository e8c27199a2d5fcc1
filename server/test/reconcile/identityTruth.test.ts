import { describe, expect, it } from "vitest";
import { reconcileOnce } from "../../src/reconcile/reconciler.js";
import { sealAndVerify } from "../support/auditKeys.js";
import { databaseKinds } from "../support/databases.js";
import { act, auditOf, userRow, useHarness, versionOf, type Harness } from "../actions/harness.js";

/**
 * Auth0 takes no idempotency key, so an identity write answered 5xx (or not at all) may or may not
 * have happened: 202 `outcome_unknown`, audited `unknown`, and the reconciler settles it from the
 * user's state at Auth0 — the intended state shows (succeeded, mirrored, no second write), the earlier
 * state shows once the lost request can no longer land (failed), or a multi-user change shows in part
 * (run again: every block is safe to repeat).
 */
const user = (id: string) => ({ type: "user" as const, id });
const account = (id: string) => ({ type: "account" as const, id });
const userPath = (idpId: string) => `/api/v2/users/${encodeURIComponent(idpId)}`;
const IN_FLIGHT_PAST = 120_000;

async function operation(h: Harness, operationId: string) {
  return h.deps.database.db.selectFrom("provider_operations").selectAll().where("operation_id", "=", operationId).executeTakeFirstOrThrow();
}

/** One reconciler pass with every open operation due now (the test does not wait out backoffs). */
async function reconcilePass(h: Harness) {
  await h.deps.database.db.updateTable("provider_operations").set({ next_attempt_at: new Date(0) }).where("status", "=", "unknown").execute();
  return reconcileOnce(h.deps, "test-reconciler");
}

/** Active, unblocked users of an account that Auth0 knows, in id order. */
async function signInUsers(h: Harness, accountId: string) {
  return h.deps.database.db.selectFrom("users").selectAll().where("account_id", "=", accountId).where("status", "=", "active").where("blocked", "=", false).where("idp_id", "is not", null).orderBy("id").execute();
}

// Each test waits on provider timeouts and reconciler passes; a loaded shared machine can take a while.
describe.each(databaseKinds)("identity writes with unknown outcomes (%s)", { timeout: 90_000 }, (kind) => {
  const h = useHarness(kind, {
    auth0: true,
    env: { PROVIDER_TIMEOUT_MS: "4000", RECONCILE_INTERVAL_MS: "20", OPERATION_LEASE_MS: "3000", TARGET_LEASE_WAIT_MS: "10000" },
  });

  it("a block Auth0 applied, answered 500: 202 unknown; the reconciler reads the block at Auth0 and closes it succeeded, mirrored, with one closing entry and no second write", async () => {
    const auth0 = h.auth0!;
    const target = (await signInUsers(h, "acc_demo_001"))[0]!;
    const idpId = target.idp_id as string;
    auth0.failAfterApply(3, 500, { method: "PATCH", path: userPath(idpId) });
    const call = { target: user(target.id), input: {}, expectedVersion: target.version };
    const res = await act(h, "support_full", "user.block", call, { idempotencyKey: "block-500-after" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    expect(res.body.detail).not.toMatch(/nothing (was )?changed/i);
    const operationId = res.body.operationId as string;
    expect(auth0.users.get(idpId)?.blocked).toBe(true);
    expect((await userRow(h.deps, target.id)).blocked).toBe(false);
    expect((await auditOf(h.deps, "user.block", target.id)).map((e) => e.outcome)).toEqual(["pending", "unknown"]);
    auth0.clearFaults();
    const writes = auth0.requestsTo("PATCH", userPath(idpId)).length;

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, operationId)).status).toBe("succeeded");
    expect((await userRow(h.deps, target.id)).blocked).toBe(true);
    expect(auth0.requestsTo("PATCH", userPath(idpId))).toHaveLength(writes);
    const entries = (await auditOf(h.deps, "user.block", target.id)).filter((e) => e.operationId === operationId);
    expect(entries.map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
    expect(entries.at(-1)?.after).toMatchObject({ blocked: true });
    const replay = await act(h, "support_full", "user.block", call, { idempotencyKey: "block-500-after" });
    expect([replay.status, replay.body.replayed, replay.body.operationId]).toEqual([200, true, operationId]);
    expect((await sealAndVerify(h.deps.database.db)).ok).toBe(true);
  });

  it("a block refused 500 before Auth0 applied it: unknown while the lost request could still land, then closed failed from Auth0's state; the key is free again", async () => {
    const auth0 = h.auth0!;
    const target = (await signInUsers(h, "acc_demo_001"))[0]!;
    const idpId = target.idp_id as string;
    auth0.failNext(3, 500, { method: "PATCH", path: userPath(idpId) });
    const call = { target: user(target.id), input: {}, expectedVersion: target.version };
    const res = await act(h, "support_full", "user.block", call, { idempotencyKey: "block-500-before" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    expect(auth0.users.get(idpId)?.blocked).not.toBe(true);
    auth0.clearFaults();
    const writes = auth0.requestsTo("PATCH", userPath(idpId)).length;

    // Right away Auth0 shows no block, but a gateway's 500 does not prove the request stopped: not final yet.
    expect((await reconcilePass(h)).unknown).toBe(1);
    expect(await operation(h, operationId)).toMatchObject({ status: "unknown", last_error: expect.stringContaining("in flight") });
    h.deps.clock.advance(IN_FLIGHT_PAST);
    expect((await reconcilePass(h)).failed).toBe(1);
    const op = await operation(h, operationId);
    expect([op.status, op.last_error]).toEqual(["failed", expect.stringContaining("not applied")]);
    // Settled by reading alone: no write reached Auth0 from the reconciler.
    expect(auth0.requestsTo("PATCH", userPath(idpId))).toHaveLength(writes);
    expect((await userRow(h.deps, target.id)).blocked).toBe(false);
    expect((await auditOf(h.deps, "user.block", target.id)).filter((e) => e.operationId === operationId).map((e) => e.outcome)).toEqual(["pending", "unknown", "failed"]);
    const again = await act(h, "support_full", "user.block", { ...call, expectedVersion: await versionOf(h.deps, user(target.id)) }, { idempotencyKey: "block-500-before" });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(auth0.users.get(idpId)?.blocked).toBe(true);
  });

  it("a block whose answer times out after Auth0 applied it: 202 unknown, then succeeded from the re-read", async () => {
    const auth0 = h.auth0!;
    const target = (await signInUsers(h, "acc_demo_001"))[0]!;
    const idpId = target.idp_id as string;
    auth0.delayAfterApply(6_000, 1, { method: "PATCH", path: userPath(idpId) });
    const res = await act(h, "support_full", "user.block", { target: user(target.id), input: {}, expectedVersion: target.version }, { idempotencyKey: "block-timeout" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    expect(auth0.users.get(idpId)?.blocked).toBe(true);
    auth0.clearFaults();
    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, res.body.operationId as string)).status).toBe("succeeded");
    expect((await userRow(h.deps, target.id)).blocked).toBe(true);
  });

  it("a password-change ticket Auth0 issued, answered 500: the link never reached anyone, so the reconciler issues another and the customer gets exactly one mail", async () => {
    const auth0 = h.auth0!;
    const target = (await signInUsers(h, "acc_demo_007"))[0]!;
    const idpId = target.idp_id as string;
    auth0.failAfterApply(3, 500, { method: "POST", path: "/api/v2/tickets/password-change" });
    const res = await act(h, "support_full", "user.password_reset", { target: user(target.id), input: {}, expectedVersion: target.version }, { idempotencyKey: "reset-500-after" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    const mails = () => h.deps.database.db.selectFrom("mail_outbox").select(["id", "kind"]).where("operation_id", "=", operationId).execute();
    expect(await mails()).toEqual([]);
    const issued = auth0.passwordTickets.filter((t) => t.user_id === idpId).length;
    auth0.clearFaults();

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect(auth0.passwordTickets.filter((t) => t.user_id === idpId)).toHaveLength(issued + 1);
    expect((await mails()).map((m) => m.kind)).toEqual(["password_reset"]);
    expect((await auditOf(h.deps, "user.password_reset", target.id)).filter((e) => e.operationId === operationId).map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
  });

  it("an account suspension whose third block is answered 500 after two users were blocked: 202 naming what was done, and the reconciler completes it (every user blocked at Auth0 and in Steward, one hold with all of them)", async () => {
    const auth0 = h.auth0!;
    const accountId = "acc_demo_006";
    const users = await signInUsers(h, accountId);
    expect(users.length).toBeGreaterThanOrEqual(3);
    auth0.failNext(3, 500, { method: "PATCH", path: userPath(users[2]!.idp_id as string) });
    const res = await act(h, "support_full", "account.suspend", { target: account(accountId), input: {} }, { idempotencyKey: "suspend-midway" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    expect(res.body.detail).toContain(`after block ${users[0]!.id}, block ${users[1]!.id}`);
    expect(users.map((u) => auth0.users.get(u.idp_id as string)?.blocked === true)).toEqual(users.map((_, i) => i < 2));
    const operationId = res.body.operationId as string;
    auth0.clearFaults();

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, operationId)).status).toBe("succeeded");
    for (const u of users) {
      expect(auth0.users.get(u.idp_id as string)?.blocked).toBe(true);
      expect((await userRow(h.deps, u.id)).blocked).toBe(true);
    }
    const holds = await h.deps.database.db.selectFrom("account_access_holds").selectAll().where("account_id", "=", accountId).where("released_at", "is", null).execute();
    expect(holds.map((x) => [x.kind, [...x.blocked_user_ids].sort()])).toEqual([["suspension", users.map((u) => u.id).sort()]]);
    expect((await h.deps.database.db.selectFrom("accounts").select("status").where("id", "=", accountId).executeTakeFirstOrThrow()).status).toBe("suspended");
    const entries = (await auditOf(h.deps, "account.suspend", accountId)).filter((e) => e.operationId === operationId);
    expect(entries.map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
    expect(entries.at(-1)?.after).toMatchObject({ blockedUserIds: users.map((u) => u.id) });
    expect((await sealAndVerify(h.deps.database.db)).ok).toBe(true);
  });
  it("a suspension refused for its third user whose undo of the second is answered 500: not 'these changes are left in place' but unknown, and the reconciler finishes the suspension", async () => {
    const auth0 = h.auth0!;
    const accountId = "acc_demo_019";
    const users = await signInUsers(h, accountId);
    expect(users.length).toBeGreaterThanOrEqual(3);
    const [first, second, third] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0]];
    // Auth0 no longer knows the third user (404: a definite refusal), and the undo of the second block gets 500s.
    const thirdAtAuth0 = auth0.users.get(third.idp_id as string)!;
    auth0.users.delete(third.idp_id as string);
    auth0.failNextAfter({ method: "PATCH", path: userPath(third.idp_id as string) }, 3, 500, { method: "PATCH", path: userPath(second.idp_id as string) });
    const res = await act(h, "support_full", "account.suspend", { target: account(accountId), input: {} }, { idempotencyKey: "suspend-undo-unknown" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    expect(res.body.detail).toContain(`undoing block ${second.id} has an outcome not known`);
    expect([auth0.users.get(first.idp_id as string)?.blocked, auth0.users.get(second.idp_id as string)?.blocked]).toEqual([false, true]);
    auth0.clearFaults();
    auth0.users.set(third.idp_id as string, thirdAtAuth0);

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, res.body.operationId as string)).status).toBe("succeeded");
    for (const u of users) expect([u.id, auth0.users.get(u.idp_id as string)?.blocked, (await userRow(h.deps, u.id)).blocked]).toEqual([u.id, true, true]);
    expect((await h.deps.database.db.selectFrom("accounts").select("status").where("id", "=", accountId).executeTakeFirstOrThrow()).status).toBe("suspended");
  });

  it("lifting a suspension, answered 500 on its second unblock after the first went through: the reconciler finds it in part, runs it again and closes it succeeded, every user unblocked", async () => {
    const auth0 = h.auth0!;
    // Its own account, suspended here: no other test's suspension to lean on.
    const accountId = "acc_demo_026";
    expect((await signInUsers(h, accountId)).length).toBeGreaterThanOrEqual(2);
    const suspended = await act(h, "support_full", "account.suspend", { target: account(accountId), input: {} });
    expect(suspended.status, JSON.stringify(suspended.body)).toBe(200);
    const hold = await h.deps.database.db.selectFrom("account_access_holds").selectAll().where("account_id", "=", accountId).where("released_at", "is", null).executeTakeFirstOrThrow();
    const held = await h.deps.database.db.selectFrom("users").selectAll().where("id", "in", hold.blocked_user_ids).orderBy("id").execute();
    auth0.failNext(3, 500, { method: "PATCH", path: userPath(held[1]!.idp_id as string) });
    const res = await act(h, "support_full", "account.unsuspend", { target: account(accountId), input: {} }, { idempotencyKey: "unsuspend-midway" });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    expect(held.map((u) => auth0.users.get(u.idp_id as string)?.blocked === true)).toEqual(held.map((_, i) => i !== 0));
    auth0.clearFaults();

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, res.body.operationId as string)).status).toBe("succeeded");
    for (const u of held) {
      expect(auth0.users.get(u.idp_id as string)?.blocked).toBe(false);
      expect((await userRow(h.deps, u.id)).blocked).toBe(false);
    }
    expect((await h.deps.database.db.selectFrom("account_access_holds").select("released_at").where("id", "=", hold.id).executeTakeFirstOrThrow()).released_at).not.toBeNull();
    expect((await h.deps.database.db.selectFrom("accounts").select("status").where("id", "=", accountId).executeTakeFirstOrThrow()).status).toBe("active");
  });

  it("an MFA reset refused 500 before any factor was removed: once the lost request cannot land, Auth0 still shows the factors, so it is closed failed without a second delete", async () => {
    const auth0 = h.auth0!;
    const target = await h.deps.database.db.selectFrom("users").selectAll().where("account_id", "=", "acc_demo_011").where("status", "=", "active").where("mfa_enrolled", "=", true).where("idp_id", "is not", null).orderBy("id").executeTakeFirstOrThrow();
    const idpId = target.idp_id as string;
    const methods = auth0.methods.get(idpId)!;
    expect(methods.length).toBeGreaterThan(0);
    const deletePath = `${userPath(idpId)}/authentication-methods`;
    auth0.failNext(3, 500, { method: "DELETE", path: deletePath });
    const res = await act(h, "support_full", "user.mfa_reset", { target: user(target.id), input: { identityVerification: "callback_known_phone", verificationNote: "Called back" }, expectedVersion: target.version });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    auth0.clearFaults();
    const deletes = auth0.requestsTo("DELETE", deletePath).length;
    h.deps.clock.advance(IN_FLIGHT_PAST);

    expect((await reconcilePass(h)).failed).toBe(1);
    expect((await operation(h, res.body.operationId as string)).status).toBe("failed");
    expect(auth0.methods.get(idpId)).toEqual(methods);
    expect(auth0.requestsTo("DELETE", deletePath)).toHaveLength(deletes);
    expect(await userRow(h.deps, target.id)).toMatchObject({ mfa_enrolled: true });
  });

  it("sessions ended at Auth0, answered 500: no re-read can settle it (the delete is asynchronous, refresh tokens unreadable), so the reconciler runs it again (safe) and closes it succeeded, tokens revoked", async () => {
    const auth0 = h.auth0!;
    const candidates = await h.deps.database.db.selectFrom("users").selectAll().where("status", "=", "active").where("idp_id", "is not", null).where("account_id", "not in", ["acc_demo_001", "acc_demo_006", "acc_demo_007", "acc_demo_011"]).orderBy("id").execute();
    const target = candidates.find((u) => (auth0.sessions.get(u.idp_id as string)?.length ?? 0) > 0)!;
    const idpId = target.idp_id as string;
    auth0.failAfterApply(3, 500, { method: "DELETE", path: `${userPath(idpId)}/sessions` });
    const res = await act(h, "support_full", "user.sessions_revoke", { target: user(target.id), input: {}, expectedVersion: target.version });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    expect(auth0.sessions.get(idpId)).toEqual([]);
    expect(auth0.refreshTokens.get(idpId)).toBe(1);
    auth0.clearFaults();

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, res.body.operationId as string)).status).toBe("succeeded");
    expect(auth0.refreshTokens.get(idpId)).toBe(0);
    expect((await auditOf(h.deps, "user.sessions_revoke", target.id)).map((e) => e.outcome)).toEqual(["pending", "unknown", "succeeded"]);
  });

  it("a lockout cleared at Auth0, answered 500: the re-read shows no brute-force block, closed succeeded with the product's copy cleared", async () => {
    const auth0 = h.auth0!;
    const target = await h.deps.database.db.selectFrom("users").selectAll().where("locked_until", "is not", null).where("idp_id", "is not", null).orderBy("id").executeTakeFirstOrThrow();
    const idpId = target.idp_id as string;
    expect(auth0.blocks.get(idpId)?.length).toBeGreaterThan(0);
    const path = `/api/v2/user-blocks/${encodeURIComponent(idpId)}`;
    auth0.failAfterApply(3, 500, { method: "DELETE", path });
    const res = await act(h, "support_full", "user.lockout_clear", { target: user(target.id), input: {}, expectedVersion: target.version });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    auth0.clearFaults();
    const deletes = auth0.requestsTo("DELETE", path).length;

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect(auth0.requestsTo("DELETE", path)).toHaveLength(deletes);
    expect(await userRow(h.deps, target.id)).toMatchObject({ locked_until: null, failed_login_count: 0 });
  });
  it("a deactivation whose session revoke is answered 500 after the block went through: 202 (the block is not undone: the answer is not known), and the reconciler runs it again to the end", async () => {
    const auth0 = h.auth0!;
    const candidates = await h.deps.database.db.selectFrom("users").selectAll().where("account_id", "=", "acc_demo_018").where("status", "=", "active").where("blocked", "=", false).where("role", "not in", ["owner", "admin"]).where("idp_id", "is not", null).orderBy("id").execute();
    const target = candidates.at(-1)!;
    const idpId = target.idp_id as string;
    auth0.failNext(3, 500, { method: "DELETE", path: `${userPath(idpId)}/sessions` });
    const res = await act(h, "support_full", "user.deactivate", { target: user(target.id), input: {}, expectedVersion: target.version });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    expect(res.body.detail).toContain(`after block ${target.id}`);
    expect(auth0.users.get(idpId)?.blocked).toBe(true);
    auth0.clearFaults();

    expect((await reconcilePass(h)).succeeded).toBe(1);
    expect((await operation(h, res.body.operationId as string)).status).toBe("succeeded");
    expect(auth0.users.get(idpId)?.blocked).toBe(true);
    expect(auth0.sessions.get(idpId)).toEqual([]);
    expect(auth0.refreshTokens.get(idpId)).toBe(0);
    expect(await userRow(h.deps, target.id)).toMatchObject({ status: "deactivated", blocked: true });
  });
  it("a block whose user Auth0 no longer knows: the re-read is refused, so it waits, and past the horizon it goes to review instead of waiting for ever", async () => {
    const auth0 = h.auth0!;
    const target = (await signInUsers(h, "acc_demo_021"))[0]!;
    const idpId = target.idp_id as string;
    auth0.failNext(3, 500, { method: "PATCH", path: userPath(idpId) });
    const res = await act(h, "support_full", "user.block", { target: user(target.id), input: {}, expectedVersion: target.version });
    expect([res.status, res.body.code], JSON.stringify(res.body)).toEqual([202, "outcome_unknown"]);
    const operationId = res.body.operationId as string;
    auth0.clearFaults();
    auth0.users.delete(idpId);

    expect((await reconcilePass(h)).unknown).toBe(1);
    expect((await operation(h, operationId)).last_error).toContain("re-read failed");
    h.deps.clock.advance(24 * 3_600_000);
    expect((await reconcilePass(h)).needs_review).toBe(1);
    expect((await operation(h, operationId)).status).toBe("needs_review");
    expect((await auditOf(h.deps, "user.block", target.id)).filter((e) => e.operationId === operationId).at(-1)?.error).toMatch(/^needs_review: past the horizon, and the provider refuses the re-read/);
  });
});
