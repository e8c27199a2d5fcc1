import { sql, TableNode, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from "kysely";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StaffActor } from "../../src/actor.js";
import type { AnyCommand } from "../../src/commands/command.js";
import { commands } from "../../src/commands/registry.js";
import { previewCommand, runCommand, type CommandRequest } from "../../src/commands/runCommand.js";
import { attachOperation, claimIdempotencyKey, completeIdempotencyKey, releaseIdempotencyKey, renewIdempotencyKey, requestHash } from "../../src/commands/idempotency.js";
import { accountLeaseKey, releaseLease, tryLease } from "../../src/commands/targetLease.js";
import { insertOperation } from "../../src/reconcile/providerOperations.js";
import { DEMO_AGENTS } from "../../src/seed/demo.js";
import { toProblem } from "../../src/http/problem.js";
import type { Database } from "../../src/db/database.js";
import { createTestDatabase, createTestDeps, databaseKinds } from "../support/databases.js";
import { auditOf, HARNESS_TIMEOUT_MS, useHarness, versionOf, type TestDeps } from "../actions/harness.js";
import { ticketFor } from "../support/tickets.js";

const support = DEMO_AGENTS[1];
const actor: StaffActor = { kind: "staff", staffId: support.id, zendeskUserId: support.zendeskUserId, email: support.email, name: support.name, panelRole: support.role };
const credit = commands.get("billing.credit_apply") as AnyCommand;

/**
 * The real credit command, held inside its work (after the account's lease, before the provider) until
 * released: a second write to the same account must wait for it, then see the new version.
 */
function heldUntilReleased(): { command: AnyCommand; arrived: Promise<void>; release: () => void } {
  let release!: () => void;
  let arrived!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  let first = true;
  return {
    command: {
      ...credit,
      validate: async (target, input, ctx) => {
        if (first) {
          first = false;
          arrived();
          await gate;
        }
        await credit.validate?.(target, input, ctx);
      },
    },
    arrived: reached,
    release,
  };
}

async function creditsOn(deps: TestDeps, accountId: string): Promise<number> {
  const rows = await deps.database.db.selectFrom("activity_events").select("id").where("account_id", "=", accountId).where("type", "=", "credit_applied").execute();
  return rows.length;
}

