import { Problem } from "../http/problem.js";

/**
 * The answer when a provider call's effect is not known (timeout, lost connection, failed re-read,
 * crash): 202, because the request was accepted and Steward will settle it, never "nothing changed".
 * The reconciler closes the operation as succeeded or failed; a replay with the same
 * Idempotency-Key, or the requester context, shows how it ended.
 */
export function outcomeUnknown(operationId: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return new Problem(
    202,
    "outcome_unknown",
    "Outcome not known yet",
    `${detail}. Steward is checking with the provider and will finish or close the action; do not repeat it with a new key (operation ${operationId})`,
    { operationId, retryable: false, ...extra },
  );
}
