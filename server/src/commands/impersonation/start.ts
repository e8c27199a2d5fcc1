import { randomBytes, randomUUID } from "node:crypto";
import { actionRules } from "../../../../shared/actions.js";
import { roleAtLeast, type PanelRole } from "../../../../shared/roles.js";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { IMPERSONATION_REASON_MIN } from "../../../../shared/schemas/impersonation.js";
import { signGrant } from "../../impersonation/grant.js";
import { customerNoticesOn, sessionStartMail } from "../../impersonation/notices.js";
import { productForStart } from "../../impersonation/products.js";
import { idleDeadlineAfter, liveSessionOfStaff } from "../../impersonation/sessions.js";
import { sessionSummary, startNote } from "../../impersonation/endSession.js";
import { grantKeysFor } from "../../impersonation/signingKeys.js";
import { Problem } from "../../http/problem.js";
import { enqueueMail } from "../../mail/outbox.js";
import { enqueueTicketNote } from "../../zendesk/ticketNotes.js";
import { defineCommand } from "../command.js";
import { emailKey } from "../../lookup/resolveRequester.js";

const rule = actionRules["impersonation.start"];

function refused(code: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return Problem.conflict(code, detail, extra);
}

/**
 * impersonation.start — opens a ticket-linked session and returns a one-time grant (≤ 60 s) for the
 * product. Refused (and audited) for a target who is not active, is panel staff, is protected by the
 * product, or whose account is closed; for a mode the agent's role may not use; and while the agent
 * has another live session. The customer's notice and the ticket's internal note are queued in the
 * same transaction as the session.
 */
