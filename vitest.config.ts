import { defineConfig } from "vitest/config";

const shared = {
  environment: "node" as const,
  testTimeout: 30_000,
  hookTimeout: 60_000,
  // PGlite instances are heavy (WASM); two workers match the 2-core machines we run on.
  pool: "forks" as const,
  // One module graph per worker, not per file: loading the server, the SDKs and PGlite again for each of the
  // 157 file runs cost about a quarter of the run. Each file still builds its own databases, apps and
  // servers and closes them; the setup file runs again before every file.
  isolate: false,
  // Installs the test audit key appendAudit MACs with (the server installs its configured one at start-up).
  setupFiles: ["server/test/support/auditKeys.ts"],
};

/** Files that replace a module (vi.mock) run in a worker of their own, so the replacement reaches no other file. */
const ownWorker = ["server/test/auth/demoZafKeyRace.test.ts"];

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        test: {
          ...shared,
          name: "suite",
          include: ["server/test/**/*.test.ts", "shared/**/*.test.ts", "zendesk-app/test/**/*.test.ts", "kit/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
          exclude: [...ownWorker, "**/node_modules/**"],
        },
      },
      {
        test: { ...shared, name: "isolated", include: ownWorker, isolate: true },
      },
      {
        // The action suite again with the demo product as the directory (DIRECTORY_PROVIDER=http), same
        // assertions; on PGlite unless STEWARD_TEST_DATABASES says otherwise (PostgreSQL is covered above).
        test: {
          ...shared,
          name: "actions (http directory)",
          include: ["server/test/actions/**/*.test.ts", "server/test/sweeps/**/*.test.ts"],
          env: { STEWARD_TEST_DIRECTORY: "http", STEWARD_TEST_DATABASES: process.env.STEWARD_TEST_DATABASES ?? "pglite" },
        },
      },
    ],
  },
});
