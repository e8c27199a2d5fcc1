import { actionRules, type ActionName } from "../../../shared/actions.js";
import type { ActionAvailability, AvailableActions, AvailableActionsQuery, CustomerNotice, TemporaryGrant, UnavailableReason } from "../../../shared/schemas/availability.js";
import { isNoticeMandatory, noticeRecipients, renderNotice } from "../mail/notices.js";
import { mailLanguageOf, type MailLanguage } from "../mail/templates.js";
import type { Actor } from "../actor.js";
import { newOperationId } from "../audit/operations.js";
import { roleAllows } from "../auth/permissions.js";
import type { AppDeps } from "../deps.js";
import { Problem, toProblem } from "../http/problem.js";
import { capLeft } from "../staff/capUsage.js";
import type { AnyCommand, CommandContext } from "./command.js";
import { commands } from "./registry.js";
import { refuseWhileUnresolved } from "./runCommand.js";
import { loadTarget, type CommandTarget } from "./targets.js";

/** Problems that mean "there is no billing to act on" rather than "the state does not allow it". */
const BILLING_CODES = new Set(["no_billing_customer", "no_subscription", "subscription_ended"]);

/** Actions whose availability depends on something only the request names (which session to stop). */
const INPUT_BOUND = new Set<string>(["impersonation.stop"]);

function entry(action: string, fields: Partial<ActionAvailability> = {}): ActionAvailability {
  return { action, status: "available", reason: null, code: null, detail: null, requiredRole: null, cap: null, preview: commands.get(action as never)?.preview !== undefined, notice: null, ...fields };
}

/** The notice each action would send about this target, as the customer will read it. */
async function noticesFor(deps: AppDeps, target: CommandTarget, ticketId: string | null, language: MailLanguage): Promise<(action: string) => CustomerNotice | null> {
  const to = await noticeRecipients(deps.database.db, target);
  return (action) => {
    const first = to[0];
    const mail = first ? renderNotice(action, { name: first.name, accountName: target.account.name, ticketId, language }) : null;
    return mail ? { mandatory: isNoticeMandatory(action), to: to.map((p) => p.email), ...mail } : null;
  };
}

function refused(action: string, reason: UnavailableReason, problem: Problem): ActionAvailability {
  return entry(action, { status: "unavailable", reason, code: problem.code, detail: problem.detail ?? problem.title });
}

/** A refusal from a precondition: billing missing, a state that does not allow it, or a provider that did not answer (unknown, not "no"). */
function fromProblem(action: string, err: unknown): ActionAvailability {
  const problem = toProblem(err);
  if (problem.status === 409 || problem.status === 403 || problem.status === 422) return refused(action, BILLING_CODES.has(problem.code) ? "billing" : "state", problem);
  return entry(action, { status: "unknown", reason: "provider", code: problem.code, detail: problem.detail ?? problem.title });
}

async function availabilityOf(command: AnyCommand, target: CommandTarget, actor: Actor, ctx: CommandContext, pending: Problem | null): Promise<ActionAvailability> {
  const action = command.action as ActionName;
  if (actor.kind === "staff" && !roleAllows(actor.panelRole, action)) {
    const requiredRole = actionRules[action].minRole;
    return entry(action, {
      status: "unavailable",
      reason: "role",
      code: "action_not_allowed",
      detail: `${action} needs the ${requiredRole} panel role; you have ${actor.panelRole}`,
      requiredRole: requiredRole === "system" ? null : requiredRole,
    });
  }
  // As the runner: an open operation holds every action back except the one that settles it.
  if (pending && !command.runsWhileUnresolved) return refused(action, "pending", pending);
  try {
    // The same state checks the runner makes before every attempt (SupportCommand.precondition).
    await command.precondition?.(target as never, ctx);
  } catch (err) {
    return fromProblem(action, err);
  }
  const cap = await capLeft(ctx.deps, actor, action, target.id);
  if (cap && cap.left < 1) {
    const further = cap.canGoFurther.length ? ` ${cap.canGoFurther.join(" or ")} can go further.` : "";
    return entry(action, { status: "unavailable", reason: "cap", code: "over_cap", detail: `No ${cap.unit} left of your cap on this target in the last 24 h.${further}`, cap });
  }
  return entry(action, { cap });
}

