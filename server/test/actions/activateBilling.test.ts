import { describe, expect, it } from "vitest";
import { databaseKinds } from "../support/databases.js";
import { createStripeClient } from "../../src/providers/stripe/stripeClient.js";
import { StripeFake } from "../fakes/stripeFake.js";
import { act, auditOf, confirmAndAct, preview, useHarness, versionOf, type Harness } from "./harness.js";

/**
 * account.activate resumes only the cancel its deactivation set. A cancellation the customer asked for
 * (before the deactivation, or while deactivated) stays, and the preview and result say so: resuming it
 * would bill them again. Built-in billing and Stripe (fake), both databases. The same subscription set to end
 * again by the customer (renewed, then cancelled in Stripe's portal) is theirs too: the cancellation was asked for
 * later than the one the deactivation recorded.
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

      /** When billing says the subscription's cancellation was asked for (Stripe's canceled_at), as an instant. */
      async function cancelRequestedAt(accountId: string): Promise<number | null> {
        const subId = accountId.replace("acc_", "sub_");
        if (fake) {
          const at = fake.subscriptions.get(subId)?.canceled_at ?? null;
          return at === null ? null : at * 1000;
        }
        const row = await h.deps.database.db.selectFrom("billing_subscriptions").select("canceled_at").where("id", "=", subId).executeTakeFirstOrThrow();
        return row.canceled_at === null ? null : new Date(row.canceled_at).getTime();
      }

      /**
       * The customer, while deactivated, renews and then cancels again themselves, a minute later: through Stripe
       * (the portal's own API calls, with the SDK), or, built in, as the product writes its billing tables.
       */
      async function customerRenewsAndCancels(accountId: string): Promise<void> {
        const subId = accountId.replace("acc_", "sub_");
        if (fake) {
          const stripe = createStripeClient({ secretKey: fake.secretKey, baseUrl: `${fake.url}${fake.mountPath}`, timeoutMs: 5_000 });
          await stripe.subscriptions.update(subId, { cancel_at_period_end: false });
          fake.advanceClock(60_000);
          await stripe.subscriptions.update(subId, { cancel_at_period_end: true });
          return;
        }
        const db = h.deps.database.db;
        await db.updateTable("billing_subscriptions").set({ cancel_at_period_end: false, canceled_at: null }).where("id", "=", subId).execute();
        await db
          .updateTable("billing_subscriptions")
          .set({ cancel_at_period_end: true, canceled_at: new Date(h.deps.clock.now().getTime() + 60_000) })
          .where("id", "=", subId)
          .execute();
      }

      it("resumes the cancel the deactivation set, and the hold records it with the subscription it saw", async () => {
        await run(h, "account.deactivate", "acc_demo_025");
        const hold = await h.deps.database.db.selectFrom("account_access_holds").selectAll().where("account_id", "=", "acc_demo_025").executeTakeFirstOrThrow();
        expect(hold.subscription_set_to_end).toBe("sub_demo_025");
        expect(hold.subscription_before).toMatchObject({ subscriptionId: "sub_demo_025", cancelAtPeriodEnd: false });
        // The time billing gives the deactivation's own request to end it.
        expect(hold.subscription_cancel_requested_at).not.toBeNull();
        expect(new Date(hold.subscription_cancel_requested_at as Date).getTime()).toBe(await cancelRequestedAt("acc_demo_025"));
        const res = await run(h, "account.activate", "acc_demo_025");
        expect(res.body.result).toMatchObject({ subscriptionResumed: true, cancellationKept: false });
        expect(await endsAtPeriodEnd("acc_demo_025")).toBe(false);
        expect(await cancelRequestedAt("acc_demo_025")).toBeNull();
      });

      it("keeps the cancellation the customer made again on the same subscription (renewed, then cancelled) while deactivated", async () => {
        await run(h, "account.deactivate", "acc_demo_026");
        await customerRenewsAndCancels("acc_demo_026");
        expect(await endsAtPeriodEnd("acc_demo_026")).toBe(true);
        // billing.subscription_cancel sees it as the customer's too: already set to end, nothing left to hand over.
        const cancel = await preview(h, "operations", "billing.subscription_cancel", { target: account("acc_demo_026"), input: { mode: "at_period_end" } });
        expect(cancel.status, JSON.stringify(cancel.body)).toBe(409);
        const shown = await preview(h, "operations", "account.activate", { target: account("acc_demo_026") });
        expect(shown.status, JSON.stringify(shown.body)).toBe(200);
        const codes = shown.body.effects.warningPhrases.map((p: { code: string }) => p.code);
        expect(codes).toContain("customer_cancel_kept");
        expect(codes).not.toContain("subscription_resumes_invoice");
        const res = await run(h, "account.activate", "acc_demo_026");
        expect(res.body.result).toMatchObject({ status: "active", subscriptionResumed: false, cancellationKept: true });
        expect(res.body.result.billing).toContain("set to end by the customer, not by the deactivation");
        expect(await endsAtPeriodEnd("acc_demo_026")).toBe(true);
        const [entry] = (await auditOf(h.deps, "account.activate", "acc_demo_026")).filter((e) => e.outcome === "succeeded");
        expect(entry?.after).toMatchObject({ subscriptionResumed: false, cancellationKept: true, subscription: { subscriptionId: "sub_demo_026", cancelAtPeriodEnd: true } });
      });

      it("a hold recorded before the cancellation's time was kept resumes by the subscription id, as before", async () => {
        await run(h, "account.deactivate", "acc_demo_028");
        await h.deps.database.db.updateTable("account_access_holds").set({ subscription_cancel_requested_at: null }).where("account_id", "=", "acc_demo_028").execute();
        const res = await run(h, "account.activate", "acc_demo_028");
        expect(res.body.result).toMatchObject({ subscriptionResumed: true, cancellationKept: false });
        expect(await endsAtPeriodEnd("acc_demo_028")).toBe(false);
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
