import { actionRules, type ActionName, type ActionRule } from "../../../shared/actions.js";
import type { ActionPreviewResponse, ActionResponse, ActionTarget } from "../../../shared/schemas/actions.js";
import type { Actor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import { newOperationId, recordIntent, recordOutcome } from "../audit/operations.js";
import { assertAllowed, checkCap } from "../auth/permissions.js";
import { recordDenial } from "../auth/recordDenial.js";
import type { AppDeps } from "../deps.js";
import { Problem, toProblem } from "../http/problem.js";
import { isExternal, type AnyCommand, type CommandContext } from "./command.js";
import { issueConfirmationToken, previewFingerprint, verifyConfirmationToken } from "./confirmation.js";
import { claimIdempotencyKey, completeIdempotencyKey, releaseIdempotencyKey, requestHash } from "./idempotency.js";
import { bumpVersion, loadTarget, snapshotOf, type CommandTarget } from "./targets.js";

/** The one write path: every support action, from the API or a sweep, runs through here. */
export interface CommandRequest {
  actor: Actor;
  ticketId: string;
  reason: string;
  target: ActionTarget;
  expectedVersion: number;
  input: unknown;
  confirmationToken?: string | undefined;
  idempotencyKey?: string | undefined;
  requestId?: string | null;
}

function auditTarget(target: CommandTarget | ActionTarget, accountId: string | null) {
  return { type: target.type, id: target.id, accountId };
}

async function checkPermission(command: AnyCommand, req: CommandRequest, deps: AppDeps, input: unknown): Promise<void> {
  const action = command.action as ActionName;
  try {
    assertAllowed(req.actor, action);
    await command.permit?.(req.actor, input as never, deps);
    if (command.capValue) await checkCap(deps.database.db, req.actor, action, command.capValue(input as never));
  } catch (err) {
    const problem = toProblem(err);
    if (problem.status === 403) {
      await recordDenial(deps, { actor: req.actor, action, problem, target: { type: req.target.type, id: req.target.id, accountId: null }, ticketId: req.ticketId, reason: req.reason });
    }
    throw problem;
  }
}

function staleVersion(target: CommandTarget, expected: number): Problem {
  return Problem.conflict("stale_version", `The ${target.type} changed since you loaded it (version ${expected}, now ${target.version}); reload and try again`, {
    expectedVersion: expected,
    currentVersion: target.version,
  });
}

async function previewOf(command: AnyCommand, target: CommandTarget, input: unknown, ctx: CommandContext) {
  if (!command.preview) return null;
  const effects = await command.preview(target as never, input as never, ctx);
  return { effects, fingerprint: previewFingerprint(target.version, input, effects) };
}

/** Destructive actions (shared/actions.ts) need the preview's token, unless the command says this request is harmless. */
async function confirmationNeeded(command: AnyCommand, target: CommandTarget, input: unknown, ctx: CommandContext): Promise<boolean> {
  if (!(actionRules[command.action as ActionName] as ActionRule).destructive) return false;
  return command.confirmationRequired ? await command.confirmationRequired(target as never, input as never, ctx) : true;
}

function contextFor(req: CommandRequest, deps: AppDeps, operationId: string): CommandContext {
  return { deps, actor: req.actor, ticketId: req.ticketId, reason: req.reason, requestId: req.requestId ?? null, operationId, now: deps.clock.now() };
}

/** The billing-aware preview of a destructive action, with its confirmation token. */
export async function previewCommand(command: AnyCommand, req: CommandRequest, deps: AppDeps): Promise<ActionPreviewResponse> {
  const input = command.input.parse(req.input);
  await checkPermission(command, req, deps, input);
  if (!command.preview) throw Problem.badRequest(`${command.action} has no preview: it is not destructive`);
  const target = await loadTarget(deps.database.db, command.targetType, req.target.id);
  if (target.version !== req.expectedVersion) throw staleVersion(target, req.expectedVersion);
  const ctx = contextFor(req, deps, newOperationId());
  await command.validate?.(target as never, input as never, ctx);
  const preview = (await previewOf(command, target, input, ctx))!;
  const staffId = req.actor.kind === "staff" ? req.actor.staffId : `system:${req.actor.component}`;
  const { token, expiresAt } = await issueConfirmationToken({ staffId, action: command.action, target: req.target, fingerprint: preview.fingerprint }, deps);
  return { action: command.action, target: req.target, effects: preview.effects, confirmationToken: token, expiresAt };
}

export async function runCommand(command: AnyCommand, req: CommandRequest, deps: AppDeps): Promise<ActionResponse> {
  const { db } = deps.database;
  const action = command.action as ActionName;
  const parsed = command.input.safeParse(req.input);
  if (!parsed.success) throw toProblem(parsed.error);
  const input = parsed.data;
  await checkPermission(command, req, deps, input);

  const staffId = req.actor.kind === "staff" ? req.actor.staffId : `system:${req.actor.component}`;
  const idempotencyKey = req.idempotencyKey;
  if (idempotencyKey) {
    const claim = await claimIdempotencyKey(db, staffId, idempotencyKey, action, requestHash({ ...req, actor: staffId, confirmationToken: undefined, requestId: undefined }));
    if (claim.kind === "replay") return claim.response;
  }

  const ctx = contextFor(req, deps, newOperationId());
  // Derived from the agent's key when there is one, so a retried request reaches Stripe with the same key.
  const providerKey = idempotencyKey ? `steward:${staffId}:${action}:${idempotencyKey}` : `steward:${ctx.operationId}`;
  let accountId: string | null = null;
  let before: unknown = null;
  let intent: Awaited<ReturnType<typeof recordIntent>> | null = null;
  try {
    const target = await loadTarget(db, command.targetType, req.target.id);
    accountId = target.accountId;
    before = snapshotOf(target);
    if (target.version !== req.expectedVersion) throw staleVersion(target, req.expectedVersion);
    if (command.providerState) before = { ...(before as object), ...(await command.providerState(target as never, input as never, ctx)) };
    await command.validate?.(target as never, input as never, ctx);
    const preview = await previewOf(command, target, input, ctx);
    if (preview) {
      if (await confirmationNeeded(command, target, input, ctx)) {
        await verifyConfirmationToken(req.confirmationToken, { staffId, action, target: req.target, fingerprint: preview.fingerprint }, deps);
      }
      before = { ...(before as object), effects: preview.effects };
    }
    const auditBase = { actor: req.actor, action, target: auditTarget(target, accountId), ticketId: req.ticketId, reason: req.reason, requestId: req.requestId ?? null };

    const external = Boolean(command.perform) && isExternal(command, deps);
    let performed: unknown;
    if (external) {
      // Auth0/Stripe cannot join our transaction: commit the intent first so a crash leaves a visible `pending` entry.
      intent = await recordIntent(db, { ...auditBase, before }, deps.clock);
      ctx.operationId = intent.operationId;
      performed = await command.perform!(target as never, input as never, ctx, { idempotencyKey: providerKey });
    }
    return await db.transaction().execute(async (trx) => {
      const locked = await loadTarget(trx, command.targetType, req.target.id, { lock: true });
      if (locked.version !== target.version) throw staleVersion(locked, req.expectedVersion);
      if (!external && command.perform) performed = await command.perform(locked as never, input as never, ctx, { idempotencyKey: providerKey, executor: trx });
      // Bumped before apply so the `after` snapshot carries the version the agent must send next.
      await bumpVersion(trx, locked, ctx.now);
      const applied = await command.apply(trx, locked as never, input as never, ctx, performed as never);
      const entry = await appendAudit(trx, { ...auditBase, before, after: applied.after, outcome: "succeeded", operationId: ctx.operationId }, deps.clock);
      const response: ActionResponse = {
        action,
        outcome: "succeeded",
        auditEntryId: entry.id,
        operationId: ctx.operationId,
        target: req.target,
        before,
        after: applied.after,
        ...(applied.result ? { result: applied.result } : {}),
        replayed: false,
      };
      if (idempotencyKey) await completeIdempotencyKey(trx, staffId, idempotencyKey, response, ctx.now);
      return response;
    });
  } catch (err) {
    if (idempotencyKey) await releaseIdempotencyKey(db, staffId, idempotencyKey).catch(() => undefined);
    const problem = toProblem(err);
    const error = `${problem.code}: ${problem.detail ?? problem.title}`;
    try {
      if (intent) {
        // Closes the bracket: the provider call failed, or it succeeded and our local write did not.
        await recordOutcome(db, intent, { outcome: "failed", error }, deps.clock);
      } else if (problem.status !== 403) {
        // Denials were audited where they happened.
        await appendAudit(db, { actor: req.actor, action, target: auditTarget(req.target, accountId), ticketId: req.ticketId, reason: req.reason, before, outcome: "failed", error, requestId: req.requestId ?? null, operationId: ctx.operationId }, deps.clock);
      }
    } catch (auditErr) {
      deps.logger.error({ err: auditErr, action }, "could not audit a failed action");
    }
    throw err;
  }
}
