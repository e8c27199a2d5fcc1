import { createHash, randomUUID } from "node:crypto";
import { sql, type Kysely, type Transaction } from "kysely";
import type { DB } from "../db/schema.js";
import type { ActionName } from "../../../shared/actions.js";
import { panelRoles, roleAtLeast, type PanelRole } from "../../../shared/roles.js";
import type { Actor } from "../actor.js";
import { recordDenial } from "../auth/recordDenial.js";
import type { AppDeps } from "../deps.js";
import { Problem } from "../http/problem.js";
import { capFor, capRuleOf, windowCapFor } from "./caps.js";

/**
 * Caps over time: what one agent uses of a capped action (credit cents, trial days, seats, hours) is
 * reserved in `cap_usage` before any provider call, under a lock per agent and action, so parallel
 * requests cannot split a cap. A failed action releases its reservation; a successful one keeps it.
 */
const WINDOW_MS = 24 * 60 * 60 * 1000;

export interface CapReservation {
  id: string;
}

/** A stable 64-bit advisory lock key per agent and action. */
function lockKey(staffId: string, action: string): string {
  return BigInt.asIntN(64, BigInt(`0x${createHash("sha256").update(`cap:${staffId}:${action}`).digest("hex").slice(0, 16)}`)).toString();
}

async function higherRolesWithRoom(deps: Pick<AppDeps, "database">, action: ActionName, role: PanelRole, scope: "target" | "day", needed: number): Promise<PanelRole[]> {
  const out: PanelRole[] = [];
  for (const other of panelRoles) {
    if (other === role || !roleAtLeast(other, role)) continue;
    const limit = await windowCapFor(deps.database.db, action, other, scope);
    if (limit !== null && limit >= needed) out.push(other);
  }
  return out;
}

/** What one agent used of an action in the window: on one target and in all. */
async function usageOf(db: Kysely<DB> | Transaction<DB>, staffId: string, action: ActionName, targetId: string, since: Date): Promise<{ target: number; day: number }> {
  const used = await db
    .selectFrom("cap_usage")
    .select((eb) => [eb.fn.coalesce(eb.fn.sum<number>("amount"), sql<number>`0`).as("day"), eb.fn.coalesce(eb.fn.sum<number>(sql`case when target_id = ${targetId} then amount else 0 end`), sql<number>`0`).as("target")])
    .where("staff_id", "=", staffId)
    .where("action", "=", action)
    .where("created_at", ">", since)
    .executeTakeFirstOrThrow();
  return { target: Number(used.target), day: Number(used.day) };
}

export interface CapLeft {
  field: string;
  unit: string;
  /** The most one request may use now: the per-request cap, or less when the 24 h windows have less left. */
  left: number;
  perRequest: number;
  /** Roles whose caps go further than what is left here (who to ask). */
  canGoFurther: PanelRole[];
}

/**
 * What the agent may still use of a capped action on this target (read only, nothing reserved): the
 * same limits and usage `reserveCapUsage` and `checkCap` enforce, so the app can say "up to 20 left".
 */
export async function capLeft(deps: Pick<AppDeps, "database" | "clock">, actor: Actor, action: ActionName, targetId: string): Promise<CapLeft | null> {
  const rule = capRuleOf(action);
  if (actor.kind === "system" || !rule) return null;
  const role = actor.panelRole;
  const db = deps.database.db;
  const perRequest = (await capFor(db, action, role))?.limit ?? 0;
  const perTarget = (await windowCapFor(db, action, role, "target")) ?? 0;
  const perDay = (await windowCapFor(db, action, role, "day")) ?? 0;
  const used = await usageOf(db, actor.staffId, action, targetId, new Date(deps.clock.now().getTime() - WINDOW_MS));
  const left = Math.max(0, Math.min(perRequest, perTarget - used.target, perDay - used.day));
  const canGoFurther: PanelRole[] = [];
  for (const other of panelRoles) {
    if (other === role || !roleAtLeast(other, role)) continue;
    const limit = (await capFor(db, action, other))?.limit ?? 0;
    if (limit > left) canGoFurther.push(other);
  }
  return { field: rule.field, unit: rule.unit, left, perRequest, canGoFurther };
}

