import type { Selectable } from "kysely";
import { actionRules } from "../../../shared/actions.js";
import { roleAtLeast, type PanelRole } from "../../../shared/roles.js";
import type { EndReason, SessionStatus } from "../../../shared/schemas/impersonation.js";
import type { StaffActor } from "../actor.js";
import type { Config } from "../config.js";
import type { Account, ImpersonationSessionsTable, User } from "../db/schema.js";
import { Problem } from "../http/problem.js";
import type { Executor } from "../commands/targets.js";

/**
 * Impersonation sessions as Steward keeps them: who, whom, for which ticket and why, and the two
 * deadlines. The idle deadline moves with activity (status checks, events) but never past the
 * absolute one; the banner counts down to the nearer of the two.
 */
export type SessionRow = Selectable<ImpersonationSessionsTable>;

export async function loadSession(db: Executor, sid: string, options: { lock?: boolean } = {}): Promise<SessionRow> {
  let q = db.selectFrom("impersonation_sessions").selectAll().where("id", "=", sid);
  if (options.lock) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row) throw Problem.notFound(`No impersonation session ${sid}`);
  return row;
}

export function liveSessionOfStaff(db: Executor, staffId: string): Promise<SessionRow | undefined> {
  return db.selectFrom("impersonation_sessions").selectAll().where("staff_id", "=", staffId).where("ended_at", "is", null).executeTakeFirst();
}

export function idleMs(config: Config): number {
  return config.IMPERSONATION_IDLE_MINUTES * 60_000;
}

/** The idle deadline after activity at `at`: never past the absolute deadline. */
export function idleDeadlineAfter(at: Date, absolute: Date, config: Config): Date {
  return new Date(Math.min(at.getTime() + idleMs(config), absolute.getTime()));
}

/** The agent, as audit entries credit them for everything done inside the session. */
export function agentOf(row: SessionRow): StaffActor {
  return { kind: "staff", staffId: row.staff_id, zendeskUserId: row.agent_zendesk_user_id, email: row.agent_email, name: row.agent_name, panelRole: row.agent_panel_role };
}

/** The lowest panel role that may hold a session in each mode (the start's mode table). */
export const MODE_MIN_ROLES = actionRules["impersonation.start"].modes.minRoles as Record<SessionRow["mode"], PanelRole>;

/** Why a live session must end now, or null. A passed deadline comes first (the earlier of the two wins). */
export function endReasonDue(row: SessionRow, now: Date, context: { staffActive: boolean; staffRole: PanelRole | undefined; user: Pick<User, "status" | "blocked" | "impersonation_protected"> | undefined; account: Pick<Account, "status"> | undefined }): EndReason | null {
  if (row.ended_at) return null;
  const idle = new Date(row.idle_deadline).getTime();
  const absolute = new Date(row.absolute_deadline).getTime();
  const t = now.getTime();
  if (t >= idle || t >= absolute) return absolute <= idle ? "absolute_timeout" : "idle_timeout";
  // An agent demoted below the session's mode has lost the panel access it needs, as if deactivated.
  if (!context.staffActive || !context.staffRole || !roleAtLeast(context.staffRole, MODE_MIN_ROLES[row.mode])) return "staff_deactivated";
  const { user, account } = context;
  // A user protected from impersonation after the session began is no longer to be viewed either.
  if (!user || !account || user.blocked || user.impersonation_protected || user.status !== "active" || !["active", "trialing", "past_due"].includes(account.status)) return "target_changed";
  return null;
}

export interface SessionParties {
  user: Pick<User, "id" | "name" | "email">;
  account: Pick<Account, "id" | "name">;
}

export function toSessionStatus(row: SessionRow, parties: SessionParties, now: Date, config: Config): SessionStatus {
  const idle = new Date(row.idle_deadline);
  const absolute = new Date(row.absolute_deadline);
  const endsAt = idle < absolute ? idle : absolute;
  const ended = row.ended_at !== null;
  return {
    sid: row.id,
    status: ended ? "ended" : "live",
    mode: row.mode,
    ticket: row.ticket_id,
    reason: row.reason,
    user: { id: parties.user.id, name: parties.user.name, email: parties.user.email },
    account: { id: parties.account.id, name: parties.account.name },
    agent: { zendeskUserId: row.agent_zendesk_user_id, name: row.agent_name, email: row.agent_email },
    startedAt: new Date(row.started_at).toISOString(),
    idleDeadline: idle.toISOString(),
    absoluteDeadline: absolute.toISOString(),
    endsAt: endsAt.toISOString(),
    remainingSeconds: ended ? 0 : Math.max(0, Math.floor((endsAt.getTime() - now.getTime()) / 1000)),
    idleTimeoutSeconds: config.IMPERSONATION_IDLE_MINUTES * 60,
    endedAt: row.ended_at ? new Date(row.ended_at).toISOString() : null,
    endReason: row.end_reason,
    actionCount: row.action_count,
    refusedCount: row.refused_count,
  };
}

/** Sessions with their user and account names, for status answers. */
export async function statusesOf(db: Executor, rows: SessionRow[], now: Date, config: Config): Promise<SessionStatus[]> {
  if (rows.length === 0) return [];
  const users = await db.selectFrom("users").select(["id", "name", "email"]).where("id", "in", [...new Set(rows.map((r) => r.user_id))]).execute();
  const accounts = await db.selectFrom("accounts").select(["id", "name"]).where("id", "in", [...new Set(rows.map((r) => r.account_id))]).execute();
  return rows.map((row) => {
    const user = users.find((u) => u.id === row.user_id) ?? { id: row.user_id, name: "(deleted)", email: "" };
    const account = accounts.find((a) => a.id === row.account_id) ?? { id: row.account_id, name: "(deleted)" };
    return toSessionStatus(row, { user, account }, now, config);
  });
}

/** Everything `endReasonDue` needs, read now. */
export async function liveContextOf(db: Executor, row: SessionRow) {
  const staff = await db.selectFrom("staff").select(["active", "panel_role"]).where("id", "=", row.staff_id).executeTakeFirst();
  const user = await db.selectFrom("users").select(["status", "blocked", "impersonation_protected"]).where("id", "=", row.user_id).executeTakeFirst();
  const account = await db.selectFrom("accounts").select("status").where("id", "=", row.account_id).executeTakeFirst();
  return { staffActive: Boolean(staff?.active), staffRole: staff?.panel_role, user, account };
}
