import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { systemActor } from "../actor.js";
import { appendAudit, type AuditInput } from "../audit/auditLog.js";
import type { AppDeps } from "../deps.js";
import { openMailSecrets, redactSecrets, renderMailBody } from "./mailSecrets.js";
import type { OutboxRow } from "./outbox.js";
import { createMailTransport, type MailTransport } from "./transport.js";

/**
 * Sends due mail from the outbox, one mail per claim. A mail is claimed (attempts + 1, a lease token,
 * next_attempt_at = lease end, renewed while sending) in a short transaction, sent outside it with a
 * Message-ID fixed for the mail, then settled with its `mail.deliver` audit entry in another: sent,
 * held (no SMTP), queued again with backoff, or failed for good after MAIL_MAX_ATTEMPTS.
 *
 * A crash loses at most the one mail in hand, for one lease. Claiming a mail whose previous attempt
 * never settled audits that attempt as `unknown` (the SMTP server may have accepted it with the ack
 * lost), so the one possible duplicate — same Message-ID — is on the record.
 */
export const MAIL_MAX_ATTEMPTS = 6;
export const MAILER = systemActor("mailer");

type DeliveryDeps = Pick<AppDeps, "config" | "database" | "clock" | "logger">;

/** 30 s, 1 min, 2 min… capped at one hour. */
export function retryDelayMs(attempt: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempt - 1), 3_600_000);
}

export interface DeliveryReport {
  sent: number;
  held: number;
  retrying: number;
  failed: number;
}

type Settlement =
  | { status: "sent" }
  | { status: "held"; note: string; audited: "succeeded" | "failed" }
  /** `unknown`: the connection broke without the server's answer, so it may have accepted the mail. */
  | { status: "queued" | "failed"; error: string; outcome: "failed" | "unknown" };

/** The same for every attempt of one mail, so a receiving server or client can drop a duplicate. */
export function messageIdFor(mailId: string, from: string): string {
  const domain = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? "steward.invalid";
  return `<${mailId}@${domain}>`;
}

const auditTarget = (row: OutboxRow) =>
  row.user_id ? { type: "user" as const, id: row.user_id, accountId: row.account_id } : { type: "system" as const, id: row.id, accountId: row.account_id };

