import type { Request } from "express";
import { actionRules, type ActionName } from "../../../shared/actions.js";
import { ActionTarget } from "../../../shared/schemas/actions.js";
import { TicketId, type TargetType } from "../../../shared/audit.js";
import type { Actor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import { auditWriteFailed } from "../audit/failClosed.js";
import type { AppDeps } from "../deps.js";
import type { Problem } from "../http/problem.js";

export interface DeniedTarget {
  type: TargetType;
  id: string | null;
  accountId: string | null;
}

function param(req: Request, name: string): string | null {
  const value = (req.params as Record<string, unknown>)[name];
  return typeof value === "string" && value ? value.slice(0, 100) : null;
}

/**
 * What a refused request was aimed at: the action's declared target type (shared/actions.ts), with
 * the id from the body or the path only once it is a valid id of that type, so a caller cannot write
 * arbitrary targets into the audit log by being refused.
 */
export function deniedTargetOf(req: Request, action: ActionName): DeniedTarget {
  const type = actionRules[action].target;
  // Support actions name their target in the body (`target: {type, id}`), other routes in the path.
  const bodyTarget = ActionTarget.safeParse(((req.body ?? {}) as { target?: unknown }).target);
  if (bodyTarget.success && bodyTarget.data.type === type) {
    return { type, id: bodyTarget.data.id, accountId: type === "account" ? bodyTarget.data.id : null };
  }
  if (type === "user" || type === "account") {
    if (((req.body ?? {}) as { target?: unknown }).target !== undefined) return { type, id: null, accountId: null };
  }
  const accountId = param(req, "accountId");
  const id = type === "user" ? param(req, "userId") : type === "staff" ? param(req, "staffId") : type === "account" ? accountId : null;
  return { type, id, accountId };
}

/** The ticket a request was made for: `ticketId` in a write's body, else the `X-Ticket-Id` header of a read. */
export function ticketIdOf(req: Request): string | null {
  const body = (req.body ?? {}) as Record<string, unknown>;
  for (const candidate of [body.ticketId, req.get("x-ticket-id")]) {
    const parsed = TicketId.safeParse(typeof candidate === "number" ? String(candidate) : candidate);
    if (parsed.success) return parsed.data;
  }
  return null;
}

function reasonOf(req: Request): string | null {
  const reason = ((req.body ?? {}) as Record<string, unknown>).reason;
  return typeof reason === "string" && reason.trim() ? reason.trim().slice(0, 500) : null;
}

/**
 * Writes the `denied` audit entry for a refused request. If it cannot be written the request fails
 * closed with 503 (AuditWriteFailed), the cause logged: never access, and never an unaudited refusal.
 */
export async function recordDenial(
  deps: Pick<AppDeps, "database" | "clock" | "logger">,
  input: { actor: Actor; action: ActionName; problem: Problem; req?: Request; target?: DeniedTarget; ticketId?: string | null; reason?: string | null },
): Promise<void> {
  const { req } = input;
  try {
    await appendAudit(
      deps.database.db,
      {
        actor: input.actor,
        action: input.action,
        target: input.target ?? (req ? deniedTargetOf(req, input.action) : { type: "system", id: null, accountId: null }),
        ticketId: input.ticketId ?? (req ? ticketIdOf(req) : null),
        reason: input.reason ?? (req ? reasonOf(req) : null),
        outcome: "denied",
        error: `${input.problem.code}: ${input.problem.detail ?? input.problem.title}`,
        requestId: req ? String(req.id ?? "") || null : null,
      },
      deps.clock,
    );
  } catch (err) {
    (req?.log ?? deps.logger).error({ err, action: input.action }, "could not audit a denied request");
    throw auditWriteFailed(err);
  }
}
