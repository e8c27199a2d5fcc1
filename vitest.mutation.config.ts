import { defineConfig } from "vitest/config";

/**
 * The tests that guard the trust core (auth, audit, the write path, caps, the reconciler, grants), for
 * `npm run mutation` only. PostgreSQL alone keeps Stryker's many re-runs within budget: a test database
 * is a template copy there (a fraction of a PGlite start); `npm test` runs both databases.
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
      "server/test/reconcile/providerTruth.test.ts",
      "server/test/reconcile/ticketNoteUnknown.test.ts",
      "server/test/impersonation/startAndGrant.test.ts",
    ];

export default defineConfig({
  test: {
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    env: { STEWARD_TEST_DATABASES: "postgres" },
    include: files,
  },
});
