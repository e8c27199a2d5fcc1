import { isProviderError } from "../providers/providerError.js";

/**
 * A failure after which the provider may have changed (or did change part of) what was asked: the
 * runner must answer `outcome_unknown` and leave the operation to the reconciler, never "nothing changed".
 */
export class EffectUnknown extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EffectUnknown";
  }
}

/** Why the effect of this failure is not known, or null when the failure is definite (nothing happened). */
export function unknownEffectOf(err: unknown): string | null {
  if (err instanceof EffectUnknown) return err.message;
  if (isProviderError(err) && err.effectUnknown) return `${err.provider} ${err.operation ?? "call"}: ${err.message}`;
  return null;
}
