import type { Insertable, Selectable } from "kysely";
import type { AuditEntry, AuditSeal, TargetType } from "../../../shared/audit.js";
import type { PanelRole } from "../../../shared/roles.js";
import type { AuditLogTable, AuditSealTable } from "../db/schema.js";
import type { EntryContent } from "./auditHash.js";

export type AuditRow = Selectable<AuditLogTable>;
export type AuditSealRow = Selectable<AuditSealTable>;

export function toAuditSeal(row: AuditSealRow): AuditSeal {
  return { chainSeq: row.chain_seq, entryHash: row.entry_hash, prevHash: row.prev_hash, hash: row.hash };
}

/** Column values → the entry, not sealed; values are taken as stored (a tampered one then fails its MAC or seal). */
export function toAuditEntry(row: AuditRow): AuditEntry {
  return toSealedAuditEntry(row, null);
}

export function toSealedAuditEntry(row: AuditRow, seal: AuditSeal | null): AuditEntry {
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
    ticketSnapshot: (row.ticket_snapshot ?? null) as AuditEntry["ticketSnapshot"],
    approval: (row.approval ?? null) as AuditEntry["approval"],
    mac: row.mac,
    seal,
  };
}

/** seq and tx are not here: the database stamps them. */
export function toAuditRow(content: EntryContent, mac: string): Insertable<AuditLogTable> {
  return {
    id: content.id,
    occurred_at: content.occurredAt,
    actor_staff_id: content.actor.staffId,
    actor_zendesk_user_id: content.actor.zendeskUserId,
    actor_email: content.actor.email,
    actor_role: content.actor.panelRole,
    actor_system: content.actor.system,
    action: content.action,
    target_type: content.target.type,
    target_id: content.target.id,
    target_account_id: content.target.accountId,
    ticket_id: content.ticketId,
    reason: content.reason,
    before: content.before === null ? null : JSON.stringify(content.before),
    after: content.after === null ? null : JSON.stringify(content.after),
    outcome: content.outcome,
    error: content.error,
    request_id: content.requestId,
    operation_id: content.operationId,
    ticket_snapshot: content.ticketSnapshot ? JSON.stringify(content.ticketSnapshot) : null,
    approval: content.approval ? JSON.stringify(content.approval) : null,
    mac,
  };
}
