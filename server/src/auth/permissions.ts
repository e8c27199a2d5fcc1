import type { Kysely, Transaction } from "kysely";
import { actionNames, actionRules, type ActionName, type ActionRule } from "../../../shared/actions.js";
import { panelRoles, roleAtLeast, type PanelRole } from "../../../shared/roles.js";
import type { Permissions } from "../../../shared/schemas/session.js";
import type { Actor } from "../actor.js";
import type { DB } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import { capFor, capsForRole, type RoleCap } from "../staff/caps.js";

/** Whether a panel role may do an action, by the permission table alone. System actions are Steward's own. */
export function roleAllows(role: PanelRole, action: ActionName): boolean {
  const rule: ActionRule = actionRules[action];
  return rule.minRole !== "system" && roleAtLeast(role, rule.minRole);
}

/** The 403 for an action the actor's role may not do: names the action and the role it needs. */
export function actionDenied(action: ActionName, panelRole: PanelRole): Problem {
  const requiredRole = actionRules[action].minRole;
  const detail =
    requiredRole === "system"
      ? `${action} is done by Steward itself, not by staff`
      : `${action} needs the ${requiredRole} panel role; you have ${panelRole}`;
  return Problem.forbidden("action_not_allowed", detail, { action, requiredRole, panelRole });
}

/** Throws the 403 Problem unless the actor may do the action. Steward itself (system actors) may do anything. */
export function assertAllowed(actor: Actor, action: ActionName): void {
  if (actor.kind === "system") return;
  if (!roleAllows(actor.panelRole, action)) throw actionDenied(action, actor.panelRole);
}

/**
 * Throws 403 `over_cap` when `value` exceeds the cap the actor's role has on the action (admin
 * overrides first, then shared/actions.ts). Actions without a cap, and system actors, pass.
 */
/** Refuses a value over the actor's cap; otherwise answers the cap in force (null: none applies). */
export async function checkCap(db: Kysely<DB> | Transaction<DB>, actor: Actor, action: ActionName, value: number): Promise<RoleCap | null> {
  if (actor.kind === "system") return null;
  const cap = await capFor(db, action, actor.panelRole);
  if (!cap || value <= cap.limit) return cap;
  // Who could approve it instead (two-person approval): roles the table allows whose cap covers the value.
  const canApprove: PanelRole[] = [];
  for (const role of panelRoles) {
    if (!roleAllows(role, action)) continue;
    const theirs = await capFor(db, action, role);
    if (!theirs || value <= theirs.limit) canApprove.push(role);
  }
  throw Problem.forbidden("over_cap", `${action} allows at most ${cap.limit} ${cap.unit} for ${actor.panelRole}; asked for ${value}`, {
    action,
    panelRole: actor.panelRole,
    value,
    cap: { field: cap.field, limit: cap.limit, unit: cap.unit },
    canApprove,
    approvalPossible: canApprove.length > 0,
  });
}

/** Every action with allowed/denied and the role's cap: what the app uses to decide what to show. */
export async function permissionsFor(db: Kysely<DB> | Transaction<DB>, role: PanelRole): Promise<Permissions> {
  const caps = await capsForRole(db, role);
  return Object.fromEntries(
    actionNames.map((action) => {
      const allowed = roleAllows(role, action);
      const cap = allowed ? caps.get(action) : undefined;
      return [action, cap ? { allowed, cap } : { allowed }];
    }),
  ) as Permissions;
}
