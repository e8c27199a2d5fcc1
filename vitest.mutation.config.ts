import { defineConfig } from "vitest/config";

/**
 * The tests that guard the trust core (auth, audit, the write path, caps), for `npm run mutation`
 * only. PGlite alone keeps Stryker's many re-runs within budget; `npm test` runs both databases.
 * MUTATION_TESTS narrows the files further (a glob) for a run on one part of the scope.
 */
const files = process.env.MUTATION_TESTS
  ? process.env.MUTATION_TESTS.split(",")
  : [
      "server/test/auth/*.test.ts",
      "server/test/audit/*.test.ts",
      "server/test/commands/*.test.ts",
      "server/test/staff/caps.test.ts",
      "server/test/staff/staffAdmin.test.ts",
    ];

export default defineConfig({
  test: {
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    env: { STEWARD_TEST_DATABASES: "pglite" },
    include: files,
  },
});
