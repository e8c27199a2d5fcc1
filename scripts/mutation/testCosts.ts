/**
 * Where the mutation run's dry run leaves each test's duration (vitest.mutation.config.ts writes it, the setup
 * file scripts/mutation/testBudgets.ts reads it). Apart from the setup file, which imports vitest's runtime and
 * so cannot be loaded by the config.
 */
export const testCostsFile = "reports/mutation/test-costs.json";

/** A test's key in `testCostsFile`: its file from the root, and its full name as vitest's reporters give it. */
export function testKey(file: string, fullName: string): string {
  return `${file} :: ${fullName}`;
}
