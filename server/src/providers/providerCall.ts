import type { Logger } from "../logger.js";
import { recordProviderCall } from "../metrics/metrics.js";
import { ProviderError, type ProviderKind } from "./providerError.js";

export interface CallPolicy {
  /** Per attempt; a timed-out attempt is not retried (the agent has already waited the whole budget). */
  timeoutMs: number;
  /** Retries after the first attempt, for 429, 5xx and network errors only. */
  maxRetries: number;
  /** First backoff step; doubles per retry, with full jitter. */
  baseDelayMs?: number;
  /** Cap on one backoff wait, and the longest Retry-After we are willing to sit out. */
  maxDelayMs?: number;
}

export interface CallAttempt {
  /** Aborted when the attempt times out; pass it to the SDK so the socket is released. */
  signal: AbortSignal;
  timeoutMs: number;
  attempt: number;
}

/** Turns whatever an SDK threw into the one error type; each provider supplies its own. */
export type ErrorClassifier = (err: unknown, operation: string) => ProviderError;

export interface CallerHooks {
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** The default cap on one backoff wait between attempts. */
export const DEFAULT_MAX_DELAY_MS = 5_000;

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The one way a provider adapter calls out: a timeout per attempt, bounded retries with jitter for
 * transient failures (Retry-After honoured), and every failure mapped to ProviderError. SDK-internal
 * retries are switched off by the adapters so these are the only ones.
 */
export class ProviderCaller {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    readonly provider: ProviderKind,
    readonly policy: CallPolicy,
    private readonly classify: ErrorClassifier,
    private readonly hooks: CallerHooks = {},
  ) {
    this.baseDelayMs = policy.baseDelayMs ?? 200;
    this.maxDelayMs = policy.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  }

  /** `options.write`: the call changes something at the provider, so a 5xx answer leaves its effect unknown. */
  async call<T>(operation: string, fn: (attempt: CallAttempt) => Promise<T>, options: { write?: boolean } = {}): Promise<T> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const result = await this.callWithRetries(operation, fn, options.write === true);
      recordProviderCall(this.provider, operation, "succeeded", seconds());
      return result;
    } catch (err) {
      const failure = options.write && err instanceof ProviderError ? err.asWrite() : err;
      // A timed-out call, or a write answered 5xx, may have been applied: its outcome is unknown, not failed.
      recordProviderCall(this.provider, operation, failure instanceof ProviderError && failure.effectUnknown ? "unknown" : "failed", seconds());
      throw failure;
    }
  }

  private async callWithRetries<T>(operation: string, fn: (attempt: CallAttempt) => Promise<T>, write: boolean): Promise<T> {
    // A write attempt whose effect is not known: a later attempt's definite refusal (the user is gone, the
    // subscription already canceled) does not make it known, so the final error must still say unknown.
    let uncertain: ProviderError | undefined;
    const final = (failure: ProviderError): ProviderError => {
      if (!uncertain || failure.asWrite().effectUnknown) return failure;
      return new ProviderError({ ...failure, message: `${failure.message} (after an earlier attempt whose outcome is not known: ${uncertain.message})`, partlyApplied: true, cause: failure });
    };
    for (let attempt = 0; ; attempt++) {
      let failure: ProviderError;
      try {
        return await this.attemptOnce(operation, fn, attempt);
      } catch (err) {
        failure = err instanceof ProviderError ? err : this.classify(err, operation);
      }
      if (write && !uncertain && failure.asWrite().effectUnknown) uncertain = failure;
      if (!failure.retryable || failure.code === "timeout" || attempt >= this.policy.maxRetries) throw final(failure);
      const wait = this.delayFor(failure, attempt);
      if (wait === undefined) throw final(failure);
      this.hooks.logger?.warn({ provider: this.provider, operation, attempt: attempt + 1, code: failure.code, status: failure.status, waitMs: wait }, "provider call failed; retrying");
      await (this.hooks.sleep ?? sleepFor)(wait);
    }
  }

  /** Retry-After when the provider gave one (plus a little jitter), else exponential backoff with full jitter. */
  private delayFor(failure: ProviderError, attempt: number): number | undefined {
    const random = this.hooks.random ?? Math.random;
    if (failure.retryAfterMs !== undefined) {
      if (failure.retryAfterMs > this.maxDelayMs) return undefined;
      return failure.retryAfterMs + Math.floor(random() * Math.min(this.baseDelayMs, 250));
    }
    return Math.floor(random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt));
  }

  private async attemptOnce<T>(operation: string, fn: (attempt: CallAttempt) => Promise<T>, attempt: number): Promise<T> {
    // Made when the call asks for the signal: Stripe's SDK takes a timeout instead, and an AbortController
    // costs more than the rest of an attempt's bookkeeping.
    let controller: AbortController | undefined;
    const { timeoutMs } = this.policy;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new ProviderError({ provider: this.provider, code: "timeout", operation, message: `${operation} took longer than ${timeoutMs} ms` }));
        // Made here if not yet, so a call that asks for its signal only after the timeout gets it aborted.
        (controller ??= new AbortController()).abort();
      }, timeoutMs);
    });
    const call: CallAttempt = {
      get signal() {
        return (controller ??= new AbortController()).signal;
      },
      timeoutMs,
      attempt,
    };
    try {
      return await Promise.race([fn(call), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Retry-After is seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
