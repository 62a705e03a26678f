/**
 * The skip summary printed at the end of `npm test`: how many tests were skipped, in which
 * files, and why. The reasons come from the suites themselves (tests/helpers/skips.ts appends
 * them to the file named by FOOBAR_SKIP_LOG); a skipped test without a noted reason is listed
 * as such, so no skip goes unexplained.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { relative } from "node:path";
import type { Reporter, TestModule } from "vitest/node";
import { SKIP_LOG_VARIABLE, type SkipReason } from "./helpers/skips.js";

const ROOT = new URL("../", import.meta.url).pathname;

function readReasons(log: string | undefined): SkipReason[] {
  if (log === undefined || !existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as SkipReason);
}

export default class SkipSummary implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const log = process.env[SKIP_LOG_VARIABLE];
    const reasons = readReasons(log);
    if (log !== undefined) rmSync(log, { force: true });
    const lines: string[] = [];
    let total = 0;
    for (const module of testModules) {
      const skipped = [...module.children.allTests("skipped")].length;
      if (skipped === 0) continue;
      total += skipped;
      const file = relative(ROOT, module.moduleId);
      const why = reasons.filter((entry) => relative(ROOT, entry.file) === file);
      const explained = why.map((entry) => `${entry.suite}: ${entry.reason}`).join("; ");
      lines.push(`  ${file}: ${skipped} skipped (${explained || "no reason noted"})`);
    }
    const ci = process.env.CI === "true" ? "" : "; .ci/run installs what they need";
    console.log(
      total === 0
        ? "\nSkip summary: no test was skipped."
        : `\nSkip summary: ${total} test${total === 1 ? "" : "s"} skipped${ci}:\n${lines.join("\n")}`,
    );
  }
}
