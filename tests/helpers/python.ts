/**
 * Debian's Python and Gunicorn as test oracles: the reference implementations foobar ports
 * (wsgiref, and Gunicorn 23.0 from Debian trixie — the reference container's) answer the same
 * inputs, and the tests compare.
 *
 * Only Debian packages are used: the host's python3, and trixie's Gunicorn (pure Python) unpacked
 * by .ci/install-trixie-tools.sh under /opt/foobar/trixie, run with that directory first on
 * PYTHONPATH; bookworm's own Gunicorn 20.1 lacks upstream's request-smuggling fixes. `.ci/run`
 * installs both. On a developer machine without them the differential suites are skipped with
 * the reason printed; under CI=true they run and fail in their first hook.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** Debian's interpreter first: a pyenv or venv `python3` on PATH is not the reference. */
export const PYTHON = ["/usr/bin/python3", "/usr/local/bin/python3"].find(existsSync) ?? "python3";
const TRIXIE = process.env.TRIXIE_TOOLS ?? "/opt/foobar/trixie";
export const GUNICORN = [join(TRIXIE, "usr/bin/gunicorn")].find(existsSync);
/** The environment Gunicorn needs: its trixie modules before the host's (bookworm's 20.1). */
export const GUNICORN_ENV = { PYTHONPATH: join(TRIXIE, "usr/lib/python3/dist-packages") };

/** Why python3 cannot run here (`null` when it can). */
export function pythonProblem(): string | null {
  const result = spawnSync(PYTHON, ["--version"], { encoding: "utf8" });
  if (result.error !== undefined || result.status !== 0)
    return `no python3 (${result.error?.message ?? result.stderr.trim()}); apt-get install python3`;
  return null;
}

/** Why Debian's gunicorn cannot run here (`null` when it can). */
export function gunicornProblem(): string | null {
  if (GUNICORN === undefined) return `no gunicorn under ${TRIXIE} (.ci/install-trixie-tools.sh)`;
  const result = spawnSync(GUNICORN, ["--version"], {
    encoding: "utf8",
    env: { ...process.env, ...GUNICORN_ENV },
  });
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
