import type { Insertable, Selectable } from "kysely";
import type { AuditEntry, TargetType } from "../../../shared/audit.js";
import type { PanelRole } from "../../../shared/roles.js";
import type { AuditLogTable } from "../db/schema.js";

export type AuditRow = Selectable<AuditLogTable>;

/** Column values → the entry as it was hashed; values are taken as stored (a tampered one then fails the hash check). */
export function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    seq: row.seq,
    occurredAt: row.occurred_at.toISOString(),
    actor: {
      staffId: row.actor_staff_id,
      zendeskUserId: row.actor_zendesk_user_id,
      email: row.actor_email,
      panelRole: row.actor_role as PanelRole | null,
      system: row.actor_system,
    },
    action: row.action as AuditEntry["action"],
    target: { type: row.target_type as TargetType, id: row.target_id, accountId: row.target_account_id },
    ticketId: row.ticket_id,
    reason: row.reason,
    before: row.before ?? null,
    after: row.after ?? null,
    outcome: row.outcome,
    error: row.error,
    requestId: row.request_id,
    operationId: row.operation_id,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export function toAuditRow(entry: AuditEntry): Insertable<AuditLogTable> {
  return {
    id: entry.id,
    seq: entry.seq,
    occurred_at: entry.occurredAt,
    actor_staff_id: entry.actor.staffId,
    actor_zendesk_user_id: entry.actor.zendeskUserId,
    actor_email: entry.actor.email,
    actor_role: entry.actor.panelRole,
    actor_system: entry.actor.system,
    action: entry.action,
    target_type: entry.target.type,
    target_id: entry.target.id,
    target_account_id: entry.target.accountId,
    ticket_id: entry.ticketId,
    reason: entry.reason,
    before: entry.before === null ? null : JSON.stringify(entry.before),
    after: entry.after === null ? null : JSON.stringify(entry.after),
    outcome: entry.outcome,
    error: entry.error,
    request_id: entry.requestId,
    operation_id: entry.operationId,
    prev_hash: entry.prevHash,
    hash: entry.hash,
  };
}

