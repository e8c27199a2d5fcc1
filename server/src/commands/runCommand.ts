import { actionRules, type ActionName, type ActionRule } from "../../../shared/actions.js";
import type { ActionPreviewResponse, ActionResponse, ActionTarget } from "../../../shared/schemas/actions.js";
import type { Actor } from "../actor.js";
import { appendAudit } from "../audit/auditLog.js";
import { auditWriteFailed } from "../audit/failClosed.js";
import { newOperationId } from "../audit/operations.js";
import { assertAllowed, checkCap } from "../auth/permissions.js";
import { recordDenial } from "../auth/recordDenial.js";
import type { AppDeps } from "../deps.js";
import { fieldErrors, Problem, toProblem } from "../http/problem.js";
import { openOperationsOf, renewOperationLease } from "../reconcile/providerOperations.js";
import { billingReadingOf } from "./billingState.js";
import { isExternal, type AnyCommand, type CommandContext } from "./command.js";
import { issueConfirmationToken, previewFingerprint, verifyConfirmationToken } from "./confirmation.js";
import { releaseCapUsage, reserveCommandCaps, type CapReservation } from "../staff/capUsage.js";
import { unknownEffectOf } from "./effectUnknown.js";
import { claimIdempotencyKey, releaseIdempotencyKey, renewIdempotencyKey, requestHash } from "./idempotency.js";
import { commitSucceeded, openOperation, recordFailed, recordUnknown, settledResponse, type OpenedOperation, type SettledOperation } from "./operationRecord.js";
import { outcomeUnknown } from "./outcomeUnknown.js";
import { accountLeaseKey, acquireLease, keepRenewing, leaseHolderFor, releaseLease, renewLease } from "./targetLease.js";
import { assertTargetType } from "./targetType.js";
import { loadTarget, snapshotOf, stewardWritesOf, type CommandTarget, type Executor } from "./targets.js";
import type { AuditApproval } from "../../../shared/audit.js";
import { recordTicketCheck, verifyTicket, type TicketCheckResult } from "../zendesk/ticketVerification.js";
import { approvalRequired, rolesThatCan } from "./approval/policy.js";
import { readDepsOf, refreshTarget } from "../directory/readThrough.js";
import { mailLanguageOf } from "../mail/templates.js";
import { isNoticeMandatory, noticeOf } from "../mail/notices.js";

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
  /** Operations+ going ahead although the ticket's requester is not the target (ticketVerification.ts). */
  ticketOverrideReason?: string | undefined;
  /** Set when a second person approved this request (approvals): both are recorded. */
  approval?: AuditApproval | null;
  /** The agent's "notify the customer" choice; a mandatory notice cannot be turned off (400). */
  notifyCustomer?: boolean | undefined;
  /** The ticket requester's locale (as Zendesk has it): the customer's mail in that language where translated. */
  customerLocale?: string | undefined;
}

/** The notice choice must fit the action: no notice to turn on where there is none, none to turn off where it is mandatory. */
export function assertNoticeChoice(action: string, notify: boolean | undefined): void {
  if (notify === false && isNoticeMandatory(action)) throw Problem.badRequest("The request has invalid fields", [{ field: "body.notifyCustomer", reason: "the security notice after this action is always sent; it cannot be turned off" }]);
  if (notify === true && !noticeOf(action)) throw Problem.badRequest("The request has invalid fields", [{ field: "body.notifyCustomer", reason: `${action} has no customer notice` }]);
}

/** The command's own input checks (beyond the shared schema the route applied): 400 naming the body field, before any audit. */
function parseInput(command: AnyCommand, raw: unknown): unknown {
  const parsed = command.input.safeParse(raw);
  if (!parsed.success) throw Problem.badRequest("The request has invalid fields", fieldErrors(parsed.error, "body.input", raw));
  return parsed.data;
}

function auditTarget(target: CommandTarget | ActionTarget, accountId: string | null) {
  return { type: target.type, id: target.id, accountId };
}

