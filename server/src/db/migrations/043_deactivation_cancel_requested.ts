import { sql, type Kysely } from "kysely";

/**
 * subscription_cancel_requested_at: when the provider says the cancellation this deactivation set was asked for
 * (Stripe's canceled_at). The customer can renew and cancel again in Stripe's portal while deactivated: same
 * subscription, later time; that cancellation is theirs, so account.activate resumes only at this time. Holds
 * from before this migration have null and are resumed by subscription id alone, as before.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table account_access_holds add column subscription_cancel_requested_at timestamptz`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table account_access_holds drop column if exists subscription_cancel_requested_at`.execute(db);
}
