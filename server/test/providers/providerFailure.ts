import { expect } from "vitest";
import { ProviderError } from "../../src/providers/providerError.js";

/** Awaits a provider call that must fail, and hands back its ProviderError for the test to inspect. */
export async function providerFailure(work: Promise<unknown>): Promise<ProviderError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}
