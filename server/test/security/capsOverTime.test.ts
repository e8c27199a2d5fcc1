import request from "supertest";
import { beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { act, auditOf, sessionOf, useHarness } from "../actions/harness.js";
import { databaseKinds } from "../support/databases.js";

/** Caps hold per agent per target and per agent per day (rolling 24 h), under concurrency too. */
describe.each(databaseKinds)("caps over time on %s", (kind) => {
  const h = useHarness(kind);
  const account = (id: string) => ({ type: "account" as const, id });
  // Each test on its own targets, and past the 24 h windows of the tests before it: none counts what another used.
  beforeEach(() => {
    h.deps.clock.advance(25 * 60 * 60 * 1000);
  });

  it("5 parallel $50 credits against a $50 cap: exactly one succeeds", async () => {
    // An active account: billing writes on a deactivated one (acc_demo_005) are refused as account_closed.
    const calls = await Promise.all(Array.from({ length: 5 }, () => act(h, "support_full", "billing.credit_apply", { target: account("acc_demo_006"), input: { amountCents: 5_000 } })));
    const statuses = calls.map((c) => c.status);
    // Parallel winners-to-be also race on the target's version (409); what matters is one success and no cap breach.
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    const refused = calls.find((c) => c.status === 403);
    expect(refused?.body).toMatchObject({ code: "over_cap", window: "target", cap: { limit: 5_000, used: 5_000, left: 0 }, canGoFurther: ["operations", "admin"] });
    expect(refused?.body.detail).toMatch(/0 cents left.*operations or admin can go further/);
    const credits = (await auditOf(h.deps, "billing.credit_apply", "acc_demo_006")).filter((e) => e.outcome === "succeeded");
    expect(credits).toHaveLength(1);
  });

  it("sequential requests cannot split the cap either; a failed action gives its reservation back", async () => {
    const trialing = account("acc_demo_002");
    const extended = await act(h, "support_full", "billing.trial_extend", { target: trialing, input: { days: 10 } });
    expect(extended.status, JSON.stringify(extended.body)).toBe(200);
    const first = await act(h, "support_full", "billing.trial_extend", { target: trialing, input: { days: 10 } });
    expect([first.status, first.body.window, first.body.cap?.left]).toEqual([403, "target", 4]);
    // A stale version fails the action after the reservation: the days are given back.
    const stale = await act(h, "support_full", "seats.expand_temporarily", { target: account("acc_demo_007"), input: { seats: 5, days: 7 }, expectedVersion: 999 });
    expect(stale.status).toBe(409);
    expect((await act(h, "support_full", "seats.expand_temporarily", { target: account("acc_demo_007"), input: { seats: 5, days: 7 } })).status).toBe(200);
    const more = await act(h, "support_full", "seats.expand_temporarily", { target: account("acc_demo_007"), input: { seats: 1, days: 7 } });
    expect([more.status, more.body.window]).toEqual([403, "target"]);
  });

  it("holds per day across targets, frees up after 24 h, and follows admin overrides", async () => {
    const admin = await sessionOf(h, "admin");
    const put = await request(h.app)
      .put("/api/caps")
      .set("Authorization", `Bearer ${admin}`)
      .send({ reason: "Holiday season: smaller daily credit budget", changes: [{ action: "billing.credit_apply", role: "support_full", limit: 6_000, scope: "day" }] });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    onTestFinished(async () => {
      const back = await request(h.app)
        .put("/api/caps")
        .set("Authorization", `Bearer ${await sessionOf(h, "admin")}`)
        .send({ reason: "Holiday season over", changes: [{ action: "billing.credit_apply", role: "support_full", limit: 20_000, scope: "day" }] });
      expect(back.status, JSON.stringify(back.body)).toBe(200);
    });
    const credit = put.body.caps.find((c: { action: string }) => c.action === "billing.credit_apply");
    expect(credit.perDay).toEqual({ limits: { support_read_only: null, support_full: 6_000, operations: 500_000, admin: 500_000 }, defaults: { support_read_only: null, support_full: 20_000, operations: 500_000, admin: 500_000 } });

    // 5,000 used on one target: 1,000 left today in all.
    expect((await act(h, "support_full", "billing.credit_apply", { target: account("acc_demo_001"), input: { amountCents: 5_000 } })).status).toBe(200);
    expect((await act(h, "support_full", "billing.credit_apply", { target: account("acc_demo_008"), input: { amountCents: 1_000 } })).status).toBe(200);
    const over = await act(h, "support_full", "billing.credit_apply", { target: account("acc_demo_009"), input: { amountCents: 100 } });
    expect(over.body).toMatchObject({ code: "over_cap", window: "day", cap: { limit: 6_000, used: 6_000, left: 0 } });
    const denied = (await auditOf(h.deps, "billing.credit_apply", "acc_demo_009")).filter((e) => e.outcome === "denied");
    expect(denied).toHaveLength(1);
    // Another agent has a budget of their own.
    expect((await act(h, "operations", "billing.credit_apply", { target: account("acc_demo_009"), input: { amountCents: 100 } })).status).toBe(200);

    h.deps.clock.advance(24 * 60 * 60 * 1000 + 1_000);
    expect((await act(h, "support_full", "billing.credit_apply", { target: account("acc_demo_009"), input: { amountCents: 100 } })).status).toBe(200);
  });
});
