import { sql } from "kysely";
import { systemActor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import type { AppDeps } from "../deps.js";
import { openMailSecrets, redactSecrets, renderMailBody } from "./mailSecrets.js";
import type { OutboxRow } from "./outbox.js";
import { createMailTransport, type MailTransport } from "./transport.js";

/**
 * Sends due mail from the outbox. A row is claimed (attempts + 1, a lease on next_attempt_at) in a
 * short transaction, sent outside it, then settled with its `mail.deliver` audit entry in another:
 * sent, held (no SMTP), queued again with backoff, or failed for good after MAIL_MAX_ATTEMPTS.
 */
export const MAIL_MAX_ATTEMPTS = 6;
/** A claimed row is invisible to other loops this long; a crash mid-send makes it due again after it. */
const CLAIM_LEASE_MS = 5 * 60_000;
const BATCH = 20;
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
  | { status: "queued" | "failed"; error: string };

async function claimDue(deps: DeliveryDeps, limit: number): Promise<OutboxRow[]> {
  const now = deps.clock.now();
  return deps.database.db.transaction().execute(async (trx) => {
    const due = await trx
      .selectFrom("mail_outbox")
      .select("id")
      .where("status", "=", "queued")
      .where("next_attempt_at", "<=", now)
      .orderBy("next_attempt_at")
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    if (due.length === 0) return [];
    return trx
      .updateTable("mail_outbox")
      .set({ attempts: sql`attempts + 1`, next_attempt_at: new Date(now.getTime() + CLAIM_LEASE_MS) })
      .where(
        "id",
        "in",
        due.map((d) => d.id),
      )
      .returningAll()
      .execute();
  });
}

async function attempt(row: OutboxRow, transport: MailTransport | null, deps: DeliveryDeps): Promise<Settlement> {
  if (!transport) {
    // Demo mode keeps mail for the local Zendesk page; in production a missing SMTP_URL is a fault.
    return deps.config.demo
      ? { status: "held", note: "kept in the demo outbox (no SMTP_URL)", audited: "succeeded" }
      : { status: "held", note: "no SMTP_URL configured", audited: "failed" };
  }
  let secrets: Record<string, string> | null = null;
  try {
    // Opened only here, to send; a key that cannot open it is a configuration fault, retried like any other.
    secrets = row.secret_sealed ? openMailSecrets(deps.config, row.secret_sealed) : null;
    await transport.send({ from: deps.config.MAIL_FROM, to: row.to_address, subject: row.subject, text: renderMailBody(row.body_text, secrets), messageId: `<${row.id}@steward>` });
    return { status: "sent" };
  } catch (err) {
    const error = redactSecrets(err instanceof Error ? err.message : String(err), secrets);
    return { status: row.attempts >= MAIL_MAX_ATTEMPTS ? "failed" : "queued", error: error.slice(0, 500) };
  }
}

async function settle(row: OutboxRow, result: Settlement, deps: DeliveryDeps): Promise<void> {
  const now = deps.clock.now();
  const error = result.status === "sent" ? null : result.status === "held" ? (result.audited === "failed" ? result.note : null) : result.error;
  await deps.database.db.transaction().execute(async (trx) => {
    await trx
      .updateTable("mail_outbox")
      .set({
        status: result.status,
        last_error: error,
        sent_at: result.status === "sent" ? now : null,
        // Delivered (or never going to be): the sealed secret has no further use and is erased.
        ...(result.status === "queued" ? {} : { secret_sealed: null }),
        next_attempt_at: result.status === "queued" ? new Date(now.getTime() + retryDelayMs(row.attempts)) : now,
      })
      .where("id", "=", row.id)
      .execute();
    await appendAudit(
      trx,
      {
        actor: MAILER,
        action: "mail.deliver",
        target: row.user_id ? { type: "user", id: row.user_id, accountId: row.account_id } : { type: "system", id: row.id, accountId: row.account_id },
        ticketId: row.ticket_id,
        reason: `${row.kind} mail`,
        after: {
          mailId: row.id,
          kind: row.kind,
          to: row.to_address,
          attempt: row.attempts,
          status: result.status,
          ...(result.status === "queued" ? { nextAttemptAt: new Date(now.getTime() + retryDelayMs(row.attempts)).toISOString() } : {}),
          ...(result.status === "held" ? { note: result.note } : {}),
          queuedByOperation: row.operation_id,
        },
        outcome: result.status === "sent" || (result.status === "held" && result.audited === "succeeded") ? "succeeded" : "failed",
        error,
      },
      deps.clock,
    );
  });
}

/** One pass over due mail; tests call it directly. Without `transport`, one is built from SMTP_URL. */
export async function deliverDueMail(deps: DeliveryDeps, options: { transport?: MailTransport | null; limit?: number } = {}): Promise<DeliveryReport> {
  const transport = options.transport !== undefined ? options.transport : createMailTransport(deps.config);
  const report: DeliveryReport = { sent: 0, held: 0, retrying: 0, failed: 0 };
  try {
    for (;;) {
      const rows = await claimDue(deps, options.limit ?? BATCH);
      for (const row of rows) {
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
      if (rows.length < (options.limit ?? BATCH)) return report;
    }
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
  const intervalMs = options.intervalMs ?? deps.config.MAIL_POLL_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = deliverDueMail(deps, { transport })
      .then(() => undefined)
      .catch((err: unknown) => deps.logger.error({ err }, "mail delivery pass failed"))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs).unref();
      });
  };
  timer = setTimeout(tick, 0).unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      transport?.close();
    },
  };
}