/** Who owns Idempotency-Keys and leases: the staff member, or the part of Steward acting. */
export function keyOwnerOf(actor: Actor): string {
  return actor.kind === "staff" ? actor.staffId : `system:${actor.component}`;
}

/** Resolves to what the audit entry records of a capped action: the value asked for and the cap in force. */
async function checkPermission(command: AnyCommand, req: CommandRequest, deps: AppDeps, input: unknown): Promise<CapRecord | null> {
  const action = command.action as ActionName;
  try {
    assertAllowed(req.actor, action);
    await command.permit?.(req.actor, input as never, deps, req.target);
    const value = command.capValue ? command.capValue(input as never) : null;
    const cap = value === null ? null : await checkCap(deps.database.db, req.actor, action, value);
    // An action an admin marked runs only through an approval (which sets req.approval).
    if (req.actor.kind === "staff" && !req.approval && (await approvalRequired(deps.database.db, action))) {
      throw Problem.forbidden("approval_required", `${action} needs a second person: ask for approval (POST /api/approvals)`, {
        action,
        canApprove: await rolesThatCan(deps.database.db, action, command.capValue ? command.capValue(input as never) : null),
        approvalPossible: true,
      });
    }
    // The cap console flags read this (cap_edge): the share of the cap an entry used, whatever the cap was then.
    return value !== null && cap ? { value, limit: cap.limit, unit: cap.unit } : null;
  } catch (err) {
    const problem = toProblem(err);
    if (problem.status === 403) {
      await recordDenial(deps, { actor: req.actor, action, problem, target: { type: req.target.type, id: req.target.id, accountId: null }, ticketId: req.ticketId, reason: req.reason });
    }
    throw problem;
  }
}

