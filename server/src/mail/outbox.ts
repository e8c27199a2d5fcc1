import { randomUUID } from "node:crypto";
import type { Kysely, Selectable, Transaction } from "kysely";
import type { OutboxMail } from "../../../shared/schemas/mail.js";
import type { DB, MailOutboxTable } from "../db/schema.js";
import { renderMailBody } from "./mailSecrets.js";

/**
 * The one way customer-facing mail leaves Steward: written to `mail_outbox` inside the action's
 * transaction (so mail exists exactly when the action committed), then sent by the delivery loop.
 */
export type OutboxRow = Selectable<MailOutboxTable>;

export interface MailToSend {
  to: string;
  subject: string;
  bodyText: string;
  /** What the mail is, e.g. "password_reset" or "impersonation_notice". */
  kind: string;
  accountId: string | null;
  userId: string | null;
  /** The ticket of the action that queued it; the delivery audit entries carry it. */
  ticketId: string | null;
  operationId: string | null;
  /** Bearer secrets the body names by placeholder, sealed with sealMailSecrets (never stored in the clear). */
  secretSealed?: string | null;
}

export async function enqueueMail(trx: Kysely<DB> | Transaction<DB>, mail: MailToSend, now: Date): Promise<{ id: string }> {
  const id = `mail_${randomUUID()}`;
  await trx
    .insertInto("mail_outbox")
    .values({
      id,
      to_address: mail.to,
      subject: mail.subject,
      body_text: mail.bodyText,
      kind: mail.kind,
      account_id: mail.accountId,
      user_id: mail.userId,
      ticket_id: mail.ticketId,
      operation_id: mail.operationId,
      status: "queued",
      next_attempt_at: now,
      last_error: null,
      created_at: now,
      sent_at: null,
      secret_sealed: mail.secretSealed ?? null,
    })
    .execute();
  return { id };
}

export function toOutboxMail(row: OutboxRow): OutboxMail {
  return {
    id: row.id,
    kind: row.kind,
    to: row.to_address,
    subject: row.subject,
    // Shown, never sent from here: bearer secrets stay withheld.
    bodyText: renderMailBody(row.body_text, null),
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    accountId: row.account_id,
    userId: row.user_id,
    ticketId: row.ticket_id,
    createdAt: row.created_at.toISOString(),
    sentAt: row.sent_at ? row.sent_at.toISOString() : null,
  };
}

/** Newest first, for the demo outbox page. */
export async function listOutbox(db: Kysely<DB>, limit = 50): Promise<OutboxMail[]> {
  const rows = await db.selectFrom("mail_outbox").selectAll().orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
  return rows.map(toOutboxMail);
}
