import type { BillingSummary } from "../../../shared/schemas/context.js";
import type { ActionName } from "../../../shared/actions.js";
import type { AuditEntry } from "../../../shared/audit.js";
import { toAuditEntry } from "../audit/auditRow.js";
import { useEarlierReading } from "../commands/billingState.js";
import type { AnyCommand, CommandContext } from "../commands/command.js";
import { unknownEffectOf } from "../commands/effectUnknown.js";
import { commitSucceeded, OperationClaimLost, recordFailed, type OpenedOperation } from "../commands/operationRecord.js";
import { commands } from "../commands/registry.js";
import { expireSeatExpansion } from "../commands/seats/expansionExpire.js";
import { accountLeaseKey, keepRenewing, leaseHolderFor, releaseLease, renewLease, tryLease } from "../commands/targetLease.js";
import { loadTarget } from "../commands/targets.js";
import { expireElevation } from "../commands/user/elevationExpire.js";
import type { AppDeps } from "../deps.js";
import { toProblem } from "../http/problem.js";
import { appendAudit } from "../audit/auditLog.js";
import { DEFAULT_MAX_DELAY_MS } from "../providers/providerCall.js";
import { isProviderError } from "../providers/providerError.js";
import { claimOperation, markNeedsReview, markUnknown, parseRequest, renewOperationClaim, type OperationRow } from "./providerOperations.js";

/** Every command an operation can belong to: the support actions and Steward's own (sweeps). */
const allCommands = new Map<string, AnyCommand>([...commands.entries(), [expireSeatExpansion.action, expireSeatExpansion as unknown as AnyCommand], [expireElevation.action, expireElevation as unknown as AnyCommand]]);

/** Longest wait between two attempts at one operation. */
const MAX_BACKOFF_MS = 5 * 60_000;

export type FinishOutcome = "succeeded" | "failed" | "unknown" | "needs_review" | "skipped";

type Verdict = Awaited<ReturnType<NonNullable<AnyCommand["verify"]>>>;

/**
 * How long a lost request may still reach the provider: every attempt's timeout plus the backoff
 * between them. Until then "not applied" is not final.
 */
export function inFlightWindowMs(config: AppDeps["config"]): number {
  return config.PROVIDER_TIMEOUT_MS * (config.PROVIDER_MAX_RETRIES + 1) + config.PROVIDER_MAX_RETRIES * DEFAULT_MAX_DELAY_MS;
}

function portsOf(command: AnyCommand): readonly string[] {
  return typeof command.provider === "string" ? [command.provider] : command.provider;
}

/** The command writes to Auth0, which keeps no idempotency key: a retry is a new request. */
function keylessProvider(command: AnyCommand, deps: AppDeps): boolean {
  return portsOf(command).includes("identity") && deps.identity.name !== "builtin";
}

/** The provider answered and (Stripe) saved that answer under the key; a key still in use by a request in flight saved nothing. */
function answeredUnderKey(err: unknown): boolean {
  return isProviderError(err) && err.status !== undefined && !err.keyInUse;
}

export function backoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, 2_000 * 2 ** Math.min(attempts, 12));
}

async function intentEntry(deps: AppDeps, operationId: string): Promise<AuditEntry | undefined> {
  const row = await deps.database.db.selectFrom("audit_log").selectAll().where("operation_id", "=", operationId).where("outcome", "=", "pending").orderBy("seq").limit(1).executeTakeFirst();
  return row ? toAuditEntry(row) : undefined;
}

/** Gives up on the operation, with an audit entry saying so: it now waits for a person (operation.resolve). */
async function needsReview(deps: AppDeps, operation: OpenedOperation, row: OperationRow, claim: string, reason: string): Promise<void> {
  await deps.database.db.transaction().execute(async (trx) => {
    if (!(await markNeedsReview(trx, row.operation_id, reason, claim))) throw new OperationClaimLost(row.operation_id);
    await appendAudit(trx, { ...operation.auditBase, before: operation.before, after: { status: "needs_review", attempts: row.attempts + 1 }, outcome: "unknown", error: `needs_review: ${reason}`, operationId: row.operation_id }, deps.clock);
  });
}

