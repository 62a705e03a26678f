/**
 * Debian's Python and Gunicorn as test oracles: the reference implementations foobar ports
 * (wsgiref, Gunicorn 20.1.0 from Debian bookworm) answer the same inputs, and the tests compare.
 *
 * Only Debian packages are used (`apt-get install gunicorn` pulls python3); `.ci/run` installs
 * them. On a developer machine without them the differential suites are skipped with the reason
 * printed; under CI=true they run and fail in their first hook.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Debian's interpreter first: a pyenv or venv `python3` on PATH is not the reference. */
export const PYTHON = ["/usr/bin/python3", "/usr/local/bin/python3"].find(existsSync) ?? "python3";
export const GUNICORN = ["/usr/bin/gunicorn", "/usr/local/bin/gunicorn"].find(existsSync);

/** Why python3 cannot run here (`null` when it can). */
export function pythonProblem(): string | null {
  const result = spawnSync(PYTHON, ["--version"], { encoding: "utf8" });
  if (result.error !== undefined || result.status !== 0)
    return `no python3 (${result.error?.message ?? result.stderr.trim()}); apt-get install python3`;
  return null;
}

/** Why Debian's gunicorn cannot run here (`null` when it can). */
export function gunicornProblem(): string | null {
  if (GUNICORN === undefined) return "no gunicorn binary (apt-get install gunicorn)";
  const result = spawnSync(GUNICORN, ["--version"], { encoding: "utf8" });
  if (result.status !== 0) return `${GUNICORN} --version failed: ${result.stderr.trim()}`;
  return null;
}

export { shouldRun } from "./skips.js";

/** Runs a Python program with `input` as JSON on stdin and returns its stdout parsed as JSON. */
export function runPython(program: string, input: unknown): unknown {
  const problem = pythonProblem();
  if (problem !== null) throw new Error(problem);
  const stdout = execFileSync(PYTHON, ["-c", program], {
    input: JSON.stringify(input),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
  });
  return JSON.parse(stdout);
}
