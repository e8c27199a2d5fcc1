import { sql, type Kysely } from "kysely";
import type { DB } from "../../src/db/schema.js";

/**
 * Fills the audit log with `count` plain entries in one statement (for volume tests and the console
 * benchmark): 50 agents, 5,000 accounts, 40,000 tickets, one entry every `stepMs` from `start`. The
 * database stamps seq as for any append; there is no MAC (as for entries from before sealing).
 */
export async function fillAuditLog(db: Kysely<DB>, count: number, options: { start: Date; stepMs: number; offset?: number }): Promise<void> {
  const actions = ["user.suspend", "account.suspend", "billing.credit_apply", "context.view", "search.run", "user.password_reset", "seats.expand_temporarily"];
  const from = (options.offset ?? 0) + 1;
  await sql`
    insert into audit_log (id, occurred_at, actor_staff_id, actor_email, actor_role, action, target_type, target_id, target_account_id, ticket_id, reason, before, after, outcome, error)
    select gen_random_uuid(),
      ${options.start.toISOString()}::timestamptz + (i::bigint * ${options.stepMs}::bigint) * interval '1 millisecond',
      'stf_fill_' || (i % 50), 'agent' || (i % 50) || '@fill.test', 'support_full',
      (${sql.val(actions)}::text[])[1 + i % ${actions.length}],
      'account', 'acc_fill_' || (i % 5000), 'acc_fill_' || (i % 5000), (100000 + i % 40000)::text,
      'bulk entry ' || i,
      '{"status": "active", "seats": 3}'::jsonb,
      jsonb_build_object('status', 'suspended', 'seats', i % 10),
      case when i % 20 = 0 then 'failed' else 'succeeded' end,
      case when i % 20 = 0 then 'provider_unavailable' end
    from generate_series(${from}::int, ${from + count - 1}::int) as i`.execute(db);
}

/**
 * What a lead should find, scattered through a filled log (for the console benchmark): `clusters` bursts
 * of 25 lookups by one agent within 5 minutes, as many clusters of 4 denials within 30 minutes, and as
 * many capped credits at 95% of their cap. Sparse on purpose: a flag that is a small share of the log is
 * the case a page scanning the log for it handles worst.
 */
export async function fillFlagPatterns(db: Kysely<DB>, clusters: number, options: { start: Date; spanMs: number }): Promise<void> {
  const common = sql`'stf_fill_' || (c % 50), 'agent' || (c % 50) || '@fill.test', 'support_full'`;
  const at = sql`${options.start.toISOString()}::timestamptz + ((c::bigint * ${options.spanMs}::bigint) / ${clusters}::bigint) * interval '1 millisecond'`;
  await sql`
    insert into audit_log (id, occurred_at, actor_staff_id, actor_email, actor_role, action, target_type, target_id, target_account_id, ticket_id, reason, outcome)
    select gen_random_uuid(), ${at} + (k * 12) * interval '1 second', ${common},
      'context.view', 'user', 'usr_fill_' || c, 'acc_fill_' || (c % 5000), (100000 + c % 40000)::text, 'burst ' || c, 'succeeded'
    from generate_series(1, ${clusters}::int) as c, generate_series(1, 25) as k`.execute(db);
  await sql`
    insert into audit_log (id, occurred_at, actor_staff_id, actor_email, actor_role, action, target_type, target_id, target_account_id, ticket_id, reason, outcome, error)
    select gen_random_uuid(), ${at} + interval '1 hour' + (k * 7) * interval '1 minute', ${common},
      'user.delete', 'user', 'usr_fill_' || c, 'acc_fill_' || (c % 5000), (100000 + c % 40000)::text, 'denied ' || c, 'denied', 'forbidden: role too low'
    from generate_series(1, ${clusters}::int) as c, generate_series(1, 4) as k`.execute(db);
  await sql`
    insert into audit_log (id, occurred_at, actor_staff_id, actor_email, actor_role, action, target_type, target_id, target_account_id, ticket_id, reason, before, after, outcome)
    select gen_random_uuid(), ${at} + interval '2 hours', ${common},
      'billing.credit_apply', 'account', 'acc_fill_' || (c % 5000), 'acc_fill_' || (c % 5000), (100000 + c % 40000)::text, 'near cap ' || c,
      '{"cap": {"value": 4750, "limit": 5000, "unit": "cents"}}'::jsonb, '{"creditedCents": 4750}'::jsonb, 'succeeded'
    from generate_series(1, ${clusters}::int) as c`.execute(db);
}