/**
 * Finishes one open operation the way its request would have: under the account's lease, the
 * command's provider call again with the SAME provider idempotency key (Stripe replays a call that
 * already happened) and from the provider reading the request took,
 * then the local change, the closing audit entry and the Idempotency-Key's response in one
 * transaction. A definite refusal closes it as failed; another unknown answer waits for a later run
 * (bounded backoff, attempts counted). When the key cannot settle it (Stripe replays a saved 500) the
 * command's re-read (`verify`) decides; a definite refusal is re-read too (the first attempt may be why
 * it is refused). Past RECONCILE_KEY_HORIZON_MS the key is never used again (a pruned key would apply
 * twice): only the re-read, and if it cannot tell, `needs_review`. Auth0 has no keys: its writes are
 * re-read first, and repeated (each is idempotent by nature) only when the re-read shows them in part.
 */
export async function finishOperation(deps: AppDeps, row: OperationRow): Promise<FinishOutcome> {
  const { db } = deps.database;
  const leaseMs = deps.config.OPERATION_LEASE_MS;
  // This process's claim: renewed while it works, and every outcome it writes requires it still.
  const claim = leaseHolderFor(row.operation_id, "reconciler");
  if (!(await claimOperation(db, row.operation_id, leaseMs, claim))) return "skipped";
  const leaseKey = accountLeaseKey(row.account_id);
  // Not the request's holder id: a request still running (or late) keeps its lease, and cannot renew or release ours.
  const leaseHolder = leaseHolderFor(row.operation_id, "reconciler");
  if (!(await tryLease(db, leaseKey, leaseHolder, leaseMs))) {
    await markUnknown(db, row.operation_id, row.last_error ?? "waiting for the account to be free", new Date(Date.now() + backoffMs(0)), claim);
    return "skipped";
  }
  // Its provider calls (retries, re-reads) may outlast one lease: held until done, as a request holds it.
  const renewal = keepRenewing(() => renewLease(db, leaseKey, leaseHolder, leaseMs), leaseMs, (err) => deps.logger.warn({ err, operationId: row.operation_id }, "reconciler: could not renew the account lease"));
  // The operation's claim too, or a second process's reconciler takes it as abandoned and records a false `unknown`.
  let claimLost = false;
  const claimRenewal = keepRenewing(
    async () => {
      if (!claimLost && !(await renewOperationClaim(db, row.operation_id, claim, leaseMs))) claimLost = true;
    },
    leaseMs,
    (err) => deps.logger.warn({ err, operationId: row.operation_id }, "reconciler: could not renew its claim on the operation"),
  );
  try {
    const request = parseRequest(row.request);
    const intent = await intentEntry(deps, row.operation_id);
    const auditBase = {
      actor: request.actor,
      action: row.action as ActionName,
      target: { type: row.target_type, id: row.target_id, accountId: row.account_id },
      ticketId: request.ticketId,
      reason: request.reason,
      requestId: request.requestId,
      // The closing entry repeats what the intent recorded of the ticket and the approval.
      ticketSnapshot: intent?.ticketSnapshot ?? null,
      approval: intent?.approval ?? null,
    };
    const operation: OpenedOperation = { operationId: row.operation_id, auditBase, before: intent?.before ?? null };
    const key = row.idempotency_key ? { owner: row.key_owner, key: row.idempotency_key } : undefined;
    const now = deps.clock.now();
    const command = allCommands.get(row.action);
    if (!command?.perform) {
      await recordFailed(deps, operation, `reconcile: no command ${row.action} with a provider call`, now, key, claim);
      return "failed";
    }
    const ctx: CommandContext = { deps, actor: request.actor, ticketId: request.ticketId, reason: request.reason, requestId: request.requestId, operationId: row.operation_id, now: new Date(request.now), customerLanguage: request.customerLanguage ?? "en" };
    const reading = (typeof row.provider_before === "string" ? JSON.parse(row.provider_before) : row.provider_before) as { billing?: BillingSummary | null } | null;
    if (reading && reading.billing !== undefined) useEarlierReading(ctx, reading.billing);
    else if (portsOf(command).includes("billing")) {
      // Billing commands derive the call's parameters (a trial end, a seat count) and their re-read's "before" from
      // the request's reading. Without it (a row older than the stored reading) they fail inside the recording
      // transaction on every pass, and a fresh reading, taken after the lost call may have landed, could repeat it
      // with other parameters or misjudge it as not applied: a person decides.
      await needsReview(deps, operation, row, claim, `the request's billing reading was not stored with the operation, so its provider call cannot be repeated as it was made: check the provider, then resolve it (operation.resolve)`);
      return "needs_review";
    }

    let target: Awaited<ReturnType<typeof loadTarget>>;
    try {
      target = await loadTarget(db, command.targetType, row.target_id);
    } catch (err) {
      const problem = toProblem(err);
      await recordFailed(deps, operation, `${problem.code}: ${problem.detail ?? problem.title} (settled by the reconciler)`, now, key, claim);
      return "failed";
    }
    // The request's attempt used this key first: an answer the provider replays from it is no newer than that.
    const call = { idempotencyKey: row.provider_key, keyOpenedAt: new Date(row.created_at) };
    const commit = async (performed: unknown): Promise<FinishOutcome> => {
      try {
        await commitSucceeded(deps, {
          command,
          target: { type: row.target_type, id: row.target_id },
          input: request.input,
          ctx,
          auditBase,
          before: operation.before,
          expectedVersion: null,
          performed: { value: performed },
          providerKey: row.provider_key,
          keyOwner: row.key_owner,
          idempotencyKey: row.idempotency_key,
          operationId: row.operation_id,
          claimedBy: claim,
          notify: request.notifyCustomer,
        });
        return "succeeded";
      } catch (err) {
        if (err instanceof OperationClaimLost) throw err;
        const problem = toProblem(err);
        // An internal error's words point at a request id, which a reconcile has none of: log it under the operation id.
        deps.logger.error({ err, operationId: row.operation_id }, "reconciler: the provider call succeeded, recording it failed");
        const why = problem.code === "internal_error" ? `internal error, logged with operation id ${row.operation_id}` : (problem.detail ?? problem.title);
        if (!(await markUnknown(db, row.operation_id, `the provider call succeeded, recording it failed (${why})`, new Date(Date.now() + backoffMs(row.attempts + 1)), claim))) return "skipped";
        return "unknown";
      }
    };

    const pastHorizon = now.getTime() - new Date(row.created_at).getTime() >= deps.config.RECONCILE_KEY_HORIZON_MS;
    // A re-read the provider refuses for good (the user or customer is gone) will not settle it later either.
    let readRefused = false;
    const reread = async (): Promise<{ verdict: Verdict; readError: string | null }> => {
      if (!command.verify) return { verdict: null, readError: null };
      try {
        return { verdict: await command.verify(target as never, request.input as never, ctx, call), readError: null };
      } catch (err) {
        readRefused = isProviderError(err) && !err.retryable;
        return { verdict: null, readError: toProblem(err).detail ?? String(err) };
      }
    };
    const rereadFailed = async (readError: string): Promise<FinishOutcome> => {
      if (!(pastHorizon && readRefused)) return await later(`re-read failed: ${readError}`);
      await needsReview(deps, operation, row, claim, `past the horizon, and the provider refuses the re-read (${readError}): check the provider, then resolve it (operation.resolve)`);
      return "needs_review";
    };
    const later = async (why: string): Promise<FinishOutcome> => {
      // Not ours any more (another reconciler took it over, or it was closed meanwhile): nothing to record.
      if (!(await markUnknown(db, row.operation_id, why, new Date(Date.now() + backoffMs(row.attempts + 1)), claim))) return "skipped";
      return "unknown";
    };
    const failed = async (why: string): Promise<FinishOutcome> => {
      await recordFailed(deps, operation, why, now, key, claim);
      return "failed";
    };

    // Auth0 takes no key, so a retry could apply what the lost call did not: the user's state decides first.
    if (command.verify && keylessProvider(command, deps)) {
      const { verdict, readError } = await reread();
      if (verdict?.applied) return await commit(verdict.performed);
      if (readError) return await rereadFailed(readError);
      if (verdict) {
        // The lost request may still land while it can be in flight (a timeout, a gateway's 5xx): only then is "not applied" final.
        const since = now.getTime() - new Date(row.created_at).getTime();
        if (since < inFlightWindowMs(deps.config)) return await later("the provider shows it not applied yet; the lost request may still be in flight");
        return await failed("the provider shows it was not applied (re-read by the reconciler)");
      }
      // Part of it shows (some users blocked, factors gone but remembered browsers unknown): every write
      // here is safe to repeat, so running it again completes it, within the horizon.
    }

    // Within the key's retention a retry with the same key is safe: the provider replays or finishes it.
    let retryFailure: { reason: string; answered: boolean } | null = null;
    if (!pastHorizon) {
      // Lost while it prepared (a stall): the provider call is the new holder's to make.
      if (claimLost) throw new OperationClaimLost(row.operation_id);
      try {
        return await commit(await command.perform(target as never, request.input as never, ctx, call));
      } catch (err) {
        const unknown = unknownEffectOf(err);
        if (!unknown) {
          // Refused now perhaps because the first attempt did it (a canceled subscription cannot be canceled again; DELETE takes no key).
          const { verdict } = await reread();
          if (verdict?.applied) return await commit(verdict.performed);
          const problem = toProblem(err);
          return await failed(`${problem.code}: ${problem.detail ?? problem.title} (settled by the reconciler)`);
        }
        // A provider that saved its answer under the key (Stripe's 500) will answer the same next time.
        retryFailure = { reason: unknown, answered: answeredUnderKey(err) };
      }
    }
    if (keylessProvider(command, deps) && command.verify) {
      // Already re-read above; what the retry left is for the next pass (or a person, past the horizon).
      if (!pastHorizon) return await later(retryFailure?.reason ?? "retry not settled");
      await needsReview(deps, operation, row, claim, `past the horizon after ${row.attempts + 1} attempts, and the re-read shows it only partly applied: check the provider, then resolve it (operation.resolve). Last error: ${row.last_error ?? "none"}`);
      return "needs_review";
    }

    // The key cannot settle it (a replayed 500, or too old to use): re-read the provider instead.
    const { verdict, readError } = await reread();
    if (verdict?.applied) return await commit(verdict.performed);
    if (verdict && (pastHorizon || retryFailure?.answered)) {
      return await failed(`the provider shows it was not applied (re-read by the reconciler${retryFailure ? `; the retry was answered: ${retryFailure.reason}` : ""})`);
    }
    const why = retryFailure?.reason ?? readError ?? "no re-read can tell whether it was applied";
    if (!pastHorizon) return await later(why);
    // The re-read itself failed: try it again later, it may settle it (unless the provider refuses it for good).
    if (readError) return await rereadFailed(readError);
    await needsReview(deps, operation, row, claim, `past the provider key's retention after ${row.attempts + 1} attempts, and ${command.verify ? "the re-read could not tell" : `${row.action} has no re-read`}: check the provider, then resolve it (operation.resolve). Last error: ${row.last_error ?? why}`);
    return "needs_review";
  } catch (err) {
    if (!(err instanceof OperationClaimLost)) throw err;
    deps.logger.warn({ operationId: row.operation_id }, "reconciler: another reconciler took the operation over while this one worked on it; nothing recorded");
    return "skipped";
  } finally {
    claimRenewal.stop();
    renewal.stop();
    await releaseLease(db, leaseKey, leaseHolder).catch(() => undefined);
  }
}
