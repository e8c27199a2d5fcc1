import type { Kysely, Transaction } from "kysely";
import { actionNames, actionRules, type ActionName, type ActionRule } from "../../../shared/actions.js";
import { panelRoles, roleAtLeast, type PanelRole } from "../../../shared/roles.js";
import type { ActionCap } from "../../../shared/schemas/staff.js";
import type { CapScope, DB } from "../db/schema.js";

type Executor = Kysely<DB> | Transaction<DB>;
type CapRule = NonNullable<ActionRule["cap"]>;

/** The cap in force for one role on one action. */
export interface RoleCap {
  field: string;
  unit: CapRule["unit"];
  limit: number;
}

export const cappedActions: ActionName[] = actionNames.filter((a) => (actionRules[a] as ActionRule).cap !== undefined);

export function capRuleOf(action: ActionName): CapRule | undefined {
  return (actionRules[action] as ActionRule).cap;
}

/** A role may hold a cap only on actions it is allowed to do. */
export function roleCanHoldCap(action: ActionName, role: PanelRole): boolean {
  const rule = actionRules[action] as ActionRule;
  return rule.cap !== undefined && rule.minRole !== "system" && roleAtLeast(role, rule.minRole);
}

/** Admin overrides of one scope (the per-request cap unless told), keyed `action/role`. */
export async function capOverrides(db: Executor, filter: { action?: ActionName; role?: PanelRole; scope?: CapScope } = {}): Promise<Map<string, number>> {
  let query = db.selectFrom("panel_caps").select(["action", "panel_role", "max_value"]).where("scope", "=", filter.scope ?? "request");
  if (filter.action) query = query.where("action", "=", filter.action);
  if (filter.role) query = query.where("panel_role", "=", filter.role);
  const rows = await query.execute();
  return new Map(rows.map((r) => [`${r.action}/${r.panel_role}`, r.max_value]));
}

function limitOf(action: ActionName, role: PanelRole, overrides: Map<string, number>, scope: CapScope = "request"): number | null {
  if (!roleCanHoldCap(action, role)) return null;
  const rule = capRuleOf(action);
  const defaults = scope === "request" ? rule?.limits : scope === "target" ? rule?.perTarget : rule?.perDay;
  return overrides.get(`${action}/${role}`) ?? defaults?.[role] ?? null;
}

/**
 * The cap a role has on an action, or null when the action has no cap. A capped action with no
 * limit for an allowed role fails closed (limit 0) rather than open.
 */
export async function capFor(db: Executor, action: ActionName, role: PanelRole): Promise<RoleCap | null> {
  const rule = capRuleOf(action);
  if (!rule) return null;
  const overrides = await capOverrides(db, { action, role });
  return { field: rule.field, unit: rule.unit, limit: limitOf(action, role, overrides) ?? 0 };
}

/** Every capped action with the limit in force and the default, per role. */
export async function listCaps(db: Executor): Promise<ActionCap[]> {
  const overrides = await capOverrides(db);
  const target = await capOverrides(db, { scope: "target" });
  const day = await capOverrides(db, { scope: "day" });
  const none = new Map<string, number>();
  return cappedActions.map((action) => {
    const rule = capRuleOf(action) as CapRule;
    const perRole = (source: Map<string, number>, scope: CapScope = "request") =>
      Object.fromEntries(panelRoles.map((role) => [role, limitOf(action, role, source, scope)])) as Record<PanelRole, number | null>;
    return {
      action,
      field: rule.field,
      unit: rule.unit,
      limits: perRole(overrides),
      defaults: perRole(none),
      perTarget: { limits: perRole(target, "target"), defaults: perRole(none, "target") },
      perDay: { limits: perRole(day, "day"), defaults: perRole(none, "day") },
    };
  });
}

/** Caps in force for one role (for the session's permission list). */
export async function capsForRole(db: Executor, role: PanelRole): Promise<Map<ActionName, RoleCap>> {
  const overrides = await capOverrides(db, { role });
  const caps = new Map<ActionName, RoleCap>();
  for (const action of cappedActions) {
    const limit = limitOf(action, role, overrides);
    const rule = capRuleOf(action) as CapRule;
    if (limit !== null) caps.set(action, { field: rule.field, unit: rule.unit, limit });
  }
  return caps;
}

/** The rolling-24 h limit a role has on an action per target or in all: admin override first, then shared/actions.ts. */
export async function windowCapFor(db: Executor, action: ActionName, role: PanelRole, scope: "target" | "day"): Promise<number | null> {
  if (!capRuleOf(action)) return null;
  // A capped action with no window limit for a role fails closed.
  return limitOf(action, role, await capOverrides(db, { action, role, scope }), scope) ?? 0;
}
