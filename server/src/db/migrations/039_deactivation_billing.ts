import { sql, type Kysely } from "kysely";

/**
 * What a deactivation did to billing, kept on its hold so account.activate undoes only that:
 * - subscription_set_to_end: the subscription the deactivation itself set to end at the period end;
 *   null when it set nothing (no live subscription, or one already set to end by the customer) and
 *   cleared when the customer cancels it themselves while deactivated. Holds from before this
 *   migration have null: who set their cancel is unknown, so activation leaves it in place.
 * - subscription_before: the billing snapshot the deactivation worked from (null without a customer).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table account_access_holds add column subscription_set_to_end text`.execute(db);
  await sql`alter table account_access_holds add column subscription_before jsonb`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table account_access_holds drop column if exists subscription_before`.execute(db);
  await sql`alter table account_access_holds drop column if exists subscription_set_to_end`.execute(db);
}