/**
 * Reserves `value` of the actor's rolling-24 h caps on `targetId` and in all, or throws 403 `over_cap`
 * saying how much is left and which roles can go further. System actors and uncapped actions pass.
 */
export async function reserveCapUsage(
  deps: Pick<AppDeps, "database" | "clock">,
  input: { actor: Actor; action: ActionName; targetId: string; value: number },
): Promise<CapReservation | null> {
  const { actor, action, targetId, value } = input;
  const rule = capRuleOf(action);
  if (actor.kind === "system" || !rule) return null;
  const role = actor.panelRole;
  const perTarget = (await windowCapFor(deps.database.db, action, role, "target")) ?? 0;
  const perDay = (await windowCapFor(deps.database.db, action, role, "day")) ?? 0;
  const now = deps.clock.now();
  const since = new Date(now.getTime() - WINDOW_MS);
  type Outcome = { id: string } | { scope: "target" | "day"; limit: number; used: number };
  const refusal = await deps.database.db.transaction().execute(async (trx): Promise<Outcome> => {
    await sql`select pg_advisory_xact_lock(${sql.lit(lockKey(actor.staffId, action))}::bigint)`.execute(trx);
    const { target: usedTarget, day: usedDay } = await usageOf(trx, actor.staffId, action, targetId, since);
    if (usedTarget + value > perTarget) return { scope: "target", limit: perTarget, used: usedTarget };
    if (usedDay + value > perDay) return { scope: "day", limit: perDay, used: usedDay };
    const id = `cap_${randomUUID()}`;
    await trx.insertInto("cap_usage").values({ id, staff_id: actor.staffId, action, target_id: targetId, amount: value, created_at: now }).execute();
    return { id };
  });
  if ("id" in refusal) return { id: refusal.id };
  const left = Math.max(0, refusal.limit - refusal.used);
  const further = await higherRolesWithRoom(deps, action, role, refusal.scope, value);
  const where = refusal.scope === "target" ? "on this target" : "in all";
  throw Problem.forbidden(
    "over_cap",
    `${action} allows ${role} ${refusal.limit} ${rule.unit} ${where} per 24 h; ${left} ${rule.unit} left, asked for ${value}.` +
      (further.length ? ` ${further.join(" or ")} can go further.` : " No panel role can go further; an admin can change the cap."),
    { action, panelRole: role, value, window: refusal.scope, cap: { field: rule.field, unit: rule.unit, limit: refusal.limit, used: refusal.used, left }, canGoFurther: further, canApprove: further, approvalPossible: further.length > 0 },
  );
}

/** Gives back a reservation of an action that did not happen. */
export async function releaseCapUsage(deps: Pick<AppDeps, "database" | "logger">, reservation: CapReservation | null): Promise<void> {
  if (!reservation) return;
  try {
    await deps.database.db.deleteFrom("cap_usage").where("id", "=", reservation.id).execute();
  } catch (err) {
    // Kept, the reservation only makes the cap stricter until it leaves the window.
    deps.logger.error({ err, reservation: reservation.id }, "could not release a cap reservation");
  }
}

/**
 * The runner's step: reserves the command's capped value on its target, auditing a refusal as
 * `denied` (the 403 is thrown on). Null when nothing was reserved.
 */
export async function reserveCommandCaps(
  deps: AppDeps,
  request: { actor: Actor; action: ActionName; target: { type: "user" | "account"; id: string }; ticketId: string; reason: string },
  value: number | null,
): Promise<CapReservation | null> {
  if (value === null) return null;
  try {
    return await reserveCapUsage(deps, { actor: request.actor, action: request.action, targetId: request.target.id, value });
  } catch (err) {
    if (err instanceof Problem && err.status === 403) {
      await recordDenial(deps, { actor: request.actor, action: request.action, problem: err, target: { type: request.target.type, id: request.target.id, accountId: null }, ticketId: request.ticketId, reason: request.reason });
    }
    throw err;
  }
}