export const startImpersonation = defineCommand({
  action: "impersonation.start",
  targetType: "user",
  input: actionInputs["impersonation.start"],
  provider: "none",
  capValue: (input) => input.minutes,
  permit: async (actor, input, deps, target) => {
    if (actor.kind !== "staff") return;
    // Checked before the mode table so the agent hears the specific reason: full access to an
    // owner/admin is an operations decision, even if the table ever lets a lower role use full mode.
    if (input.mode === "full" && !roleAtLeast(actor.panelRole, "operations")) {
      const row = await deps.database.db.selectFrom("users").select("role").where("id", "=", target.id).executeTakeFirst();
      if (row && (row.role === "owner" || row.role === "admin")) {
        throw Problem.forbidden("full_mode_on_admin", `Full access to an account ${row.role} needs the operations panel role; you have ${actor.panelRole}`, { mode: input.mode, requiredRole: "operations", panelRole: actor.panelRole, targetRole: row.role });
      }
    }
    const minRole = rule.modes.minRoles[input.mode] as PanelRole;
    if (!roleAtLeast(actor.panelRole, minRole)) {
      throw Problem.forbidden("mode_not_allowed", `impersonation in ${input.mode} mode needs the ${minRole} panel role; you have ${actor.panelRole}`, { mode: input.mode, requiredRole: minRole, panelRole: actor.panelRole });
    }
  },
  precondition: async (target, ctx) => {
    const { user, account } = target;
    if (account.status === "deleted") throw refused("account_deleted", `Account ${account.id} is deleted`);
    if (user.status !== "active" || user.blocked) throw refused("target_not_active", `${user.id} is ${user.blocked ? "blocked" : user.status}: only active users can be viewed`, { status: user.status, blocked: user.blocked });
    if (!["active", "trialing", "past_due"].includes(account.status)) throw refused("target_not_active", `Account ${account.id} is ${account.status}: its users cannot sign in`, { accountStatus: account.status });
    if (user.impersonation_protected) throw refused("target_protected", `The product marks ${user.id} as never to be impersonated`);
    const db = ctx.deps.database.db;
    // One address in any case and either Unicode form (emailKey), as requesters are matched: a product user
    // spelled `Zoe\u0308@…` is the staff member `zoë@…`. The active staff list is small: compared here.
    const key = emailKey(user.email);
    const staff = (await db.selectFrom("staff").select(["id", "email"]).where("active", "=", true).execute()).find((s) => s.email !== null && emailKey(s.email) === key);
    if (staff) throw refused("target_is_staff", `${user.id} is panel staff; staff accounts are not impersonated`);
    // The product's own staff flag (DIRECTORY_PROVIDER=http) counts the same as Steward's staff list.
    if (user.directory_staff) throw refused("target_is_staff", `The product marks ${user.id} as its own staff; staff accounts are not impersonated`);
    if (ctx.actor.kind === "staff" && (await liveSessionOfStaff(db, ctx.actor.staffId))) throw refused("session_already_live", "You already have a live impersonation session; end it first");
  },
  validate: async (target, input, ctx) => {
    if (ctx.reason.length < IMPERSONATION_REASON_MIN) throw Problem.badRequest(`Say why you need to see the customer's account, in at least ${IMPERSONATION_REASON_MIN} characters`, [{ field: "body.reason", reason: `at least ${IMPERSONATION_REASON_MIN} characters` }]);
    await productForStart(ctx.deps.database.db, input.productId);
  },
  apply: async (trx, target, input, ctx) => {
    if (ctx.actor.kind !== "staff") throw Problem.forbidden("staff_only", "Only staff start impersonation sessions");
    const { deps, now } = ctx;
    // One agent's starts run one after the other, so "one live session" holds under races.
    await trx.selectFrom("staff").select("id").where("id", "=", ctx.actor.staffId).forUpdate().executeTakeFirst();
    if (await liveSessionOfStaff(trx, ctx.actor.staffId)) throw refused("session_already_live", "You already have a live impersonation session; end it first");
    const product = await productForStart(trx, input.productId);
    const sid = `imp_${randomUUID()}`;
    const jti = randomBytes(18).toString("base64url");
    const absolute = new Date(now.getTime() + input.minutes * 60_000);
    const grant = await signGrant(
      grantKeysFor(deps.config),
      { sub: target.id, aud: product.id, jti, sid, ticket: ctx.ticketId, mode: input.mode, act: { sub: ctx.actor.zendeskUserId, email: ctx.actor.email, name: ctx.actor.name } },
      deps.config.publicUrl,
      now,
    );
    const session = await trx
      .insertInto("impersonation_sessions")
      .values({
        id: sid,
        staff_id: ctx.actor.staffId,
        agent_zendesk_user_id: ctx.actor.zendeskUserId,
        agent_email: ctx.actor.email,
        agent_name: ctx.actor.name,
        agent_panel_role: ctx.actor.panelRole,
        user_id: target.id,
        account_id: target.accountId,
        product_id: product.id,
        ticket_id: ctx.ticketId,
        reason: ctx.reason,
        mode: input.mode,
        started_at: now,
        last_activity_at: now,
        idle_deadline: idleDeadlineAfter(now, absolute, deps.config),
        absolute_deadline: absolute,
        grant_jti: jti,
        grant_expires_at: grant.expiresAt,
        redeemed_at: null,
        ended_at: null,
        end_reason: null,
        ended_by: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    const notices = await customerNoticesOn(trx);
    if (notices) {
      const mail = sessionStartMail(session, target.user.name, deps.config);
      await enqueueMail(trx, { to: target.user.email, ...mail, kind: "impersonation_started", accountId: target.accountId, userId: target.id, ticketId: ctx.ticketId, operationId: ctx.operationId }, now);
    }
    await enqueueTicketNote(trx, { ticketId: ctx.ticketId, body: startNote(session, target.user.email, deps.config), kind: "impersonation_started", sessionId: sid, operationId: ctx.operationId }, now);
    const openUrl = `${product.url}/steward/impersonate?grant=${encodeURIComponent(grant.token)}`;
    return {
      after: { impersonation: { ...sessionSummary(session), productUrl: product.url, customerNotified: notices } },
      result: { sessionId: sid, grant: grant.token, grantExpiresAt: grant.expiresAt.toISOString(), openUrl, idleDeadline: new Date(session.idle_deadline).toISOString(), absoluteDeadline: absolute.toISOString() },
    };
  },
});