/** A capped action's value and the cap in force for the agent's role when it ran. */
interface CapRecord {
  value: number;
  limit: number;
  unit: string;
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

export function contextFor(req: CommandRequest, deps: AppDeps, operationId: string): CommandContext {
  return { deps, actor: req.actor, ticketId: req.ticketId, reason: req.reason, requestId: req.requestId ?? null, operationId, now: deps.clock.now(), customerLanguage: mailLanguageOf(req.customerLocale) };
}

/** The account a target belongs to: its lease covers the account and all its users. */
async function accountOf(db: Executor, target: ActionTarget): Promise<string> {
  if (target.type === "account") return target.id;
  const row = await db.selectFrom("users").select(["account_id", "status"]).where("id", "=", target.id).executeTakeFirst();
  if (!row || row.status === "deleted") throw Problem.notFound(`No user ${target.id}`);
  return row.account_id;
}

/** A write on top of a change whose outcome is not known yet would check against a state nobody knows. */
export async function refuseWhileUnresolved(db: Executor, accountId: string): Promise<void> {
  const open = await openOperationsOf(db as never, accountId);
  if (open.length === 0) return;
  throw Problem.conflict(
    "outcome_pending",
    `An earlier action on this account (${open.map((o) => o.action).join(", ")}) has an outcome not known yet; Steward is checking with the provider. Try again once it is settled`,
    { operationIds: open.map((o) => o.operation_id), retryable: true },
  );
}

/** The preview of an action that moves money or access (billing-aware), with its confirmation token (destructive ones need it). */
export async function previewCommand(command: AnyCommand, req: CommandRequest, deps: AppDeps): Promise<ActionPreviewResponse> {
  const input = parseInput(command, req.input);
  assertTargetType(command.action, req.target);
  await checkPermission(command, req, deps, input);
  await command.checkInput?.(input as never, deps);
  if (!command.preview) throw Problem.badRequest(`${command.action} has no preview`);
  await verifyTicket(deps, { ...req, action: command.action as ActionName });
  await refreshTarget(readDepsOf(deps, { actor: req.actor, ticketId: req.ticketId }), req.target);
  const target = await loadTarget(deps.database.db, command.targetType, req.target.id);
  if (target.version !== req.expectedVersion) throw staleVersion(target, req.expectedVersion);
  const ctx = contextFor(req, deps, newOperationId());
  await command.precondition?.(target as never, ctx);
  await command.validate?.(target as never, input as never, ctx);
  const preview = (await previewOf(command, target, input, ctx))!;
  const { token, expiresAt } = await issueConfirmationToken({ staffId: keyOwnerOf(req.actor), action: command.action, target: req.target, fingerprint: preview.fingerprint }, deps);
  return { action: command.action, target: req.target, effects: preview.effects, confirmationToken: token, expiresAt };
}

/**
 * Steps, in order: input and permission; the Idempotency-Key; the account's lease (nothing else
 * writes to this account or its users until we are done); the version check, validation, preview and
 * confirmation; then the provider call and the local change with its audit entry. A provider call
 * whose effect is not known answers 202 `outcome_unknown` and stays open for the reconciler.
 */
export async function runCommand(command: AnyCommand, req: CommandRequest, deps: AppDeps): Promise<ActionResponse> {
  const { db } = deps.database;
  const { OPERATION_LEASE_MS: leaseMs, TARGET_LEASE_WAIT_MS: waitMs } = deps.config;
  const action = command.action as ActionName;
  const input = parseInput(command, req.input);
  assertNoticeChoice(action, req.notifyCustomer);
  assertTargetType(action, req.target);
  const capRecord = await checkPermission(command, req, deps, input);
  await command.checkInput?.(input as never, deps);

  const keyOwner = keyOwnerOf(req.actor);
  const idempotencyKey = req.idempotencyKey ?? null;
  if (idempotencyKey) {
    const claim = await claimIdempotencyKey(db, keyOwner, idempotencyKey, action, requestHash({ ...req, actor: keyOwner, confirmationToken: undefined, requestId: undefined }), leaseMs);
    if (claim.kind === "replay") return claim.response;
  }
  // A read of Zendesk, before anything is written: refused or unreadable, the request ends here.
  let ticketSnapshot;
  let ticketCheck: TicketCheckResult | null = null;
  try {
    if (command.endsAccess) ({ snapshot: ticketSnapshot, check: ticketCheck } = await recordTicketCheck(deps, { ...req, action }));
    else ticketSnapshot = await verifyTicket(deps, { ...req, action });
  } catch (err) {
    if (idempotencyKey) await releaseIdempotencyKey(db, keyOwner, idempotencyKey).catch(() => undefined);
    throw err;
  }
  const recorded = { ticketSnapshot, approval: req.approval ?? null };

  const ctx = contextFor(req, deps, newOperationId());
  // Ours alone: should our lease lapse mid-call, the reconciler takes the operation over under a holder id of its own.
  const leaseHolder = leaseHolderFor(ctx.operationId, "request");
  // Derived from the agent's key when there is one, so a retried request reaches Stripe with the same key.
  const providerKey = idempotencyKey ? `steward:${keyOwner}:${action}:${idempotencyKey}` : `steward:${ctx.operationId}`;
  let accountId: string | null = null;
  let before: unknown = null;
  let operation: OpenedOperation | null = null;
  let capReservation: CapReservation | null = null;
  let leaseKey: string | null = null;
  let renewal: { stop(): void } | null = null;
  try {
    // DIRECTORY_PROVIDER=http: the target and its account as the product has them now (the cache is refreshed, never trusted).
    await refreshTarget(readDepsOf(deps, { actor: req.actor, ticketId: req.ticketId }), req.target);
    accountId = await accountOf(db, req.target);
    await acquireLease(db, accountLeaseKey(accountId), leaseHolder, { ttlMs: leaseMs, waitMs });
    leaseKey = accountLeaseKey(accountId);
    const heldKey = leaseKey;
    // The holder renews everything it holds while it works; a crashed holder's leases lapse on their own.
    renewal = keepRenewing(
      () =>
        Promise.all([
          renewLease(db, heldKey, leaseHolder, leaseMs),
          idempotencyKey ? renewIdempotencyKey(db, keyOwner, idempotencyKey, leaseMs) : null,
          operation ? renewOperationLease(db, operation.operationId, leaseMs) : null,
        ]),
      leaseMs,
      (err) => deps.logger.warn({ err, action }, "could not renew a lease"),
    );
    if (!command.runsWhileUnresolved) await refuseWhileUnresolved(db, accountId);
    // Caps over time: reserved before any provider call, so parallel requests cannot split a cap.
    capReservation = await reserveCommandCaps(deps, { ...req, action }, command.capValue ? command.capValue(input as never) : null);

    const target = await loadTarget(db, command.targetType, req.target.id);
    before = snapshotOf(target);
    // Ending access names exactly what it ends (a session): a change to the customer since the agent loaded it must not keep it running.
    if (!command.endsAccess && target.version !== req.expectedVersion) throw staleVersion(target, req.expectedVersion);
    if (command.providerState) before = { ...(before as object), ...(await command.providerState(target as never, input as never, ctx)) };
    await command.precondition?.(target as never, ctx);
    await command.validate?.(target as never, input as never, ctx);
    const preview = await previewOf(command, target, input, ctx);
    if (preview) {
      if (await confirmationNeeded(command, target, input, ctx)) {
        await verifyConfirmationToken(req.confirmationToken, { staffId: keyOwner, action, target: req.target, fingerprint: preview.fingerprint }, deps);
      }
      before = { ...(before as object), effects: preview.effects };
    }
    if (capRecord) before = { ...(before as object), cap: capRecord };
    if (ticketCheck) before = { ...(before as object), ticketCheck };
    const auditBase = { actor: req.actor, action, target: auditTarget(target, accountId), ticketId: req.ticketId, reason: req.reason, requestId: req.requestId ?? null, ...recorded };
    const commit = { command, target: req.target, input, ctx, auditBase, before, expectedVersion: target.version, expectedStewardWrites: stewardWritesOf(target), providerKey, keyOwner, idempotencyKey, notify: req.notifyCustomer };

    // Before the provider call: everything that may refuse the action has run; nothing has left Steward yet.
    if (!(command.perform && isExternal(command, deps))) return await commitSucceeded(deps, { ...commit, operationId: null });
    if (command.intentIsTheGrant) {
      const performed = await command.perform(target as never, input as never, ctx, { idempotencyKey: providerKey });
      return await commitSucceeded(deps, { ...commit, performed: { value: performed }, operationId: null });
    }

    // Auth0/Stripe cannot join our transaction: commit the intent and the operation record first, so a crash leaves both.
    const providerBefore = await providerReading(ctx);
    operation = await openOperation(deps, auditBase, before, {
      operationId: ctx.operationId,
      action,
      targetType: command.targetType,
      targetId: req.target.id,
      accountId,
      keyOwner,
      idempotencyKey,
      providerKey,
      request: { actor: req.actor, ticketId: req.ticketId, reason: req.reason, requestId: req.requestId ?? null, input, now: ctx.now.toISOString(), ...(req.notifyCustomer !== undefined ? { notifyCustomer: req.notifyCustomer } : {}), customerLanguage: ctx.customerLanguage ?? "en" },
      providerBefore,
      // Read now, after this request's reads and just before its first provider call: the reconciler dates a
      // replayed answer by it (keyOpenedAt), which a read this request asked before the call must not outrank.
      createdAt: deps.clock.now(),
    });
    let performed: unknown;
    try {
      performed = await command.perform(target as never, input as never, ctx, { idempotencyKey: providerKey });
    } catch (err) {
      const unknown = unknownEffectOf(err);
      if (unknown) return await settleLater(deps, operation, unknown, idempotencyKey ? { owner: keyOwner, key: idempotencyKey } : null);
      throw err;
    }
    try {
      return await commitSucceeded(deps, { ...commit, performed: { value: performed }, operationId: operation.operationId });
    } catch (err) {
      // The provider did it; our record of it failed. Not "nothing changed": the reconciler mirrors it.
      return await settleLater(deps, operation, `the provider call succeeded, recording it failed (${toProblem(err).detail ?? String(err)})`, idempotencyKey ? { owner: keyOwner, key: idempotencyKey } : null);
    }
  } catch (err) {
    const problem = toProblem(err);
    // An outcome not known yet keeps its cap reservation (the cap errs on the strict side) and its key.
    if (problem.code === "outcome_unknown") throw problem;
    const error = `${problem.code}: ${problem.detail ?? problem.title}`;
    let settled: SettledOperation | null = null;
    try {
      if (operation) {
        // Closes the bracket: the provider refused, so nothing changed there (unless the reconciler settled it meanwhile).
        settled = await recordFailed(deps, operation, error, ctx.now);
      } else if (problem.status !== 403) {
        // Denials were audited where they happened. A grant's revert has no bracket: a lost answer is its one `unknown` entry.
        const outcome = command.intentIsTheGrant && unknownEffectOf(err) ? "unknown" : "failed";
        await appendAudit(db, { actor: req.actor, action, target: auditTarget(req.target, accountId), ticketId: req.ticketId, reason: req.reason, before, outcome, error, requestId: req.requestId ?? null, operationId: ctx.operationId, ...recorded }, deps.clock);
      }
    } catch (auditErr) {
      await releaseCapUsage(deps, capReservation);
      if (idempotencyKey) await releaseIdempotencyKey(db, keyOwner, idempotencyKey).catch(() => undefined);
      deps.logger.error({ err: auditErr, action }, "could not audit a failed action");
      // Fail closed: a failure that cannot be audited is answered 503, not with its own status.
      throw auditWriteFailed(auditErr);
    }
    // Refused here, yet the reconciler's retry (it took over this request's lapsed operation) settled it otherwise: that is the answer.
    if (settled && settled.status !== "failed") return await answerSettled(deps, operation!.operationId, settled, idempotencyKey ? { owner: keyOwner, key: idempotencyKey } : null);
    await releaseCapUsage(deps, capReservation);
    if (idempotencyKey) await releaseIdempotencyKey(db, keyOwner, idempotencyKey).catch(() => undefined);
    throw err;
  } finally {
    renewal?.stop();
    if (leaseKey) await releaseLease(db, leaseKey, leaseHolder).catch((err: unknown) => deps.logger.warn({ err, action }, "could not release a lease; it lapses on its own"));
  }
}

/** The billing reading this request worked from, wrapped so "read, no customer" (null) differs from "not read". */
async function providerReading(ctx: CommandContext): Promise<{ billing: unknown } | undefined> {
  const billing = await billingReadingOf(ctx);
  return billing === undefined ? undefined : { billing };
}

/**
 * Records the unknown outcome (entry + operation handed to the reconciler) and throws the 202 answer; or, when
 * the reconciler settled the operation before this request got here, answers with what it found instead.
 */
async function settleLater(deps: AppDeps, operation: OpenedOperation, reason: string, key: { owner: string; key: string } | null): Promise<ActionResponse> {
  let settled: SettledOperation | null = null;
  try {
    // The reconciler's next pass looks at it.
    settled = await recordUnknown(deps, operation, reason, deps.config.RECONCILE_INTERVAL_MS);
  } catch (err) {
    // The operation stays `pending`; once its lease lapses the reconciler takes it all the same.
    deps.logger.error({ err, operationId: operation.operationId }, "could not record an unknown outcome");
  }
  if (settled) return answerSettled(deps, operation.operationId, settled, key);
  throw outcomeUnknown(operation.operationId, `The provider's answer is not known (${reason})`);
}

/** The answer for an operation settled before this request could record its own outcome: the outcome known, not this request's view. */
async function answerSettled(deps: AppDeps, operationId: string, settled: SettledOperation, key: { owner: string; key: string } | null): Promise<ActionResponse> {
  if (settled.status === "needs_review") {
    throw outcomeUnknown(operationId, `Steward could not settle it with the provider and operations must review it (${settled.lastError ?? "no answer"})`, { status: "needs_review" });
  }
  if (settled.status === "failed") {
    throw new Problem(502, "provider_failed", "Not applied at the provider", `Steward settled this action meanwhile: it was not applied (${settled.lastError ?? "no detail"})`, { operationId });
  }
  return settledResponse(deps.database.db, operationId, key);
}
