import { ProviderError } from "../providerError.js";

/** Built-in adapters read the product's own tables; a database failure still surfaces as ProviderError. */
export async function builtinCall<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    throw new ProviderError({ provider: "builtin", code: "unavailable", operation, retryable: false, message: `${operation}: the product database did not answer`, cause: err });
  }
}

export function builtinNotFound(operation: string, message: string): ProviderError {
  return new ProviderError({ provider: "builtin", code: "not_found", operation, status: 404, message });
}

export function builtinRejected(operation: string, message: string): ProviderError {
  return new ProviderError({ provider: "builtin", code: "rejected", operation, message });
}
