import { actionInputs } from "../../../../shared/schemas/actions.js";
import type { ActionResponse } from "../../../../shared/schemas/actions.js";
import { appendAudit } from "../../audit/auditLog.js";
import { Problem } from "../../http/problem.js";
import { closeOperation, parseRequest } from "../../reconcile/providerOperations.js";
import { defineCommand } from "../command.js";
import { completeIdempotencyKey, releaseIdempotencyKey } from "../idempotency.js";

/**
 * operation.resolve — closes a provider operation the reconciler gave up on (`needs_review`: past
 * the provider's key retention and a re-read could not tell), after someone from operations checked
 * the provider. `applied`: it happened (closed succeeded; the agent's Idempotency-Key answers so, and
 * Steward's copy follows the provider on its next read); `not_applied`: it did not (closed failed; the
 * key is freed so the agent can ask again). Either way the account takes writes again. The
 * operation gets its closing audit entry, credited to the resolver, next to this action's own.
 */
export const resolveOperation = defineCommand({
  action: "operation.resolve",
  targetType: "account",
  input: actionInputs["operation.resolve"],
  provider: "none",
  runsWhileUnresolved: true,
  validate: async (target, input, ctx) => {
    const op = await ctx.deps.database.db.selectFrom("provider_operations").select(["account_id", "status"]).where("operation_id", "=", input.operationId).executeTakeFirst();
    if (!op || op.account_id !== target.id) {
      throw Problem.badRequest(`No operation ${input.operationId} on account ${target.id}`, [{ field: "body.input.operationId", reason: `no such operation on ${target.id}` }]);
    }
    if (op.status !== "needs_review") {
      throw Problem.conflict("operation_not_in_review", `Operation ${input.operationId} is ${op.status}: only operations waiting for review are resolved by hand`, { status: op.status });
    }
  },
  apply: async (trx, target, input, ctx) => {
    const op = await trx.selectFrom("provider_operations").selectAll().where("operation_id", "=", input.operationId).forUpdate().executeTakeFirstOrThrow();
    // Re-checked under the row lock: two resolvers racing, only one closes it.
    if (op.status !== "needs_review") throw Problem.conflict("operation_not_in_review", `Operation ${input.operationId} is ${op.status}`, { status: op.status });
    const applied = input.resolution === "applied";
    const resolver = ctx.actor.kind === "staff" ? ctx.actor.email : `system:${ctx.actor.component}`;
    const note = `resolved by ${resolver} (ticket ${ctx.ticketId}): ${applied ? "applied at the provider" : "not applied at the provider"}`;
    await closeOperation(trx, op.operation_id, applied ? "succeeded" : "failed", ctx.now, note);
    const request = parseRequest(op.request);
    const closing = await appendAudit(
      trx,
      {
        actor: ctx.actor,
        action: op.action as never,
        target: { type: op.target_type, id: op.target_id, accountId: op.account_id },
        ticketId: request.ticketId,
        reason: ctx.reason,
        after: { resolution: input.resolution, resolvedBy: resolver, resolvedForTicket: ctx.ticketId, lastError: op.last_error },
        outcome: applied ? "succeeded" : "failed",
        error: applied ? null : note,
        operationId: op.operation_id,
      },
      ctx.deps.clock,
    );
    if (op.idempotency_key) {
      if (applied) {
        const response: ActionResponse = { action: op.action, outcome: "succeeded", auditEntryId: closing.id, operationId: op.operation_id, target: { type: op.target_type, id: op.target_id }, before: null, after: { resolution: "applied", resolvedBy: resolver }, replayed: false };
        await completeIdempotencyKey(trx, op.key_owner, op.idempotency_key, response, ctx.now);
      } else {
        await releaseIdempotencyKey(trx, op.key_owner, op.idempotency_key);
      }
    }
    const after = { operation: { operationId: op.operation_id, action: op.action, status: applied ? "succeeded" : "failed", resolution: input.resolution } };
    return { after, result: { ...after.operation, accountId: target.id } };
  },
});
