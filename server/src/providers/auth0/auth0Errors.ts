import { ManagementError, ManagementTimeoutError } from "auth0";
import { parseRetryAfter } from "../providerCall.js";
import { ProviderError, type ProviderErrorCode } from "../providerError.js";

/** Auth0 error bodies look like `{ statusCode, error, message, errorCode }`. */
function bodyMessage(body: unknown): string | undefined {
  if (body && typeof body === "object") {
    const { message, error_description: description, error } = body as Record<string, unknown>;
    for (const candidate of [message, description, error]) if (typeof candidate === "string" && candidate) return candidate;
  }
  return typeof body === "string" && body ? body.slice(0, 200) : undefined;
}

/** Auth0 sends Retry-After on some 429s and always `X-RateLimit-Reset` (epoch seconds). */
function retryAfterOf(err: ManagementError): number | undefined {
  const headers = err.rawResponse?.headers;
  if (!headers || typeof headers.get !== "function") return undefined;
  const fromRetryAfter = parseRetryAfter(headers.get("retry-after"));
  if (fromRetryAfter !== undefined) return fromRetryAfter;
  const reset = Number(headers.get("x-ratelimit-reset"));
  return Number.isFinite(reset) && reset > 0 ? Math.max(0, reset * 1000 - Date.now()) : undefined;
}

function codeForStatus(status: number): ProviderErrorCode {
  if (status === 404) return "not_found";
  if (status === 429) return "rate_limited";
  if (status === 408) return "timeout";
  if (status === 401 || status === 403) return "misconfigured";
  if (status >= 500) return "unavailable";
  return "rejected";
}

/** Everything the auth0 SDK (or fetch under it) can throw, as the one provider error. */
export function classifyAuth0Error(err: unknown, operation: string): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof ManagementTimeoutError) {
    return new ProviderError({ provider: "auth0", code: "timeout", operation, message: `${operation} timed out`, cause: err });
  }
  if (err instanceof ManagementError && err.statusCode !== undefined) {
    const status = err.statusCode;
    const code = codeForStatus(status);
    const detail = bodyMessage(err.body) ?? err.message;
    return new ProviderError({
      provider: "auth0",
      code,
      status,
      operation,
      message: code === "misconfigured" ? `${operation}: Auth0 refused Steward's credentials (${status}): ${detail}` : `${operation}: ${detail}`,
      retryAfterMs: status === 429 ? retryAfterOf(err) : undefined,
      cause: err,
    });
  }
  // No status: the request never got an answer (connection refused or reset, DNS, aborted).
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError({ provider: "auth0", code: "unavailable", operation, message: `${operation}: Auth0 could not be reached (${message})`, cause: err });
}
