import type { Request } from "express";
import type { ActionName } from "../../../shared/actions.js";
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

const TARGET_BY_PREFIX: Record<string, TargetType> = {
  context: "user",
  user: "user",
  impersonation: "user",
  search: "search",
  account: "account",
  seats: "account",
  billing: "account",
  action: "account",
  audit: "audit",
  staff: "staff",
  mail: "system",
};

function param(req: Request, name: string): string | null {
  const value = (req.params as Record<string, unknown>)[name];
  return typeof value === "string" && value ? value : null;
}

/** What a refused request was aimed at, from the action's family and the route's path parameters. */
export function deniedTargetOf(req: Request, action: ActionName): DeniedTarget {
  // Support actions name their target in the body (`target: {type, id}`), other routes in the path.
  const bodyTarget = ((req.body ?? {}) as { target?: { type?: unknown; id?: unknown } }).target;
  if (bodyTarget && (bodyTarget.type === "user" || bodyTarget.type === "account") && typeof bodyTarget.id === "string" && bodyTarget.id) {
    return { type: bodyTarget.type, id: bodyTarget.id.slice(0, 100), accountId: bodyTarget.type === "account" ? bodyTarget.id.slice(0, 100) : null };
  }
  const type = TARGET_BY_PREFIX[action.split(".")[0] ?? ""] ?? "system";
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
