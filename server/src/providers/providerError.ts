import { Problem } from "../http/problem.js";

export type ProviderKind = "builtin" | "auth0" | "stripe" | "product";

export const providerErrorCodes = ["timeout", "rate_limited", "unavailable", "not_found", "rejected", "stale", "misconfigured"] as const;
export type ProviderErrorCode = (typeof providerErrorCodes)[number];

const PROVIDER_LABEL: Record<ProviderKind, string> = { builtin: "The built-in provider", auth0: "Auth0", stripe: "Stripe", product: "The product" };

/** HTTP status and problem code each failure becomes when it reaches a Steward client. */
const AS_PROBLEM: Record<ProviderErrorCode, { status: number; code: string; title: string }> = {
  timeout: { status: 504, code: "provider_timeout", title: "Provider timed out" },
  rate_limited: { status: 503, code: "provider_rate_limited", title: "Provider rate limit reached" },
  unavailable: { status: 502, code: "provider_unavailable", title: "Provider unavailable" },
  not_found: { status: 404, code: "provider_not_found", title: "Not found at the provider" },
  rejected: { status: 422, code: "provider_rejected", title: "Provider rejected the request" },
  // The product (directory) refused a write decided on an older version of the object.
  stale: { status: 409, code: "stale_version", title: "Changed at the product" },
  misconfigured: { status: 502, code: "provider_misconfigured", title: "Provider misconfigured" },
};

/**
 * The one error every provider adapter throws: which provider, what kind of failure, whether trying
 * again later can help. `toProblem()` lets the problem middleware map it without knowing providers.
 */
export class ProviderError extends Error {
  readonly provider: ProviderKind;
  readonly code: ProviderErrorCode;
  /** The provider's HTTP status, when it answered at all. */
  readonly status: number | undefined;
  readonly retryable: boolean;
  /** How long the provider asked us to wait (Retry-After), when it said. */
  readonly retryAfterMs: number | undefined;
  /** What Steward was doing, e.g. "users.get" or "subscriptions.list". */
  readonly operation: string | undefined;
  /** Set when part of the change is known to have happened (a multi-call write failing midway). */
  readonly partlyApplied: boolean;
  /** The failed call was a write the provider had received: a 5xx answer does not say it was not applied. */
  readonly wasWrite: boolean;
  /**
   * The provider refused this attempt because another request with the same idempotency key is still
   * running (Stripe's 409 idempotency_key_in_use): that one may yet apply, so nothing is known.
   */
  readonly keyInUse: boolean;

  constructor(init: {
    provider: ProviderKind;
    code: ProviderErrorCode;
    message: string;
    status?: number;
    retryable?: boolean;
    retryAfterMs?: number;
    operation?: string;
    partlyApplied?: boolean;
    wasWrite?: boolean;
    keyInUse?: boolean;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "ProviderError";
    this.provider = init.provider;
    this.code = init.code;
    this.status = init.status;
    this.retryable = init.retryable ?? (init.code === "timeout" || init.code === "rate_limited" || init.code === "unavailable");
    this.retryAfterMs = init.retryAfterMs;
    this.operation = init.operation;
    this.partlyApplied = init.partlyApplied ?? false;
    this.wasWrite = init.wasWrite ?? false;
    this.keyInUse = init.keyInUse ?? false;
  }

  /** The same failure, known to have come from a write (see `effectUnknown`). */
  asWrite(): ProviderError {
    if (this.wasWrite) return this;
    return new ProviderError({ ...this, message: this.message, wasWrite: true, cause: this.cause });
  }

  /**
   * Whether the write may have taken effect: it timed out, the connection dropped after the request
   * was sent, part of it happened, or a write was answered 5xx (Stripe documents a 500 as
   * indeterminate: the endpoint may have run, and the 500 is what the key replays). A refused
   * connection or a 4xx answer is definite.
   */
  get effectUnknown(): boolean {
    if (this.partlyApplied || this.keyInUse || this.code === "timeout") return true;
    if (this.wasWrite && this.status !== undefined && this.status >= 500) return true;
    return this.code === "unavailable" && this.status === undefined && !refusedConnection(this.cause);
  }

  toProblem(): Problem {
    const p = AS_PROBLEM[this.code];
    return new Problem(p.status, p.code, p.title, `${PROVIDER_LABEL[this.provider]}: ${this.message}`, {
      provider: this.provider,
      retryable: this.retryable,
      ...(this.status !== undefined ? { providerStatus: this.status } : {}),
      ...(this.retryAfterMs !== undefined ? { retryAfterSeconds: Math.ceil(this.retryAfterMs / 1000) } : {}),
    });
  }

  /** The `error` of a requester-context part that this provider could not answer. */
  toPartError(): { code: ProviderErrorCode; message: string; provider: ProviderKind } {
    return { code: this.code, message: this.message, provider: this.provider };
  }
}

/** ECONNREFUSED anywhere in the cause chain: the request never left, so nothing happened. */
function refusedConnection(cause: unknown): boolean {
  for (let c = cause, depth = 0; c && depth < 6; c = (c as { cause?: unknown }).cause, depth++) {
    const e = c as { code?: unknown; message?: unknown; errors?: unknown[] };
    if (e.code === "ECONNREFUSED" || (typeof e.message === "string" && e.message.includes("ECONNREFUSED"))) return true;
    if (Array.isArray(e.errors) && e.errors.some((inner) => refusedConnection(inner))) return true;
  }
  return false;
}

export function isProviderError(err: unknown): err is ProviderError {
  return err instanceof ProviderError;
}
