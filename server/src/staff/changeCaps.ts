import { sql, type Transaction } from "kysely";
import type { ActionName } from "../../../shared/actions.js";
import type { PanelRole } from "../../../shared/roles.js";
import type { Actor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import { assertAllowed } from "../auth/permissions.js";
import type { Clock } from "../clock.js";
import type { CapScope, DB } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import { capOverrides, capRuleOf, roleCanHoldCap } from "./caps.js";

/** Advisory lock key ("CAPS"): concurrent cap changes queue so each entry's before/after is exact. */
const CAPS_LOCK = 0x43415053;

export interface CapsChange {
  actor: Actor;
  /** `limit: null` puts the role back on the default from shared/actions.ts. */
  /** `scope`: the per-request cap (default), or the rolling-24 h cap per target or per day. */
  changes: { action: ActionName; role: PanelRole; limit: number | null; scope?: CapScope }[];
  reason: string;
  ticketId: string | null;
  requestId?: string | null;
}

type Limits = Record<string, Partial<Record<PanelRole, number>>>;

/**
 * `staff.caps_change`: sets or resets per-role cap overrides, with one audit entry holding the limits
 * in force before and after, in the same transaction. Requests that store nothing new write nothing.
 */
export async function changeCaps(trx: Transaction<DB>, clock: Clock, change: CapsChange): Promise<{ changed: boolean }> {
  assertAllowed(change.actor, "staff.caps_change");
  const seen = new Set<string>();
  const invalid = change.changes.flatMap((c, i) => {
    const key = `${c.action}/${c.role}/${c.scope ?? "request"}`;
    const duplicate = seen.has(key);
    seen.add(key);
    if (duplicate) return [{ field: `body.changes.${i}`, reason: `${key} appears twice` }];
    return roleCanHoldCap(c.action, c.role) ? [] : [{ field: `body.changes.${i}`, reason: `${c.role} cannot hold a cap on ${c.action} (no cap, or the role may not do it)` }];
  });
  if (invalid.length) throw Problem.badRequest("Some cap changes are not possible", invalid);

  await sql`select pg_advisory_xact_lock(${sql.lit(CAPS_LOCK)})`.execute(trx);
  const byScope = { request: await capOverrides(trx), target: await capOverrides(trx, { scope: "target" }), day: await capOverrides(trx, { scope: "day" }) };
  const before: Limits = {};
  const after: Limits = {};
  for (const c of change.changes) {
    const scope = c.scope ?? "request";
    const overrides = byScope[scope];
    const key = `${c.action}/${c.role}`;
    const rule = capRuleOf(c.action);
    const defaults = scope === "request" ? rule?.limits : scope === "target" ? rule?.perTarget : rule?.perDay;
    const current = overrides.get(key) ?? defaults?.[c.role];
    const next = c.limit ?? defaults?.[c.role];
    // Audit keys stay `action` for the per-request cap, as before; windows are `action@target` / `action@day`.
    const auditKey = scope === "request" ? c.action : `${c.action}@${scope}`;
    if (c.limit === null) {
      if (!overrides.has(key)) continue;
      await trx.deleteFrom("panel_caps").where("action", "=", c.action).where("panel_role", "=", c.role).where("scope", "=", scope).execute();
      overrides.delete(key);
    } else {
      if (overrides.get(key) === c.limit) continue;
      const by = change.actor.kind === "staff" ? change.actor.staffId : `system:${change.actor.component}`;
      await trx
        .insertInto("panel_caps")
        .values({ action: c.action, panel_role: c.role, scope, max_value: c.limit, updated_at: clock.now(), updated_by: by })
        .onConflict((oc) => oc.columns(["action", "panel_role", "scope"]).doUpdateSet({ max_value: c.limit as number, updated_at: clock.now(), updated_by: by }))
        .execute();
      overrides.set(key, c.limit);
    }
    (before[auditKey] ??= {})[c.role] = current;
    (after[auditKey] ??= {})[c.role] = next;
  }
  if (!Object.keys(after).length) return { changed: false };
  await appendAudit(
    trx,
    {
      actor: change.actor,
      action: "staff.caps_change",
      target: { type: "system", id: "panel_caps", accountId: null },
      ticketId: change.ticketId,
      reason: change.reason,
      before,
      after,
      outcome: "succeeded",
      requestId: change.requestId ?? null,
    },
    clock,
  );
  return { changed: true };
}
