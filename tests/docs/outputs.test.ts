/**
 * The docs' sample outputs are what the project prints today. Every document with `console`
 * blocks (the walkthrough first) is run step by step, as a reader would run it
 * (tests/docs/runner.ts), and each sample is compared with the real output under the rules in
 * tests/docs/normalise.ts. A sample that drifts fails the test named after its step.
 *
 * Steps that need Docker, nginx or Gunicorn run where those are, like the e2e suite; on a machine
 * without them the step is skipped with the reason; under CI=true nothing is skipped.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { engineProblem } from "../e2e/engine.js";
import { nginxProblem } from "../helpers/nginx.js";
import { gunicornProblem, pythonProblem } from "../helpers/python.js";
import { shouldRun } from "../helpers/skips.js";
import type { TOOLS } from "./runner.js";
import { DocRun, parseSteps, ROOT, toolsOf } from "./runner.js";

/** Why a command-line tool is missing (with the Debian package that has it), or null. */
function commandProblem(command: string, pkg: string): () => string | null {
  return () =>
    spawnSync("sh", ["-c", `command -v ${command}`]).status === 0
      ? null
      : `no ${command} (apt-get install ${pkg})`;
}

const PROBLEMS: Record<(typeof TOOLS)[number], () => string | null> = {
  docker: engineProblem,
  nginx: nginxProblem,
  gunicorn: gunicornProblem,
  python3: pythonProblem,
  curl: commandProblem("curl", "curl"),
  ps: commandProblem("ps", "procps"),
};

// Every document with a command-and-output block; the walkthrough is the long one.
const documents = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
].filter((file) => /^```console$/m.test(readFileSync(join(ROOT, file), "utf8")));

describe.each(documents)("%s, run as a reader runs it", (file) => {
  const steps = parseSteps(readFileSync(join(ROOT, file), "utf8"));
  const run = new DocRun();
  beforeAll(() => run.start());
  afterAll(() => run.stop(), 180_000);

  for (const step of steps) {
    const tools = [...toolsOf(step)];
    const problems = tools.map((tool) => PROBLEMS[tool]()).filter((p) => p !== null);
    const runs = shouldRun(
      `${file}: ${step.title}`,
      problems.length > 0 ? problems.join("; ") : null,
    );
    it.runIf(runs)(
      step.title,
      async () => {
        for (const block of step.blocks) await run.runBlock(block);
      },
      tools.includes("docker") ? 900_000 : 120_000,
    );
  }
});