describe.each(databaseKinds)("runCommand on %s", (kind) => {
  let deps: TestDeps;
  beforeAll(async () => {
    deps = await createTestDeps(kind, { seed: true });
  }, HARNESS_TIMEOUT_MS);
  afterAll(async () => {
    await deps.database.close();
  });

  const request = async (accountId: string, amountCents: number, extra: Partial<CommandRequest> = {}): Promise<CommandRequest> => ({
    actor,
    ticketId: await ticketFor(deps, { type: "account", id: accountId }),
    reason: "two agents on one ticket",
    target: { type: "account", id: accountId },
    expectedVersion: await versionOf(deps, { type: "account", id: accountId }),
    input: { amountCents },
    ...extra,
  });

  it("lets only one of two concurrent writes that saw the same version through; the other waits for it, then is 409 stale_version and changes nothing", async () => {
    const accountId = "acc_demo_011";
    const version = await versionOf(deps, { type: "account", id: accountId });
    const held = heldUntilReleased();
    const firstWrite = runCommand(held.command, await request(accountId, 1_000), deps);
    await held.arrived;
    // The first holds the account; the second, sent with the same version, cannot overtake it.
    const secondWrite = runCommand(held.command, await request(accountId, 2_000), deps);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await versionOf(deps, { type: "account", id: accountId })).toBe(version);
    held.release();
    const results = await Promise.allSettled([firstWrite, secondWrite]);
    expect(results[0]?.status).toBe("fulfilled");
    expect(results[1]).toMatchObject({ status: "rejected", reason: { status: 409, code: "stale_version", extra: { expectedVersion: version, currentVersion: version + 1 } } });
    expect(await versionOf(deps, { type: "account", id: accountId })).toBe(version + 1);
    expect(await creditsOn(deps, accountId)).toBe(1);
    expect((await auditOf(deps, "billing.credit_apply", accountId)).map((e) => e.outcome).sort()).toEqual(["failed", "succeeded"]);
  });

  it("refuses a write whose expected version is not the current one, before doing anything, and audits the failure", async () => {
    const accountId = "acc_demo_012";
    const version = await versionOf(deps, { type: "account", id: accountId });
    await expect(runCommand(credit, await request(accountId, 500, { expectedVersion: version - 1 }), deps)).rejects.toMatchObject({
      status: 409,
      code: "stale_version",
      extra: { expectedVersion: version - 1, currentVersion: version },
    });
    expect(await versionOf(deps, { type: "account", id: accountId })).toBe(version);
    expect(await creditsOn(deps, accountId)).toBe(0);
    const [entry] = await auditOf(deps, "billing.credit_apply", accountId);
    expect(entry).toMatchObject({ outcome: "failed", ticketId: await ticketFor(deps, { type: "account", id: accountId }), target: { type: "account", id: accountId, accountId }, before: { version } });
    expect(entry?.error).toContain("stale_version");
  });

  it("runs a retried request once: same key and body replay the stored response; the same key with another body is 422", async () => {
    const accountId = "acc_demo_014";
    const first = await runCommand(credit, await request(accountId, 700, { idempotencyKey: "retry-key-0001" }), deps);
    expect(first).toMatchObject({ outcome: "succeeded", replayed: false });
    expect((await auditOf(deps, "billing.credit_apply", accountId)).map((e) => e.target)).toEqual([{ type: "account", id: accountId, accountId }]);
    // The retry carries the version the agent first sent; it must not be refused as stale.
    const again = await runCommand(credit, { ...(await request(accountId, 700, { idempotencyKey: "retry-key-0001" })), expectedVersion: (first.before as { version: number }).version }, deps);
    expect(again).toEqual({ ...first, replayed: true });
    expect(await creditsOn(deps, accountId)).toBe(1);
    await expect(runCommand(credit, await request(accountId, 701, { idempotencyKey: "retry-key-0001" }), deps)).rejects.toMatchObject({ status: 422, code: "idempotency_key_reused" });
    // Keys belong to the agent: another agent's identical key is a new request.
    const ops = DEMO_AGENTS[2];
    const other = await runCommand(credit, await request(accountId, 700, { idempotencyKey: "retry-key-0001", actor: { ...actor, staffId: ops.id, zendeskUserId: ops.zendeskUserId, panelRole: ops.role } }), deps);
    expect(other).toMatchObject({ replayed: false });
    expect(await creditsOn(deps, accountId)).toBe(2);
  });

  it("answers 409 request_in_progress to a retry that arrives while the first is still running, and performs once", async () => {
    const accountId = "acc_demo_018";
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const inside = new Promise<void>((resolve) => (started = resolve));
    const slow: AnyCommand = {
      ...credit,
      validate: async (target, input, ctx) => {
        started();
        await gate;
        await credit.validate?.(target, input, ctx);
      },
    };
    const body = await request(accountId, 300, { idempotencyKey: "in-flight-0001" });
    const first = runCommand(slow, body, deps);
    await inside;
    await expect(runCommand(credit, body, deps)).rejects.toMatchObject({ status: 409, code: "request_in_progress" });
    release();
    await expect(first).resolves.toMatchObject({ outcome: "succeeded" });
    await expect(runCommand(credit, body, deps)).resolves.toMatchObject({ replayed: true });
    expect(await creditsOn(deps, accountId)).toBe(1);
  });

  it("releases the key of a request that failed, so the agent can retry it", async () => {
    const accountId = "acc_demo_019";
    const version = await versionOf(deps, { type: "account", id: accountId });
    const stale = await request(accountId, 400, { idempotencyKey: "fails-once-0001", expectedVersion: version + 5 });
    await expect(runCommand(credit, stale, deps)).rejects.toMatchObject({ code: "stale_version" });
    const rows = await deps.database.db.selectFrom("idempotency_keys").selectAll().where("key", "=", "fails-once-0001").execute();
    expect(rows).toEqual([]);
    await expect(runCommand(credit, { ...stale, expectedVersion: version }, deps)).resolves.toMatchObject({ outcome: "succeeded", replayed: false });
    const stored = await deps.database.db.selectFrom("idempotency_keys").selectAll().where("key", "=", "fails-once-0001").executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ staff_id: support.id, action: "billing.credit_apply", status: "completed" });
  });

  it("holds an action an admin marked for a second person: staff get 403 approval_required naming who may approve this value (audited, nothing changes); Steward's own runs are not held", async () => {
    const accountId = "acc_demo_015";
    const ops = DEMO_AGENTS[2];
    const opsActor: StaffActor = { kind: "staff", staffId: ops.id, zendeskUserId: ops.zendeskUserId, email: ops.email, name: ops.name, panelRole: ops.role };
    await deps.database.db.insertInto("approval_policy").values({ action: "billing.credit_apply", requires_approval: true, updated_by: DEMO_AGENTS[3].id, updated_at: deps.clock.now() }).execute();
    try {
      const held = await request(accountId, 6_000, { actor: opsActor });
      await expect(runCommand(credit, held, deps)).rejects.toMatchObject({
        status: 403,
        code: "approval_required",
        detail: "billing.credit_apply needs a second person: ask for approval (POST /api/approvals)",
        // 6,000 cents is over support_full's cap: only these roles may approve it.
        extra: { action: "billing.credit_apply", canApprove: ["operations", "admin"], approvalPossible: true },
      });
      expect(await creditsOn(deps, accountId)).toBe(0);
      const [denied] = await auditOf(deps, "billing.credit_apply", accountId);
      expect(denied).toMatchObject({ outcome: "denied", actor: { staffId: ops.id }, target: { type: "account", id: accountId, accountId: null }, ticketId: held.ticketId, reason: held.reason });
      expect(denied?.error).toContain("approval_required");

      // A sweep or other part of Steward runs it (no cap, no approval): no cap is recorded either.
      const byStewart = await runCommand(credit, await request(accountId, 6_000, { actor: { kind: "system", component: "sweeper" } }), deps);
      expect(byStewart).toMatchObject({ outcome: "succeeded" });
      const entries = await auditOf(deps, "billing.credit_apply", accountId);
      expect(entries.map((e) => [e.outcome, e.actor.system])).toEqual([
        ["denied", null],
        ["succeeded", "sweeper"],
      ]);
      expect(entries[1]?.before).not.toHaveProperty("cap");
    } finally {
      await deps.database.db.deleteFrom("approval_policy").where("action", "=", "billing.credit_apply").execute();
    }
  });

  it("refuses a notice choice that does not fit the action (400 naming notifyCustomer) before anything is audited", async () => {
    const userId = "usr_demo_015_2";
    const ticketId = await ticketFor(deps, { type: "user", id: userId });
    const base = { actor, ticketId, reason: "checking the notice", target: { type: "user" as const, id: userId }, expectedVersion: await versionOf(deps, { type: "user", id: userId }), input: {} };
    await expect(runCommand(commands.get("user.password_reset") as AnyCommand, { ...base, notifyCustomer: false }, deps)).rejects.toMatchObject({
      status: 400,
      detail: "The request has invalid fields",
      extra: { errors: [{ field: "body.notifyCustomer", reason: "the security notice after this action is always sent; it cannot be turned off" }] },
    });
    const accountBase = { ...base, target: { type: "account" as const, id: "acc_demo_015" }, expectedVersion: await versionOf(deps, { type: "account", id: "acc_demo_015" }), input: { seats: 40 } };
    await expect(runCommand(commands.get("seats.change") as AnyCommand, { ...accountBase, notifyCustomer: true }, deps)).rejects.toMatchObject({
      status: 400,
      detail: "The request has invalid fields",
      extra: { errors: [{ field: "body.notifyCustomer", reason: "seats.change has no customer notice" }] },
    });
    expect(await auditOf(deps, "user.password_reset", userId)).toEqual([]);
    expect(await auditOf(deps, "seats.change", "acc_demo_015")).toEqual([]);
  });

  it("previews only actions that have a preview: another is 400 naming it, and no token is issued", async () => {
    // Ending a temporary role early has none: its return was previewed when it was granted.
    const end = commands.get("user.elevation_end") as AnyCommand;
    expect(end.preview).toBeUndefined();
    const userId = "usr_demo_015_2";
    const req = { actor, ticketId: await ticketFor(deps, { type: "user", id: userId }), reason: "what would it do", target: { type: "user" as const, id: userId }, expectedVersion: await versionOf(deps, { type: "user", id: userId }), input: { elevationId: "rel_none" } };
    await expect(previewCommand(end, req, deps)).rejects.toMatchObject({ status: 400, detail: "user.elevation_end has no preview" });
  });

  it("keeps an Idempotency-Key's state: in progress while its lease runs, taken over once it lapses, answered with its provider operation's outcome, replayed once completed", async () => {
    const { db } = deps.database;
    const owner = "stf_key_owner";
    const hash = requestHash({ amountCents: 1 });
    const claim = (key: string, leaseMs = 60_000, action = "billing.credit_apply", body = hash) => claimIdempotencyKey(db, owner, key, action, body, leaseMs);
    const row = (key: string) =>
      db
        .selectFrom("idempotency_keys")
        .selectAll()
        .select(sql<boolean>`lease_expires_at > now()`.as("leased"))
        .select(sql<number>`extract(epoch from lease_expires_at - now())::float8`.as("leaseSeconds"))
        .where("staff_id", "=", owner)
        .where("key", "=", key)
        .executeTakeFirst();
    const lapse = (key: string) => db.updateTable("idempotency_keys").set({ lease_expires_at: sql<Date>`now() - interval '1 second'` }).where("staff_id", "=", owner).where("key", "=", key).execute();
    const inProgress = { status: 409, code: "request_in_progress", detail: "A request with this Idempotency-Key is still being processed; retry shortly", extra: { retryable: true } };

    expect(await claim("k-live")).toEqual({ kind: "claimed" });
    // Leased for the time asked (60 s), not more.
    const leased = (await row("k-live"))!.leaseSeconds;
    expect(leased).toBeGreaterThan(50);
    expect(leased).toBeLessThanOrEqual(60);
    await expect(claim("k-live")).rejects.toMatchObject(inProgress);
    await expect(claim("k-live", 60_000, "billing.credit_apply", requestHash({ amountCents: 2 }))).rejects.toMatchObject({
      status: 422,
      code: "idempotency_key_reused",
      title: "Idempotency key reused",
      detail: "This Idempotency-Key was already used for a different request; use a new key for a new request",
    });
    await expect(claim("k-live", 60_000, "billing.trial_extend")).rejects.toMatchObject({ status: 422, code: "idempotency_key_reused" });
    // Renewing keeps it; once the holder stops renewing and the lease lapses, the next request takes it over.
    await lapse("k-live");
    await renewIdempotencyKey(db, owner, "k-live", 60_000);
    await expect(claim("k-live")).rejects.toMatchObject(inProgress);
    await lapse("k-live");
    expect(await claim("k-live", 60_000)).toEqual({ kind: "claimed" });
    expect(await row("k-live")).toMatchObject({ status: "in_progress", operation_id: null, leased: true });

    // A key whose request started a provider call answers with that operation, never runs it again.
    const withOperation = async (key: string, status: "pending" | "unknown" | "needs_review" | "failed", leaseMs: number, lastError: string | null = "gateway timeout") => {
      expect(await claim(key)).toEqual({ kind: "claimed" });
      const operationId = `op_key_${key}`;
      await db.transaction().execute(async (trx) => {
        await insertOperation(trx, { operationId, action: "billing.credit_apply", targetType: "account", targetId: "acc_keys", accountId: "acc_keys", keyOwner: owner, idempotencyKey: key, providerKey: `steward:${owner}:${key}`, request: { actor, ticketId: "1", reason: "r", requestId: null, input: {}, now: deps.clock.now().toISOString() }, providerBefore: undefined, leaseMs, createdAt: deps.clock.now() });
        await attachOperation(trx, owner, key, operationId);
      });
      if (status !== "pending") await db.updateTable("provider_operations").set({ status, last_error: status === "failed" ? null : lastError }).where("operation_id", "=", operationId).execute();
      await lapse(key);
      return operationId;
    };
    try {
      const running = await withOperation("k-op-running", "pending", 60_000);
      await expect(claim("k-op-running")).rejects.toMatchObject(inProgress);
      expect(running).toBe("op_key_k-op-running");
      const stopped = await withOperation("k-op-stopped", "pending", 0);
      await db.updateTable("provider_operations").set({ lease_expires_at: sql<Date>`now() - interval '1 second'` }).where("operation_id", "=", stopped).execute();
      await expect(claim("k-op-stopped")).rejects.toMatchObject({
        status: 202,
        code: "outcome_unknown",
        detail: `The request handling this key stopped during its provider call. Steward is checking with the provider and will finish or close the action; do not repeat it with a new key (operation ${stopped})`,
        extra: { operationId: stopped, retryable: false },
      });
      const unknown = await withOperation("k-op-unknown", "unknown", 60_000);
      await expect(claim("k-op-unknown")).rejects.toMatchObject({ status: 202, code: "outcome_unknown", detail: expect.stringMatching(/^The provider call's outcome is not known yet \(gateway timeout\)\. /), extra: { operationId: unknown } });
      // No error recorded: the answer says so.
      const silent = await withOperation("k-op-silent", "unknown", 60_000, null);
      await expect(claim("k-op-silent")).rejects.toMatchObject({ detail: expect.stringMatching(/^The provider call's outcome is not known yet \(no answer\)\. /), extra: { operationId: silent } });
      const silentReview = await withOperation("k-op-silent-review", "needs_review", 60_000, null);
      await expect(claim("k-op-silent-review")).rejects.toMatchObject({ detail: expect.stringMatching(/^Steward could not settle it with the provider and operations must review it \(no answer\)\. /), extra: { operationId: silentReview } });
      const review = await withOperation("k-op-review", "needs_review", 60_000);
      await expect(claim("k-op-review")).rejects.toMatchObject({ status: 202, code: "outcome_unknown", detail: expect.stringMatching(/^Steward could not settle it with the provider and operations must review it \(gateway timeout\)\. /), extra: { operationId: review, status: "needs_review" } });
      // Closed as failed (the key was not released: the process died first): free to take over.
      await withOperation("k-op-failed", "failed", 60_000);
      expect(await claim("k-op-failed")).toEqual({ kind: "claimed" });
      expect(await row("k-op-failed")).toMatchObject({ operation_id: null, leased: true });
    } finally {
      await db.updateTable("provider_operations").set({ status: "failed" }).where("account_id", "=", "acc_keys").execute();
    }

    // Completed: the stored response, marked replayed; a release no longer deletes it, a renewal no longer leases it.
    expect(await claim("k-done")).toEqual({ kind: "claimed" });
    const response = { outcome: "succeeded", replayed: false, before: { version: 1 }, after: { version: 2 } } as never;
    await db.transaction().execute((trx) => completeIdempotencyKey(trx, owner, "k-done", response, deps.clock.now()));
    await releaseIdempotencyKey(db, owner, "k-done");
    await renewIdempotencyKey(db, owner, "k-done", 60_000);
    expect(await row("k-done")).toMatchObject({ status: "completed", lease_expires_at: null });
    expect(await claim("k-done")).toEqual({ kind: "replay", response: { outcome: "succeeded", replayed: true, before: { version: 1 }, after: { version: 2 } } });
    // Released while in progress: gone, and the next claim is a fresh one.
    await releaseIdempotencyKey(db, owner, "k-live");
    expect(await row("k-live")).toBeUndefined();
    expect(await claim("k-live")).toEqual({ kind: "claimed" });
  });

  it("runs a destructive action only with the token its preview issued: without one it is 428 and changes nothing; with it the user is deleted, its version bumped, and the entry names the user's account and the request", async () => {
    const ops: StaffActor = { kind: "staff", staffId: DEMO_AGENTS[2].id, zendeskUserId: DEMO_AGENTS[2].zendeskUserId, email: DEMO_AGENTS[2].email, name: DEMO_AGENTS[2].name, panelRole: DEMO_AGENTS[2].role };
    const remove = commands.get("user.delete") as AnyCommand;
    const userId = "usr_demo_013_3";
    const userRow = () => deps.database.db.selectFrom("users").select(["status", "version", "account_id"]).where("id", "=", userId).executeTakeFirstOrThrow();
    const before = await userRow();
    const accountVersion = await versionOf(deps, { type: "account", id: before.account_id });
    const req: CommandRequest = {
      actor: ops,
      ticketId: await ticketFor(deps, { type: "user", id: userId }),
      reason: "the customer asked to remove this user",
      requestId: "req-confirm-1",
      target: { type: "user", id: userId },
      expectedVersion: before.version,
      input: {},
    };
    await expect(runCommand(remove, req, deps)).rejects.toMatchObject({ status: 428, code: "confirmation_required" });
    expect(await userRow()).toEqual(before);
    const refused = await auditOf(deps, "user.delete", userId);
    expect(refused.map((e) => [e.outcome, e.requestId])).toEqual([["failed", "req-confirm-1"]]);

    const { confirmationToken, effects } = await previewCommand(remove, req, deps);
    expect(effects.summary).toMatch(/^Delete /);
    const done = await runCommand(remove, { ...req, confirmationToken }, deps);
    expect(done.outcome).toBe("succeeded");
    // The user's own version moves, not its account's: the product's write moves it once, the runner's bump once more.
    expect(await userRow()).toEqual({ status: "deleted", version: before.version + 2, account_id: before.account_id });
    expect(await versionOf(deps, { type: "account", id: before.account_id })).toBe(accountVersion);
    const entry = (await auditOf(deps, "user.delete", userId)).at(-1);
    expect(entry).toMatchObject({ outcome: "succeeded", requestId: "req-confirm-1", target: { type: "user", id: userId, accountId: before.account_id } });
    // What the agent was shown is recorded with the state it was decided on.
    expect(entry?.before).toMatchObject({ version: before.version, status: before.status, effects });
  });

  it("releases the key of a request the ticket check refuses: the identical retry is refused the same way, not 409 request_in_progress, and the key runs once the ticket is right", async () => {
    const accountId = "acc_demo_020";
    const right = await request(accountId, 250, { idempotencyKey: "bad-ticket-0001" });
    const wrong = { ...right, ticketId: "990001" };
    const notFound = { status: 422, code: "ticket_not_found", extra: { ticketId: "990001" } };
    await expect(runCommand(credit, wrong, deps)).rejects.toMatchObject(notFound);
    expect(await deps.database.db.selectFrom("idempotency_keys").selectAll().where("key", "=", "bad-ticket-0001").execute()).toEqual([]);
    await expect(runCommand(credit, wrong, deps)).rejects.toMatchObject(notFound);
    expect(await creditsOn(deps, accountId)).toBe(0);
    // The same key with the right ticket is a new request (the ticket is part of what the key stands for).
    await expect(runCommand(credit, right, deps)).resolves.toMatchObject({ outcome: "succeeded", replayed: false });
    expect(await creditsOn(deps, accountId)).toBe(1);
  });

  it("answers a failure before the account's lease with its own status, audited: a deleted user to Steward's own run is 404, a busy account past the wait 409 target_busy", async () => {
    // Steward's own runs have no ticket to check, so the deleted user first meets the runner's account lookup.
    const userId = "usr_demo_021_1";
    const { db } = deps.database;
    const version = await versionOf(deps, { type: "user", id: userId });
    await db.updateTable("users").set({ status: "deleted" }).where("id", "=", userId).execute();
    const block = commands.get("user.block") as AnyCommand;
    const sweeper = { kind: "system" as const, component: "sweeper" };
    await expect(runCommand(block, { actor: sweeper, ticketId: "", reason: "clean-up", target: { type: "user", id: userId }, expectedVersion: version, input: {} }, deps)).rejects.toMatchObject({ status: 404, detail: `No user ${userId}` });
    const [gone] = await auditOf(deps, "user.block", userId);
    expect(gone).toMatchObject({ outcome: "failed", actor: { system: "sweeper" }, target: { type: "user", id: userId, accountId: null } });
    expect(gone?.error).toContain(`No user ${userId}`);

    const accountId = "acc_demo_022";
    const leaseKey = accountLeaseKey(accountId);
    expect(await tryLease(db, leaseKey, "test-holder", 60_000)).toBe(true);
    try {
      const impatient = { ...deps, config: { ...deps.config, TARGET_LEASE_WAIT_MS: 50 } };
      await expect(runCommand(credit, await request(accountId, 150), impatient)).rejects.toMatchObject({ status: 409, code: "target_busy" });
    } finally {
      await releaseLease(db, leaseKey, "test-holder");
    }
    expect(await creditsOn(deps, accountId)).toBe(0);
    const [busy] = await auditOf(deps, "billing.credit_apply", accountId);
    expect(busy).toMatchObject({ outcome: "failed", target: { type: "account", id: accountId, accountId } });
    expect(busy?.error).toContain("target_busy");
  });

  it("previews: a stale version is 409 stale_version; a command with neither precondition nor validate (user.lockout_clear) previews and gets its token; a deleted user is 404 to Steward's own preview", async () => {
    const clear = commands.get("user.lockout_clear") as AnyCommand;
    expect([clear.precondition, clear.validate, typeof clear.preview]).toEqual([undefined, undefined, "function"]);
    const userId = "usr_demo_023_1";
    const version = await versionOf(deps, { type: "user", id: userId });
    const req: CommandRequest = { actor, ticketId: await ticketFor(deps, { type: "user", id: userId }), reason: "locked out", target: { type: "user", id: userId }, expectedVersion: version, input: {} };
    await expect(previewCommand(clear, { ...req, expectedVersion: version - 1 }, deps)).rejects.toMatchObject({ status: 409, code: "stale_version", extra: { expectedVersion: version - 1, currentVersion: version } });
    const shown = await previewCommand(clear, req, deps);
    expect(shown).toMatchObject({ action: "user.lockout_clear", target: { type: "user", id: userId }, confirmationToken: expect.any(String) });
    // A preview changes nothing.
    expect(await versionOf(deps, { type: "user", id: userId })).toBe(version);

    // Steward's own preview skips the ticket check, so the target load is what refuses a deleted user.
    const goneId = "usr_demo_023_2";
    const goneVersion = await versionOf(deps, { type: "user", id: goneId });
    await deps.database.db.updateTable("users").set({ status: "deleted" }).where("id", "=", goneId).execute();
    await expect(previewCommand(clear, { actor: { kind: "system", component: "sweeper" }, ticketId: "", reason: "clean-up", target: { type: "user", id: goneId }, expectedVersion: goneVersion, input: {} }, deps)).rejects.toMatchObject({ status: 404, detail: `No user ${goneId}` });
  });

  it("refuses a missing target with 404 and bad input with 400, changing nothing", async () => {
    const credited = await creditsOn(deps, "acc_demo_011");
    await expect(runCommand(credit, { ...(await request("acc_demo_011", 100)), target: { type: "account", id: "acc_nope" } }, deps)).rejects.toMatchObject({ status: 404 });
    await expect(runCommand(credit, { ...(await request("acc_demo_011", 100)), input: { amountCents: -1 } }, deps)).rejects.toMatchObject({
      status: 400,
      detail: "The request has invalid fields",
      // The command's own schema names the field under the request body, as the route's schema would.
      extra: { errors: [{ field: "body.input.amountCents" }] },
    });
    const block = commands.get("user.block") as AnyCommand;
    await expect(runCommand(block, { ...(await request("acc_demo_011", 100)), target: { type: "user", id: "usr_nope" }, input: {} }, deps)).rejects.toMatchObject({ status: 404 });
    expect(await creditsOn(deps, "acc_demo_011")).toBe(credited);
  });

  it("a command working past its lease keeps renewing it: meanwhile another write on the account is 409 target_busy and a retry of its key 409 request_in_progress; it then completes once", async () => {
    const accountId = "acc_demo_025";
    // Leases of 0.9 s, renewed every 0.3 s; the command is held for more than two of them.
    const shortLeases = { ...deps, config: { ...deps.config, OPERATION_LEASE_MS: 900, TARGET_LEASE_WAIT_MS: 200 } };
    const held = heldUntilReleased();
    const body = await request(accountId, 1_000, { idempotencyKey: "past-lease-0001" });
    const first = runCommand(held.command, body, shortLeases);
    await held.arrived;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await expect(runCommand(credit, await request(accountId, 2_000), shortLeases)).rejects.toMatchObject({ status: 409, code: "target_busy" });
    await expect(runCommand(credit, body, shortLeases)).rejects.toMatchObject({ status: 409, code: "request_in_progress" });
    held.release();
    await expect(first).resolves.toMatchObject({ outcome: "succeeded", replayed: false });
    expect(await creditsOn(deps, accountId)).toBe(1);
  });

  it("a database fault while checking the cap is the database's failure (503), not a refusal: nothing is audited as denied", async () => {
    const accountId = "acc_demo_016";
    const fault = new FaultOn("SelectQueryNode", "panel_caps");
    const faulty = { ...deps, database: { ...deps.database, db: deps.database.db.withPlugin(fault) } };
    const err = await runCommand(credit, await request(accountId, 500), faulty).catch((e: unknown) => e);
    expect(fault.hits).toBe(1);
    expect(toProblem(err)).toMatchObject({ status: 503, code: "database_timeout" });
    // Refused before anything is held or written, like bad input: no entry at all, and above all no `denied`.
    expect(await auditOf(deps, "billing.credit_apply", accountId)).toEqual([]);
    expect(await creditsOn(deps, accountId)).toBe(0);
  });

  it("a database fault while reserving the cap is audited failed with the fault (503), not also as denied, and the credit is not applied", async () => {
    const accountId = "acc_demo_017";
    const fault = new FaultOn("InsertQueryNode", "cap_usage");
    const faulty = { ...deps, database: { ...deps.database, db: deps.database.db.withPlugin(fault) } };
    const err = await runCommand(credit, await request(accountId, 500), faulty).catch((e: unknown) => e);
    expect(fault.hits).toBe(1);
    expect(toProblem(err)).toMatchObject({ status: 503, code: "database_timeout" });
    const entries = await auditOf(deps, "billing.credit_apply", accountId);
    expect(entries.map((e) => e.outcome)).toEqual(["failed"]);
    expect(entries[0]?.error).toContain("database_timeout");
    expect(await creditsOn(deps, accountId)).toBe(0);
    expect(await deps.database.db.selectFrom("cap_usage").select("id").where("target_id", "=", accountId).execute()).toEqual([]);
  });
});

/** With DIRECTORY_PROVIDER=http the runner refreshes the target from the product first, as the agent on the ticket. */
describe.each(databaseKinds)("runCommand with the product's directory on %s", (kind) => {
  const h = useHarness(kind, { directory: "http" });

  it("reads the target's account from the product naming the agent and the ticket, for the preview and for the run", async () => {
    const accountId = "acc_demo_030";
    const target = { type: "account" as const, id: accountId };
    const req: CommandRequest = { actor, ticketId: await ticketFor(h.deps, target), reason: "goodwill credit", target, expectedVersion: await versionOf(h.deps, target), input: { amountCents: 300 } };
    /** Who each read of the account said it was for (the claims of Steward's token; the product verified it). */
    const readsOfAccount = () =>
      h.product!.requests.filter((r) => r.method === "GET" && r.url.endsWith(`/accounts/${accountId}`)).map((r) => {
        const claims = decodeJwt(r.authorization!.replace(/^Bearer /, ""));
        return { sub: claims.sub, ticketId: claims.ticketId };
      });
    const asked = { sub: actor.staffId, ticketId: req.ticketId };

    h.product!.requests.length = 0;
    await previewCommand(credit, req, h.deps);
    const previewReads = readsOfAccount();
    expect(previewReads.length).toBeGreaterThan(0);
    expect(previewReads).toEqual(previewReads.map(() => asked));

    h.product!.requests.length = 0;
    await expect(runCommand(credit, req, h.deps)).resolves.toMatchObject({ outcome: "succeeded" });
    const runReads = readsOfAccount();
    expect(runReads.length).toBeGreaterThan(0);
    expect(runReads).toEqual(runReads.map(() => asked));
  });
});

/**
 * Two claims of one key at once, interleaved on purpose. PostgreSQL only: each claim needs a connection of
 * its own (PGlite has one), and the interleaving is held by the database (a row lock) or between two
 * statements of one claim, while another connection acts.
 */
describe("Idempotency-Key claims racing, on postgres", () => {
  let database: Database;
  beforeAll(async () => {
    database = await createTestDatabase("postgres");
  }, HARNESS_TIMEOUT_MS);
  afterAll(async () => {
    await database.close();
  });
  const owner = "stf_race_owner";
  const action = "billing.credit_apply";
  const hash = requestHash({ amountCents: 5 });

  it("a key released between a claim's conflicting insert and its read is claimed by that claim, not answered 500", async () => {
    const { db } = database;
    const key = "k-released-between";
    // The first holder has the key; the second claim's insert meets it.
    expect(await claimIdempotencyKey(db, owner, key, action, hash, 60_000)).toEqual({ kind: "claimed" });
    let releasedBetween = 0;
    const afterConflict = new PauseAfterEmptyInsert(async () => {
      // The first holder fails and releases its key (another connection) before the second claim reads it.
      releasedBetween++;
      await releaseIdempotencyKey(db, owner, key);
    });
    expect(await claimIdempotencyKey(db.withPlugin(afterConflict), owner, key, action, hash, 60_000)).toEqual({ kind: "claimed" });
    expect(releasedBetween).toBe(1);
    const rows = await db.selectFrom("idempotency_keys").select(["status", "request_hash"]).select(sql<boolean>`lease_expires_at > now()`.as("leased")).where("staff_id", "=", owner).where("key", "=", key).execute();
    expect(rows).toEqual([{ status: "in_progress", request_hash: hash, leased: true }]);
  });

  it("two retries taking over one lapsed key at once: exactly one claims it, the other is 409 request_in_progress", async () => {
    const { db } = database;
    const key = "k-lapsed-race";
    expect(await claimIdempotencyKey(db, owner, key, action, hash, 60_000)).toEqual({ kind: "claimed" });
    // The holder is gone: its lease lapsed.
    await db.updateTable("idempotency_keys").set({ lease_expires_at: sql<Date>`now() - interval '1 second'` }).where("staff_id", "=", owner).where("key", "=", key).execute();
    const { both } = await db.transaction().execute(async (trx) => {
      // A third connection holds the key's row: both claims read the lapsed lease, then wait at their take-over UPDATE.
      await trx.selectFrom("idempotency_keys").select("key").where("staff_id", "=", owner).where("key", "=", key).forUpdate().execute();
      const both = Promise.allSettled([claimIdempotencyKey(db, owner, key, action, hash, 60_000), claimIdempotencyKey(db, owner, key, action, hash, 60_000)]);
      const deadline = Date.now() + 10_000;
      for (;;) {
        const waiting = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'update "idempotency_keys"%'`.execute(db);
        if (waiting.rows[0]!.n === 2) break;
        if (Date.now() > deadline) throw new Error(`the two claims never both reached the take-over ${JSON.stringify((await sql`select pid, state, wait_event_type, wait_event, left(query, 80) as q from pg_stat_activity where datname = current_database()`.execute(db)).rows)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Wrapped: returning the promise itself would wait for it inside the transaction, which holds the lock it waits on.
      return { both };
    });
    // The lock is gone (commit, nothing changed): one UPDATE takes the key, the other finds its lease renewed.
    const results = await both;
    const claimed = results.filter((r) => r.status === "fulfilled");
    expect(claimed.map((r) => (r as PromiseFulfilledResult<unknown>).value)).toEqual([{ kind: "claimed" }]);
    const refused = results.filter((r) => r.status === "rejected");
    expect(refused.map((r) => (r as PromiseRejectedResult).reason)).toEqual([expect.objectContaining({ status: 409, code: "request_in_progress" })]);
  });
});

/**
 * A database fault on one table: every query of that kind on it fails as PostgreSQL fails a statement that
 * ran out of time (SQLSTATE 57014), before it reaches the database.
 */
class FaultOn implements KyselyPlugin {
  hits = 0;

  constructor(
    private readonly kind: "SelectQueryNode" | "InsertQueryNode",
    private readonly table: string,
  ) {}

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    const tables = node.kind === "SelectQueryNode" ? (node.from?.froms ?? []) : node.kind === "InsertQueryNode" ? [node.into] : [];
    if (node.kind === this.kind && tables.some((t) => t && TableNode.is(t) && t.table.identifier.name === this.table)) {
      this.hits++;
      throw Object.assign(new Error(`canceling statement due to statement timeout (on ${this.table})`), { code: "57014" });
    }
    return node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

/** Runs `between` once, after the first INSERT that stored nothing (a conflict) and before the next statement. */
class PauseAfterEmptyInsert implements KyselyPlugin {
  private readonly inserts = new Set<string>();
  private done = false;

  constructor(private readonly between: () => Promise<void>) {}

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind === "InsertQueryNode") this.inserts.add(args.queryId.queryId);
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.inserts.delete(args.queryId.queryId) && args.result.rows.length === 0 && !this.done) {
      this.done = true;
      await this.between();
    }
    return args.result;
  }
}
