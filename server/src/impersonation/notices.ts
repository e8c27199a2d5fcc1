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

/** What the agent did in the product, as the customer's end mail tells it: changes apart from views. */
export interface SessionActivity {
  /** Requests that change something (any method but GET, HEAD, OPTIONS) that succeeded. */
  changes: number;
  /** Pages and items looked at (GET, HEAD, OPTIONS), found or not. */
  views: number;
  /** Refused by the kit, or changes that did not succeed. */
  notDone: number;
}

/** Methods that only look, as the kit's read-only guard has them. */
const VIEW_METHODS = ["GET", "HEAD", "OPTIONS"];

/** Counted from the session's recorded events (inside the ending transaction). */
export async function sessionActivityOf(trx: Transaction<DB>, sessionId: string): Promise<SessionActivity> {
  const rows = await trx
    .selectFrom("impersonation_events")
    .select((eb) => ["method", "outcome", eb.fn.countAll<number | string>().as("n")])
    .where("session_id", "=", sessionId)
    .groupBy(["method", "outcome"])
    .execute();
  const activity: SessionActivity = { changes: 0, views: 0, notDone: 0 };
  for (const row of rows) {
    const n = Number(row.n);
    if (row.outcome === "refused") activity.notDone += n;
    else if (VIEW_METHODS.includes(row.method)) activity.views += n;
    else if (row.outcome === "succeeded") activity.changes += n;
    else activity.notDone += n;
  }
  return activity;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * A session's length in whole minutes, the one rounding both the customer's mail and the ticket's note use
 * (they once read "about 1 minute" and "0 min" for the same session). At least 1: a session did take place.
 */
export const sessionMinutes = (durationSeconds: number) => Math.max(1, Math.round(durationSeconds / 60));

export function sessionEndMail(row: SessionRow, customerName: string, summary: { durationSeconds: number } & SessionActivity): MailContent {
  const minutes = sessionMinutes(summary.durationSeconds);
  const viewed = `${plural(summary.views, "page or item was", "pages or items were")} viewed`;
  return {
    subject: `Our support team has finished viewing your account (ticket #${row.ticket_id})`,
    bodyText: [
      `Hello ${customerName},`,
      "",
      `The support session for ticket #${row.ticket_id} has ended. It lasted about ${plural(minutes, "minute", "minutes")}.`,
      summary.changes === 0 ? `No changes were made in your account; ${viewed}.` : `${plural(summary.changes, "change was", "changes were")} made in your account, and ${viewed}.`,
      ...(summary.notDone > 0 ? [`${plural(summary.notDone, "other attempt was", "other attempts were")} refused or did not succeed.`] : []),
      "",
      `Questions about what was done? Reply to ticket #${row.ticket_id}.`,
    ].join("\n"),
  };
}
