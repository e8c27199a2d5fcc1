import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["server/test/**/*.test.ts", "shared/**/*.test.ts", "zendesk-app/test/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite instances are heavy (WASM); two workers match the 2-core machines we run on.
    pool: "forks",
    maxWorkers: 2,
  },
});
