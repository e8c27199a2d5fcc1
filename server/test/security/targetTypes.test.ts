import { describe, expect, it } from "vitest";
import { actionRules, type ActionName } from "../../../shared/actions.js";
import { commands } from "../../src/commands/registry.js";
import { databaseKinds } from "../support/databases.js";
import { act, auditCount, auditOf, useHarness, versionOf } from "../actions/harness.js";

describe("each action declares its target type", () => {
  it("every support command acts on the type its rule declares", () => {
    for (const [name, command] of commands) expect([name, command.targetType]).toEqual([name, actionRules[name as ActionName].target]);
  });
});

describe.each(databaseKinds)("targets are typed (%s)", (kind) => {
  const h = useHarness(kind);

  it("refuses a user action aimed at an account with 400, before any audit or change", async () => {
    const before = await auditCount(h.deps);
    const version = await versionOf(h.deps, { type: "user", id: "usr_demo_002_1" });
    // The account id of a user: typed as the account, the action must not reach the user either.
    const res = await act(h, "support_full", "user.lockout_clear", { target: { type: "account", id: "acc_demo_002" }, expectedVersion: version });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: "body.target.type", reason: 'must be "user" for user.lockout_clear' }]);
    const sameId = await act(h, "support_full", "user.lockout_clear", { target: { type: "account", id: "usr_demo_002_1" }, expectedVersion: version });
    expect(sameId.status).toBe(400);
    expect(await auditCount(h.deps)).toBe(before);
    expect(await versionOf(h.deps, { type: "user", id: "usr_demo_002_1" })).toBe(version);
  });

  it("refuses an account action aimed at a user", async () => {
    const before = await auditCount(h.deps);
    const res = await act(h, "support_full", "billing.credit_apply", { target: { type: "user", id: "acc_demo_003" }, expectedVersion: 1, input: { amountCents: 100 } });
    expect(res.status).toBe(400);
    expect(await auditCount(h.deps)).toBe(before);
  });

  it("a denied request with a wrong target type is 400 and writes no denial", async () => {
    const before = await auditCount(h.deps);
    const res = await act(h, "support_read_only", "user.block", { target: { type: "account", id: "acc_demo_004" }, expectedVersion: 1 });
    expect(res.status).toBe(400);
    expect(await auditCount(h.deps)).toBe(before);
  });

  it("a denial records the validated target, and no id when the given one is not valid", async () => {
    const ok = await act(h, "support_read_only", "user.block", { target: { type: "user", id: "usr_demo_004_1" }, expectedVersion: 1 });
    expect(ok.status).toBe(403);
    const [entry] = (await auditOf(h.deps, "user.block", "usr_demo_004_1")).filter((e) => e.outcome === "denied");
    expect(entry?.target).toEqual({ type: "user", id: "usr_demo_004_1", accountId: null });
    const longId = "u".repeat(150);
    const bad = await act(h, "support_read_only", "user.unblock", { target: { type: "user", id: longId }, expectedVersion: 1 });
    expect(bad.status).toBe(403);
    const denials = (await auditOf(h.deps, "user.unblock")).filter((e) => e.outcome === "denied");
    expect(denials.at(-1)?.target).toEqual({ type: "user", id: null, accountId: null });
  });
});