/** Claims the oldest due mail with a fresh lease; its previous attempt, if never settled, is audited as unknown. */
async function claimNext(deps: DeliveryDeps): Promise<OutboxRow | undefined> {
  const now = deps.clock.now();
  const token = randomUUID();
  return deps.database.db.transaction().execute(async (trx) => {
    const due = await trx
      .selectFrom("mail_outbox")
      .select(["id", "lease_token", "attempts"])
      .where("status", "=", "queued")
      .where("next_attempt_at", "<=", now)
      .orderBy("next_attempt_at")
      .limit(1)
      .forUpdate()
      .skipLocked()
      .executeTakeFirst();
    if (!due) return undefined;
    const row = await trx
      .updateTable("mail_outbox")
      .set({ attempts: sql`attempts + 1`, next_attempt_at: new Date(now.getTime() + deps.config.MAIL_LEASE_MS), lease_token: token })
      .where("id", "=", due.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (due.lease_token) {
      await appendAudit(
        trx,
        deliveryEntry(row, due.attempts, {
          after: {
            status: "interrupted",
            note: "the attempt ended without a recorded result (process stopped or crashed); the SMTP server may have accepted it. Sending again with the same Message-ID",
            messageId: messageIdFor(row.id, deps.config.MAIL_FROM),
          },
          outcome: "unknown",
          error: "delivery attempt interrupted before its result was recorded",
        }),
        deps.clock,
      );
    }
    return row;
  });
}

/** Keeps the lease while a slow SMTP exchange runs, so no other loop sends the same mail meanwhile. */
function holdLease(row: OutboxRow, deps: DeliveryDeps): () => void {
  const every = Math.max(Math.floor(deps.config.MAIL_LEASE_MS / 3), 50);
  const timer = setInterval(() => {
    deps.database.db
      .updateTable("mail_outbox")
      .set({ next_attempt_at: new Date(deps.clock.now().getTime() + deps.config.MAIL_LEASE_MS) })
      .where("id", "=", row.id)
      .where("lease_token", "=", row.lease_token)
      .execute()
      .catch((err: unknown) => deps.logger.warn({ err, mailId: row.id }, "could not renew the mail lease"));
  }, every);
  timer.unref();
  return () => clearInterval(timer);
}

async function attempt(row: OutboxRow, transport: MailTransport | null, deps: DeliveryDeps): Promise<Settlement> {
  if (!transport) {
    // Demo mode keeps mail for the local Zendesk page; in production a missing SMTP_URL is a fault.
    return deps.config.demo
      ? { status: "held", note: "kept in the demo outbox (no SMTP_URL)", audited: "succeeded" }
      : { status: "held", note: "no SMTP_URL configured", audited: "failed" };
  }
  const release = holdLease(row, deps);
  let secrets: Record<string, string> | null = null;
  try {
    // Opened only here, to send; a key that cannot open it is a configuration fault, retried like any other.
    secrets = row.secret_sealed ? openMailSecrets(deps.config, row.secret_sealed) : null;
    await transport.send({ from: deps.config.MAIL_FROM, to: row.to_address, subject: row.subject, text: renderMailBody(row.body_text, secrets), messageId: messageIdFor(row.id, deps.config.MAIL_FROM) });
    return { status: "sent" };
  } catch (err) {
    const error = redactSecrets(err instanceof Error ? err.message : String(err), secrets);
    // A reply code is the server's answer (refused); without one the connection broke and the mail may be in.
    const answered = typeof (err as { responseCode?: unknown }).responseCode === "number";
    return { status: row.attempts >= MAIL_MAX_ATTEMPTS ? "failed" : "queued", error: error.slice(0, 500), outcome: answered ? "failed" : "unknown" };
  } finally {
    release();
  }
}

async function settle(row: OutboxRow, result: Settlement, deps: DeliveryDeps): Promise<void> {
  const now = deps.clock.now();
  const error = result.status === "sent" ? null : result.status === "held" ? (result.audited === "failed" ? result.note : null) : result.error;
  await deps.database.db.transaction().execute(async (trx) => {
    // Only the attempt that still holds the lease settles the row; one that lost it (stalled past the
    // lease) records its result in the audit log only, and the new holder's claim audits the overlap.
    await trx
      .updateTable("mail_outbox")
      .set({
        status: result.status,
        last_error: error,
        sent_at: result.status === "sent" ? now : null,
        // Delivered (or never going to be): the sealed secret has no further use and is erased.
        ...(result.status === "queued" ? {} : { secret_sealed: null }),
        next_attempt_at: result.status === "queued" ? new Date(now.getTime() + retryDelayMs(row.attempts)) : now,
        lease_token: null,
      })
      .where("id", "=", row.id)
      .where("lease_token", "=", row.lease_token)
      .execute();
    await appendAudit(
      trx,
      deliveryEntry(row, row.attempts, {
        after: {
          status: result.status,
          ...(transportUsed(result) ? { messageId: messageIdFor(row.id, deps.config.MAIL_FROM) } : {}),
          ...(result.status === "queued" ? { nextAttemptAt: new Date(now.getTime() + retryDelayMs(row.attempts)).toISOString() } : {}),
          ...(result.status === "held" ? { note: result.note } : {}),
        },
        outcome: result.status === "sent" ? "succeeded" : result.status === "held" ? result.audited : result.outcome,
        error,
      }),
      deps.clock,
    );
  });
}

const transportUsed = (result: Settlement) => result.status !== "held";

/** One `mail.deliver` entry: which mail and attempt, then what this attempt came to. */
function deliveryEntry(row: OutboxRow, attempt: number, result: { after: Record<string, unknown>; outcome: AuditInput["outcome"]; error: string | null }): AuditInput {
  return {
    actor: MAILER,
    action: "mail.deliver",
    target: auditTarget(row),
    ticketId: row.ticket_id,
    reason: `${row.kind} mail`,
    after: { mailId: row.id, kind: row.kind, to: row.to_address, attempt, ...result.after, queuedByOperation: row.operation_id },
    outcome: result.outcome,
    error: result.error,
  };
}

/**
 * One pass: delivers mail until none is due (tests call it directly). Without `transport`, one is
 * built from SMTP_URL. `stopping` ends the pass between mails (shutdown).
 */
export async function deliverDueMail(
  deps: DeliveryDeps,
  options: { transport?: MailTransport | null; stopping?: () => boolean } = {},
): Promise<DeliveryReport> {
  const transport = options.transport !== undefined ? options.transport : createMailTransport(deps.config);
  const report: DeliveryReport = { sent: 0, held: 0, retrying: 0, failed: 0 };
  try {
    while (!options.stopping?.()) {
      const row = await claimNext(deps);
      if (!row) return report;
      const result = await attempt(row, transport, deps);
      await settle(row, result, deps);
      if (result.status === "queued") {
        report.retrying++;
        deps.logger.warn({ mailId: row.id, attempt: row.attempts, error: result.error }, "mail delivery failed; will retry");
      } else if (result.status === "failed") {
        report.failed++;
        deps.logger.error({ mailId: row.id, attempts: row.attempts, error: result.error }, "mail delivery failed for good");
      } else report[result.status]++;
    }
    return report;
  } finally {
    if (options.transport === undefined) transport?.close();
  }
}

export interface MailDeliveryLoop {
  stop(): Promise<void>;
}

/** Runs `deliverDueMail` every MAIL_POLL_MS until stopped; a failing pass is logged and the loop goes on. */
export function startMailDelivery(deps: DeliveryDeps, options: { intervalMs?: number } = {}): MailDeliveryLoop {
  const transport = createMailTransport(deps.config);
  // Said once at start: otherwise the first sign is a customer whose reset link never came.
  if (!transport && !deps.config.demo) deps.logger.warn("SMTP_URL is not set: customer mail (password reset links, impersonation notices) stays in the outbox unsent, each one audited as failed");
  const intervalMs = options.intervalMs ?? deps.config.MAIL_POLL_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = deliverDueMail(deps, { transport, stopping: () => stopped })
      .then(() => undefined)
      .catch((err: unknown) => deps.logger.error({ err }, "mail delivery pass failed"))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs).unref();
      });
  };
  timer = setTimeout(tick, 0).unref();
  return {
    /** Stops between mails; the one in hand finishes (its lease covers it if the process dies first). */
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      transport?.close();
    },
  };
}
