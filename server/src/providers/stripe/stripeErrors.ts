import Stripe from "stripe";
import { parseRetryAfter } from "../providerCall.js";
import { ProviderError, type ProviderErrorCode } from "../providerError.js";

function codeForStatus(status: number): ProviderErrorCode {
  if (status === 404) return "not_found";
  if (status === 429) return "rate_limited";
  if (status === 401 || status === 403) return "misconfigured";
  if (status >= 500) return "unavailable";
  return "rejected";
}

function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** Everything the stripe SDK can throw, as the one provider error. */
export function classifyStripeError(err: unknown, operation: string): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof Stripe.errors.StripeConnectionError) {
    // The SDK reports its own socket timeout as a connection error.
    const timedOut = /timeout/i.test(err.message);
    return new ProviderError({ provider: "stripe", code: timedOut ? "timeout" : "unavailable", operation, message: `${operation}: ${timedOut ? "timed out" : "Stripe could not be reached"}`, cause: err });
  }
  if (err instanceof Stripe.errors.StripeError && err.statusCode !== undefined) {
    const status = err.statusCode;
    if (status === 409 && err.code === "idempotency_key_in_use") {
      // Not a refusal: the first request with this key is still running and may yet apply. Try again later with the same key.
      return new ProviderError({ provider: "stripe", code: "unavailable", status, operation, keyInUse: true, retryable: true, message: `${operation}: a request with the same idempotency key is still in progress at Stripe`, cause: err });
    }
    const code = err instanceof Stripe.errors.StripeRateLimitError ? "rate_limited" : codeForStatus(status);
    // Stripe says explicitly when a retry is (un)safe, e.g. a 409 lock timeout is worth retrying.
    const shouldRetry = header(err.headers, "stripe-should-retry");
    return new ProviderError({
      provider: "stripe",
      code,
      status,
      operation,
      message: code === "misconfigured" ? `${operation}: Stripe refused Steward's API key (${status}): ${err.message}` : `${operation}: ${err.message || err.type}`,
      retryable: shouldRetry === undefined ? undefined : shouldRetry === "true",
      retryAfterMs: code === "rate_limited" ? parseRetryAfter(header(err.headers, "retry-after")) : undefined,
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError({ provider: "stripe", code: "unavailable", operation, message: `${operation}: ${message}`, cause: err });
}
