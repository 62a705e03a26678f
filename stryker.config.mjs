// Mutation testing (`npm run mutate`, docs/mutation.md): Stryker makes one small change at a time
// to tsgi/ and the gateway's request path and runs the tests that cover it; a change no test
// notices ("survived") is a gap in the tests or an equivalent rewrite.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [
    "tsgi/*.ts",
    "!tsgi/types.ts", // declarations only
    "gateway/environ.ts",
    "gateway/request-guard.ts",
    "gateway/handler.ts",
    "gateway/input.ts",
    "gateway/trusted-proxies.ts",
  ],
  testRunner: "vitest",
  vitest: { configFile: "mutation/vitest.config.mts", related: false },
  checkers: ["typescript"],
  tsconfigFile: "mutation/tsconfig.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  // Only the tests that reach a mutant run against it.
  coverageAnalysis: "perTest",
  // The machine is shared (2 cores): one test process and one checker at a time.
  concurrency: 2,
  // Above the tests' own 5 s timeout (mutation/vitest.config.mts), which catches a hang first.
  timeoutMS: 10_000,
  // A mutant in code run once at import time needs every test rerun in a fresh process: slow,
  // and the module-level constants it covers are asserted through the functions that use them.
  ignoreStatic: true,
  // Committed, so a second run, on this checkout or a fresh clone, re-tests only the mutants in
  // code or tests that changed since the file was written.
  incremental: true,
  incrementalFile: "mutation/incremental.json",
  ignorePatterns: ["dist", "bench/results", "packs", "coverage", "mutation/reports"],
  reporters: ["clear-text", "progress-append-only", "html", "json"],
  htmlReporter: { fileName: "mutation/reports/index.html" },
  jsonReporter: { fileName: "mutation/reports/mutation.json" },
  clearTextReporter: { allowColor: false, logTests: false },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
