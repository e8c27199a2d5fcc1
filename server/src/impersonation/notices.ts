import type { Kysely, Transaction } from "kysely";
import type { Actor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import type { DB } from "../db/schema.js";
import type { MailContent } from "../mail/templates.js";
import type { SessionRow } from "./sessions.js";

/**
 * The customer is told when staff view their account (start) and what happened (end). Admins may
 * turn this off; the setting lives in `steward_settings` and every change is audited.
 */
const KEY = "impersonation.customer_notices";

export async function customerNoticesOn(db: Kysely<DB> | Transaction<DB>): Promise<boolean> {
  const row = await db.selectFrom("steward_settings").select("value").where("key", "=", KEY).executeTakeFirst();
  const value = typeof row?.value === "string" ? (JSON.parse(row.value) as unknown) : row?.value;
  return value !== false;
}

export async function setCustomerNotices(db: Kysely<DB>, clock: Clock, change: { actor: Actor; on: boolean; reason: string }): Promise<{ customerNotices: boolean; changed: boolean }> {
  return db.transaction().execute(async (trx) => {
    await trx.selectFrom("steward_settings").select("key").where("key", "=", KEY).forUpdate().executeTakeFirst();
    const before = await customerNoticesOn(trx);
    const now = clock.now();
    await trx
      .insertInto("steward_settings")
      .values({ key: KEY, value: JSON.stringify(change.on), updated_at: now, updated_by: change.actor.kind === "staff" ? change.actor.staffId : `system:${change.actor.component}` })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value: JSON.stringify(change.on), updated_at: now }))
      .execute();
    await appendAudit(
      trx,
      { actor: change.actor, action: "impersonation.notices_change", target: { type: "system", id: KEY, accountId: null }, ticketId: null, reason: change.reason, before: { customerNotices: before }, after: { customerNotices: change.on }, outcome: "succeeded" },
      clock,
    );
    return { customerNotices: change.on, changed: before !== change.on };
  });
}

function agentWord(row: SessionRow, config: Config): string {
  const first = row.agent_name?.trim().split(/\s+/)[0];
  return config.IMPERSONATION_NOTICE_AGENT === "first_name" && first ? `${first}, a member of our support team,` : "a support agent";
}

const MODE_TEXT = { read_only: "view only: they cannot change anything", full: "full access: they can make changes on your behalf" } as const;

export function sessionStartMail(row: SessionRow, customerName: string, config: Config): MailContent {
  return {
    subject: `Our support team is viewing your account (ticket #${row.ticket_id})`,
    bodyText: [
      `Hello ${customerName},`,
      "",
      `To help with your support ticket #${row.ticket_id}, ${agentWord(row, config)} has started viewing your account as you see it.`,
      "",
      `Access: ${MODE_TEXT[row.mode]}.`,
      `Until: ${new Date(row.absolute_deadline).toUTCString()} at the latest (sooner if they stop or are idle).`,
      "",
      `If you did not expect this or want it to stop, reply to ticket #${row.ticket_id} and we will end it and explain.`,
    ].join("\n"),
  };
}

export function sessionEndMail(row: SessionRow, customerName: string, summary: { durationSeconds: number; actionCount: number }): MailContent {
  const minutes = Math.max(1, Math.round(summary.durationSeconds / 60));
  return {
    subject: `Our support team has finished viewing your account (ticket #${row.ticket_id})`,
    bodyText: [
      `Hello ${customerName},`,
      "",
      `The support session for ticket #${row.ticket_id} has ended.`,
      `It lasted about ${minutes} minute${minutes === 1 ? "" : "s"}, with ${summary.actionCount} action${summary.actionCount === 1 ? "" : "s"} recorded in your account.`,
      "",
      `Questions about what was done? Reply to ticket #${row.ticket_id}.`,
    ].join("\n"),
  };
}
