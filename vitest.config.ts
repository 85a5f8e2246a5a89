import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: [
      "test/setup/chromium.ts",
      "test/setup/actionlint.ts",
      "test/setup/workflow-audit.ts",
      "test/setup/dbt-sessions.ts",
    ],
    // Pipeline runs start dbt (a Python process); two test files at a time share the machine's two cores,
    // each in its own workspace (database, dbt target, output and site cache).
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ["default"],
  },
});
