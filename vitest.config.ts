import { defineConfig } from "vitest/config";

const shared = {
  environment: "node" as const,
  testTimeout: 30_000,
  hookTimeout: 60_000,
  // PGlite instances are heavy (WASM); two workers match the 2-core machines we run on.
  pool: "forks" as const,
  // Installs the test audit key appendAudit MACs with (the server installs its configured one at start-up).
  setupFiles: ["server/test/support/auditKeys.ts"],
};

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        // Start-up time is part of what this test asserts (/healthz within 20 s), so it runs first, alone.
        test: { ...shared, name: "start-up", include: ["server/test/foundation/start.test.ts"], sequence: { groupOrder: 0 } },
      },
      {
        test: {
          ...shared,
          name: "suite",
          include: ["server/test/**/*.test.ts", "shared/**/*.test.ts", "zendesk-app/test/**/*.test.ts", "kit/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
          exclude: ["server/test/foundation/start.test.ts", "**/node_modules/**"],
          sequence: { groupOrder: 1 },
        },
      },
      {
        // The action suite again with the demo product as the directory (DIRECTORY_PROVIDER=http), same
        // assertions; on PGlite unless STEWARD_TEST_DATABASES says otherwise (PostgreSQL is covered above).
        test: {
          ...shared,
          name: "actions (http directory)",
          include: ["server/test/actions/**/*.test.ts", "server/test/sweeps/**/*.test.ts"],
          env: { STEWARD_TEST_DIRECTORY: "http", STEWARD_TEST_DATABASES: process.env.STEWARD_TEST_DATABASES ?? "pglite" },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
