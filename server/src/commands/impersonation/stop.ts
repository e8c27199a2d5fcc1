import { roleAtLeast } from "../../../../shared/roles.js";
import { actionInputs } from "../../../../shared/schemas/actions.js";
import { END_OTHERS_SESSION_MIN_ROLE } from "../../../../shared/actions.js";
import { endSessionIn, sessionSummary } from "../../impersonation/endSession.js";
import { loadSession } from "../../impersonation/sessions.js";
import { Problem } from "../../http/problem.js";
import { defineCommand } from "../command.js";

/**
 * impersonation.stop — ends a live session: the agent's own (`agent`), or anyone's for operations and
 * admin (`admin_revoked`). The product sees it on its next status check (within 5 s).
 */
export const stopImpersonation = defineCommand({
  action: "impersonation.stop",
  targetType: "user",
  input: actionInputs["impersonation.stop"],
  provider: "none",
  // Ending a session only takes access away and reads nothing an open billing operation concerns: it must not wait for one.
  runsWhileUnresolved: true,
  // Nor on the ticket: a closed ticket (merged), a changed requester or Zendesk down must not keep a session running.
  endsAccess: true,
  permit: async (actor, input, deps) => {
    if (actor.kind !== "staff") return;
    const session = await deps.database.db.selectFrom("impersonation_sessions").select("staff_id").where("id", "=", input.sessionId).executeTakeFirst();
    if (session && session.staff_id !== actor.staffId && !roleAtLeast(actor.panelRole, END_OTHERS_SESSION_MIN_ROLE)) {
      throw Problem.forbidden("not_your_session", "Only operations and admin may end another agent's session", { requiredRole: END_OTHERS_SESSION_MIN_ROLE, panelRole: actor.panelRole });
    }
  },
  validate: async (target, input, ctx) => {
    const session = await loadSession(ctx.deps.database.db, input.sessionId);
    if (session.user_id !== target.id) throw Problem.badRequest(`Session ${input.sessionId} is not about ${target.id}`, [{ field: "body.target.id", reason: `session ${input.sessionId} views ${session.user_id}` }]);
    if (session.ended_at) throw Problem.conflict("session_already_ended", `Session ${input.sessionId} already ended (${session.end_reason})`);
  },
  apply: async (trx, _target, input, ctx) => {
    const own = ctx.actor.kind === "staff" && (await loadSession(trx, input.sessionId)).staff_id === ctx.actor.staffId;
    const endedBy = ctx.actor.kind === "staff" ? ctx.actor.staffId : `system:${ctx.actor.component}`;
    const { session, durationSeconds } = await endSessionIn(trx, input.sessionId, { reason: own ? "agent" : "admin_revoked", endedBy, now: ctx.now, operationId: ctx.operationId, config: ctx.deps.config });
    const summary = sessionSummary(session, durationSeconds);
    return { after: { impersonation: summary }, result: summary };
  },
});
