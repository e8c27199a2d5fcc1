import { sql, type Kysely } from "kysely";

/**
 * The billing provider's customer → the id of its current subscription when last read. Stripe previews
 * the next invoice only for a named subscription, so a customer whose subscription id is not known costs
 * two rounds of calls (list, then preview); known, the preview is asked beside the list. Kept here rather
 * than in one process's memory so every process, and a restarted one, starts with it. A hint only: it is
 * used when the list confirms it, so a stale row costs one extra round, never a wrong answer.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table billing_subscription_hints (
    customer_id text primary key,
    subscription_id text not null,
    updated_at timestamptz not null
  )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists billing_subscription_hints`.execute(db);
}
