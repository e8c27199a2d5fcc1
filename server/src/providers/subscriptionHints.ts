import type { Kysely } from "kysely";
import type { Clock } from "../clock.js";
import type { DB } from "../db/schema.js";

/**
 * Where the billing adapter keeps each customer's current subscription id between reads, shared by every
 * process on the database and kept across restarts (billing_subscription_hints, migration 036). A hint:
 * the adapter uses it only once the provider confirms it (stripeBilling.ts getBilling).
 */
export interface SubscriptionHintStore {
  /** The id kept for this customer; null when none is. */
  read(customerId: string): Promise<string | null>;
  /** Keeps `subscriptionId` as the customer's current one; null forgets it. */
  write(customerId: string, subscriptionId: string | null): Promise<void>;
}

export function databaseSubscriptionHints(db: Kysely<DB>, clock: Clock): SubscriptionHintStore {
  return {
    async read(customerId) {
      const row = await db.selectFrom("billing_subscription_hints").select("subscription_id").where("customer_id", "=", customerId).executeTakeFirst();
      return row?.subscription_id ?? null;
    },
    async write(customerId, subscriptionId) {
      if (subscriptionId === null) {
        await db.deleteFrom("billing_subscription_hints").where("customer_id", "=", customerId).execute();
        return;
      }
      const updatedAt = clock.now();
      // Two processes that read the same change both write it: the row is touched only when it differs.
      await db
        .insertInto("billing_subscription_hints")
        .values({ customer_id: customerId, subscription_id: subscriptionId, updated_at: updatedAt })
        .onConflict((oc) =>
          oc
            .column("customer_id")
            .doUpdateSet({ subscription_id: subscriptionId, updated_at: updatedAt })
            .where("billing_subscription_hints.subscription_id", "<>", subscriptionId),
        )
        .execute();
    },
  };
}
