import type { ActionName } from "../../../../shared/actions.js";
import { panelRoles, type PanelRole } from "../../../../shared/roles.js";
import { roleAllows } from "../../auth/permissions.js";
import { capFor } from "../../staff/caps.js";
import type { Executor } from "../targets.js";

/** The approval policy and who can approve what; apart from approvals.ts so the runner can read it without a cycle. */
/** Roles that may run `action` with `value` (the capped input), by the table and the per-request caps. */
export async function rolesThatCan(db: Executor, action: ActionName, value: number | null): Promise<PanelRole[]> {
  const out: PanelRole[] = [];
  for (const role of panelRoles) {
    if (!roleAllows(role, action)) continue;
    if (value !== null) {
      const cap = await capFor(db, action, role);
      if (cap && value > cap.limit) continue;
    }
    out.push(role);
  }
  return out;
}

export async function approvalRequired(db: Executor, action: string): Promise<boolean> {
  const row = await db.selectFrom("approval_policy").select("requires_approval").where("action", "=", action).executeTakeFirst();
  return row?.requires_approval ?? false;
}

export async function policyActions(db: Executor): Promise<string[]> {
  return (await db.selectFrom("approval_policy").select("action").where("requires_approval", "=", true).orderBy("action").execute()).map((r) => r.action);
}

