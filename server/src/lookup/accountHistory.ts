import { sql, type Kysely } from "kysely";
import { actionNames, ruleFor } from "../../../shared/actions.js";
import type { ActivityEvent, AuditLine } from "../../../shared/schemas/context.js";
import type { DB } from "../db/schema.js";

/** What happened to an account lately: the customer's own activity, and what support did to it. */

export const HISTORY_LIMIT = 10;

/** Reads (views, searches, exports) would crowd out the changes an agent needs to see. */
export const READ_ACTIONS = actionNames.filter((action) => ruleFor(action).kind === "read");

export async function loadRecentActivity(db: Kysely<DB>, accountId: string, limit = HISTORY_LIMIT): Promise<ActivityEvent[]> {
  const rows = await db
    .selectFrom("activity_events")
    .select(["type", "user_id", "detail", "ip", "occurred_at"])
    .select((eb) => eb.selectFrom("users").select("users.name").whereRef("users.id", "=", "activity_events.user_id").as("user_name"))
    .where("account_id", "=", accountId)
    .orderBy("occurred_at", "desc")
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  return rows.map(toActivityEvent);
}

/** A row of an account's audit part, as accountChangesSql reads it. */
export type AuditLineRow = { id: string; seq: number; occurred_at: Date; action: string; actor_email: string | null; actor_name: string | null; ticket_id: string | null; outcome: string; reason: string | null };

/**
 * An account's changes (every action but the reads), newest first: the one statement both the part reader
 * below and the one-statement context (builtinContext.ts) run. The reads are left out by a literal list so
 * the plan can use audit_log_account_changes_idx (migration 037), which holds only the account's changes:
 * lookups are most of an account's entries, and the account index read every one of them to find ten.
 */
export function accountChangesSql(accountId: string, limit: number) {
  return sql<AuditLineRow>`select id, seq, occurred_at, action, actor_email, (select name from staff where staff.id = audit_log.actor_staff_id) as actor_name, ticket_id, outcome, reason
     from audit_log where target_account_id = ${accountId}::text and action not in (${sql.join(READ_ACTIONS.map((action) => sql.lit(action)))})
     order by seq desc limit ${limit}`;
}

export async function loadAccountAuditLines(db: Kysely<DB>, accountId: string, limit = HISTORY_LIMIT): Promise<AuditLine[]> {
  const { rows } = await accountChangesSql(accountId, limit).execute(db);
  return rows.map(toAuditLine);
}

export function toActivityEvent(r: { type: string; user_id: string | null; user_name: string | null; detail: string | null; ip: string | null; occurred_at: Date }): ActivityEvent {
  return { type: r.type, userId: r.user_id, userName: r.user_name, detail: r.detail, ip: r.ip, at: r.occurred_at.toISOString() };
}

export function toAuditLine(r: AuditLineRow): AuditLine {
  return {
    id: r.id,
    seq: r.seq,
    occurredAt: r.occurred_at.toISOString(),
    action: r.action,
    actorEmail: r.actor_email,
    actorName: r.actor_name,
    ticketId: r.ticket_id,
    outcome: r.outcome,
    reason: r.reason,
  };
}
