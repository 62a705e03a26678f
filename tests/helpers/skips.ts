/**
 * Honest skips: a suite that cannot run here says why and what would run it, and the reason is
 * kept for the summary printed at the end of `npm test` (tests/skip-summary.ts).
 *
 * Under CI=true nothing is skipped: `shouldRun` says yes, and the missing tool fails the suite.
 */
import { appendFileSync } from "node:fs";
import { expect } from "vitest";

/** The file the reasons are appended to, one JSON line each (set in vitest.config.mts). */
export const SKIP_LOG_VARIABLE = "FOOBAR_SKIP_LOG";

/** One skipped suite: which test file, which suite, why (with what to install). */
export interface SkipReason {
  file: string;
  suite: string;
  reason: string;
}

/** Says why `suite` is skipped, on the console now and in the summary at the end. */
export function noteSkip(suite: string, reason: string): void {
  console.warn(`[${suite}] SKIPPED: ${reason}. (With CI=true this is a failure.)`);
  const log = process.env[SKIP_LOG_VARIABLE];
  if (log === undefined || log === "") return;
  const entry: SkipReason = { file: expect.getState().testPath ?? "", suite, reason };
  appendFileSync(log, `${JSON.stringify(entry)}\n`);
}

/**
 * Whether a suite needing the tool `problem` describes should run: always under CI=true (a
 * missing tool then fails the suite), else only when the tool is here (noting why when not).
 */
export function shouldRun(suite: string, problem: string | null): boolean {
  if (problem === null || process.env.CI === "true") return true;
  noteSkip(suite, problem);
  return false;
}
