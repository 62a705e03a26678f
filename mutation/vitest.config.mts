// The tests Stryker runs against each mutant (stryker.config.mjs): the fast, in-process ones that
// exercise tsgi/ and the gateway's request path. Tests that start gateway processes cannot see a
// mutant (the child runs its own copy of the code), and the timing tests (slow clients, fuzz) only
// slow every mutant down; docs/mutation.md lists what is left out and why.
import { fileURLToPath } from "node:url";
import { defineConfig, mergeConfig } from "vitest/config";
import base from "../vitest.config.mts";

/** The checkout being mutated: Stryker's sandbox copy, where this file is copied too. */
const root = fileURLToPath(new URL("..", import.meta.url));

const config = mergeConfig(
  base,
  defineConfig({
    root,
    resolve: {
      // `@foobar/tsgi` imported by name (the gateway does) must load the sandbox's mutated tsgi/,
      // not the one node_modules links to, which is the unmutated checkout.
      alias: [
        { find: /^@foobar\/tsgi$/, replacement: `${root}tsgi/types.ts` },
        { find: /^@foobar\/tsgi\/(.*)$/, replacement: `${root}tsgi/$1.ts` },
      ],
    },
  }),
);
// Replaced, not merged: mergeConfig would append this list to the base's `tests/**`.
config.test!.include = [
  "tests/unit/tsgi/**/*.test.ts",
  "tests/unit/gateway/**/*.test.ts",
  "tests/unit/app/**/*.test.ts",
  "tests/property/environ.property.test.ts",
  "tests/integration/gateway/http.test.ts",
  "tests/hostile/corpus.test.ts",
  "tests/hostile/broken-app.test.ts",
  "tests/hostile/trusted-proxies.test.ts",
  "tests/hostile/unread-body.test.ts",
];
// A mutant that makes a request hang fails its test here, in seconds, as a killed mutant; left to
// Stryker's own timeout it would cost a restart of the test runner (vitest's start-up) each time.
config.test!.testTimeout = 5000;
config.test!.hookTimeout = 10_000;
export default config;
