import { describe, expect, it } from "vitest";
import { databaseKinds } from "../support/databases.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { act, confirmAndAct, preview, useHarness, versionOf, type Harness } from "./harness.js";

/**
 * account.activate resumes only the cancel its deactivation set. A cancellation the customer asked for
 * (before the deactivation, or while deactivated) stays, and the preview and result say so: resuming it
 * would bill them again. Built-in billing and Stripe (fake), both databases.
 */
const account = (id: string) => ({ type: "account" as const, id });

async function run(h: Harness, action: string, accountId: string, input: Record<string, unknown> = {}) {
  const destructive = action !== "account.activate";
  const res = destructive ? await confirmAndAct(h, "operations", action, { target: account(accountId), input }) : await act(h, "operations", action, { target: account(accountId), input });
  expect(res.status, `${action}: ${JSON.stringify(res.body)}`).toBe(200);
  return res;
}

for (const kind of databaseKinds) {
  for (const billing of ["builtin", "stripe"] as const) {
    describe(`account.activate and the customer's own cancellation (${kind}, ${billing} billing)`, () => {
      const fake = billing === "stripe" ? new StripeFake() : undefined;
      const h = useHarness(kind, fake ? { stripe: fake } : {});

      /** Whether the subscription is set to end, where billing lives. */
      async function endsAtPeriodEnd(accountId: string): Promise<boolean> {
        const subId = accountId.replace("acc_", "sub_");
        if (fake) return fake.subscriptions.get(subId)?.cancel_at_period_end ?? false;
        return (await h.deps.database.db.selectFrom("billing_subscriptions").select("cancel_at_period_end").where("id", "=", subId).executeTakeFirstOrThrow()).cancel_at_period_end;
      }

      it("resumes the cancel the deactivation set, and the hold records it with the subscription it saw", async () => {
        await run(h, "account.deactivate", "acc_demo_025");
        const hold = await h.deps.database.db.selectFrom("account_access_holds").selectAll().where("account_id", "=", "acc_demo_025").executeTakeFirstOrThrow();
        expect(hold.subscription_set_to_end).toBe("sub_demo_025");
        expect(hold.subscription_before).toMatchObject({ subscriptionId: "sub_demo_025", cancelAtPeriodEnd: false });
        const res = await run(h, "account.activate", "acc_demo_025");
        expect(res.body.result).toMatchObject({ subscriptionResumed: true, cancellationKept: false });
        expect(await endsAtPeriodEnd("acc_demo_025")).toBe(false);
      });

      it("keeps a cancellation the customer asked for before the deactivation, and says so in the preview and the result", async () => {
        await run(h, "billing.subscription_cancel", "acc_demo_018", { mode: "at_period_end" });
        await run(h, "account.deactivate", "acc_demo_018");
        const hold = await h.deps.database.db.selectFrom("account_access_holds").select("subscription_set_to_end").where("account_id", "=", "acc_demo_018").executeTakeFirstOrThrow();
        expect(hold.subscription_set_to_end).toBeNull();
        const shown = await preview(h, "operations", "account.activate", { target: account("acc_demo_018") });
        expect(shown.status, JSON.stringify(shown.body)).toBe(200);
        expect(shown.body.effects.warningPhrases.map((p: { code: string }) => p.code)).toContain("customer_cancel_kept");
        const res = await run(h, "account.activate", "acc_demo_018");
        expect(res.body.result).toMatchObject({ status: "active", subscriptionResumed: false, cancellationKept: true });
        expect(res.body.result.billing).toContain("set to end by the customer");
        expect(await endsAtPeriodEnd("acc_demo_018")).toBe(true);
      });

      it("keeps a cancellation the customer asks for while the account is deactivated", async () => {
        await run(h, "account.deactivate", "acc_demo_019");
        // Already ending for the deactivation: the cancel is accepted (not 409) and makes it the customer's.
        const shown = await preview(h, "operations", "billing.subscription_cancel", { target: account("acc_demo_019"), input: { mode: "at_period_end" } });
        expect(shown.status, JSON.stringify(shown.body)).toBe(200);
        expect(shown.body.effects.warningPhrases.map((p: { code: string }) => p.code)).toContain("cancel_outlasts_activation");
        await run(h, "billing.subscription_cancel", "acc_demo_019", { mode: "at_period_end" });
        const res = await run(h, "account.activate", "acc_demo_019");
        expect(res.body.result).toMatchObject({ subscriptionResumed: false, cancellationKept: true });
        expect(await endsAtPeriodEnd("acc_demo_019")).toBe(true);
      });

      it("two agents at once, one cancelling and one activating: the cancellation stands whichever goes first", async () => {
        await run(h, "account.deactivate", "acc_demo_021");
        const cancelToken = (await preview(h, "operations", "billing.subscription_cancel", { target: account("acc_demo_021"), input: { mode: "at_period_end" } })).body.confirmationToken as string;
        // Both agents saw the account as it was before either acted (read once: read per request, a slow start could see the other's change).
        const expectedVersion = await versionOf(h.deps, account("acc_demo_021"));
        const [cancelled, activated] = await Promise.all([
          act(h, "operations", "billing.subscription_cancel", { target: account("acc_demo_021"), input: { mode: "at_period_end" }, confirmationToken: cancelToken, expectedVersion }),
          act(h, "operations", "account.activate", { target: account("acc_demo_021"), expectedVersion }),
        ]);
        // The account lease runs them one after the other; the second finds the account changed and is refused.
        expect([cancelled.status, activated.status].sort()).toEqual([200, 409]);
        const refused = cancelled.status === 409 ? cancelled : activated;
        expect(["stale_version", "target_busy"], JSON.stringify(refused.body)).toContain(refused.body.code);
        // The agent whose action was refused reloads and tries again.
        if (cancelled.status !== 200) await run(h, "billing.subscription_cancel", "acc_demo_021", { mode: "at_period_end" });
        else expect((await run(h, "account.activate", "acc_demo_021")).body.result).toMatchObject({ subscriptionResumed: false, cancellationKept: true });
        expect(await endsAtPeriodEnd("acc_demo_021")).toBe(true);
        expect((await h.deps.database.db.selectFrom("accounts").select("status").where("id", "=", "acc_demo_021").executeTakeFirstOrThrow()).status).toBe("active");
      });
    });
  }
}
