import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 300_000,
    // Real-process tests bind ports and spawn workers; files run in parallel, tests inside a file in order.
    pool: "forks",
  },
});
