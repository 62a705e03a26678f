import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// Where skipped suites note why (tests/helpers/skips.ts), read back by the skip summary; the test
// processes inherit it. One file per run, removed by the summary.
process.env.FOOBAR_SKIP_LOG ??= join(tmpdir(), `foobar-skips-${process.pid}.jsonl`);

export default defineConfig({
  // A workspace package imported by name (`@foobar/tsgi`) is its TypeScript source under test,
  // through its exports map's "@foobar/source" condition (tsconfig.base.json): no build needed,
  // and one module instance whether a test imports it by path or by name.
  ssr: { resolve: { conditions: ["@foobar/source", ...defaultServerConditions] } },
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 300_000,
    // Real-process tests bind ports and spawn workers; files run in parallel, tests inside a file in order.
    pool: "forks",
    // The default report, then one summary of what was skipped and why.
    reporters: ["default", "./tests/skip-summary.ts"],
  },
});
