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
