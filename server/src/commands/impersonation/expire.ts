import { z } from "zod";
import { EndReason } from "../../../../shared/schemas/impersonation.js";
import { endSessionIn, sessionSummary } from "../../impersonation/endSession.js";
import { endReasonDue, liveContextOf, loadSession } from "../../impersonation/sessions.js";
import { Problem } from "../../http/problem.js";
import { defineCommand } from "../command.js";

export const ExpireImpersonationInput = z.object({ sessionId: z.string().min(1), endReason: EndReason.exclude(["agent", "admin_revoked"]) }).strict();

/**
 * impersonation.expire — Steward's own action (the sweep, or a product's status check that finds the
 * session due): ends a session past a deadline, or whose agent lost panel access, or whose customer
 * was blocked, suspended, deleted or protected from impersonation. The reason is re-checked under the session's lock.
 */
export const expireImpersonation = defineCommand({
  action: "impersonation.expire",
  targetType: "user",
  input: ExpireImpersonationInput,
  provider: "none",
  // Ending a session only takes access away and reads nothing an open billing operation concerns: it must not wait for one.
  runsWhileUnresolved: true,
  apply: async (trx, _target, input, ctx) => {
    const row = await loadSession(trx, input.sessionId, { lock: true });
    const due = endReasonDue(row, ctx.now, await liveContextOf(trx, row));
    if (row.ended_at) throw Problem.conflict("session_already_ended", `Session ${input.sessionId} already ended (${row.end_reason})`);
    if (due !== input.endReason) throw Problem.conflict("session_not_due", `Session ${input.sessionId} is not due to end for ${input.endReason} (now: ${due ?? "live"})`);
    const { session, durationSeconds } = await endSessionIn(trx, input.sessionId, { reason: input.endReason, endedBy: "system:impersonation-sweep", now: ctx.now, operationId: ctx.operationId, config: ctx.deps.config });
    return { after: { impersonation: sessionSummary(session, durationSeconds) } };
  },
});