/** A deleted user is no command's target (404 there); here every user action is "user is deleted". */
async function deletedUser(deps: AppDeps, query: AvailableActionsQuery): Promise<AvailableActions | null> {
  if (query.targetType !== "user") return null;
  const row = await deps.database.db.selectFrom("users").select(["status", "version"]).where("id", "=", query.targetId).executeTakeFirst();
  if (row?.status !== "deleted") return null;
  const problem = Problem.conflict("user_deleted", `${query.targetId} is deleted`);
  const actions = [...commands.values()].filter((c) => c.targetType === "user" && !INPUT_BOUND.has(c.action)).map((c) => refused(c.action, "state", problem));
  return { target: { type: "user", id: query.targetId }, version: row.version, checkedAt: deps.clock.now().toISOString(), actions, grants: [] };
}

const iso = (value: Date | string) => new Date(value).toISOString();

/**
 * The temporary grants still open on the target, soonest end first: the user's raised role, the
 * account's extra seats. Each is what its end action (user.elevation_end, seats.expansion_end) takes.
 */
async function openGrants(deps: AppDeps, target: CommandTarget): Promise<TemporaryGrant[]> {
  const db = deps.database.db;
  const granter = (id: string) => deps.database.db.selectFrom("staff").select(["name", "email"]).where("id", "=", id).executeTakeFirst();
  const nameOf = async (id: string) => (id.startsWith("system:") ? null : await granter(id).then((s) => s?.name ?? s?.email ?? id));
  if (target.type === "user") {
    const rows = await db.selectFrom("role_elevations").selectAll().where("user_id", "=", target.id).where("reverted_at", "is", null).orderBy("expires_at").execute();
    return Promise.all(
      rows.map(async (r) => ({ kind: "elevation" as const, id: r.id, endAction: "user.elevation_end" as const, role: r.elevated_role, previousRole: r.previous_role, seats: null, endsAt: iso(r.expires_at), ticketId: r.ticket_id, grantedBy: await nameOf(r.granted_by_staff_id) })),
    );
  }
  const rows = await db.selectFrom("seat_expansions").selectAll().where("account_id", "=", target.id).where("reverted_at", "is", null).orderBy("expires_at").execute();
  return Promise.all(rows.map(async (r) => ({ kind: "seats" as const, id: r.id, endAction: "seats.expansion_end" as const, role: null, previousRole: null, seats: r.seats, endsAt: iso(r.expires_at), ticketId: r.ticket_id, grantedBy: await nameOf(r.granted_by_staff_id) })));
}

/**
 * Every support action on the target, in registry order, as the agent could run it now. Nothing is
 * written: caps are read, not reserved, and provider state is read once and shared by all checks.
 */
export async function availableActions(deps: AppDeps, actor: Actor, query: AvailableActionsQuery): Promise<AvailableActions> {
  const gone = await deletedUser(deps, query);
  if (gone) return gone;
  const db = deps.database.db;
  const target = await loadTarget(db, query.targetType, query.targetId);
  let pending: Problem | null = null;
  try {
    await refuseWhileUnresolved(db, target.accountId);
  } catch (err) {
    pending = toProblem(err);
  }
  const ctx: CommandContext = { deps, actor, ticketId: "", reason: "", requestId: null, operationId: newOperationId(), now: deps.clock.now() };
  const relevant = [...commands.values()].filter((c) => c.targetType === query.targetType && !INPUT_BOUND.has(c.action));
  // One after the other: the checks share the request's billing and sign-in readings (the first one reads).
  const noticeOf = await noticesFor(deps, target, query.ticketId ?? null, mailLanguageOf(query.customerLocale));
  const actions: ActionAvailability[] = [];
  for (const command of relevant) actions.push({ ...(await availabilityOf(command, target, actor, ctx, pending)), notice: noticeOf(command.action) });
  return { target: { type: target.type, id: target.id }, version: target.version, checkedAt: ctx.now.toISOString(), actions, grants: await openGrants(deps, target) };
}
