/**
 * Debian's Gunicorn on a loopback port, as a child of the test process: the reference server
 * the differential test and the /compare tests talk to. `stop()` sends SIGTERM (Gunicorn's
 * graceful stop) and waits for it.
 */
import { spawn } from "node:child_process";
import { freePort, accepts } from "./net.js";
import { GUNICORN, GUNICORN_ENV, gunicornProblem } from "./python.js";

export interface RunningGunicorn {
  port: number;
  /** The arbiter's pid (the workers are its children). */
  pid: number;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export interface GunicornOptions {
  /** The directory holding the app module (Gunicorn's `--chdir`). */
  dir: string;
  /** `module:callable`, e.g. `echo:app`. */
  app: string;
  /** More command-line arguments (e.g. `["-k", "gthread"]`). */
  args?: string[];
  /** Environment for Gunicorn and its workers (e.g. `{ SCRIPT_NAME: "/wsgi" }`). */
  env?: Record<string, string>;
}

export async function startGunicorn({
  dir,
  app,
  args = [],
  env = {},
}: GunicornOptions): Promise<RunningGunicorn> {
  const problem = gunicornProblem();
  if (problem !== null || GUNICORN === undefined) throw new Error(problem ?? "no gunicorn");
  const port = await freePort();
  const child = spawn(
    GUNICORN,
    ["--chdir", dir, "-b", `127.0.0.1:${port}`, "-w", "1", "--log-level", "warning", ...args, app],
    {
      // Only what Gunicorn needs: a developer's GUNICORN_CMD_ARGS or SCRIPT_NAME must not leak in.
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", ...GUNICORN_ENV, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("exit", () => {
        clearTimeout(force);
        resolve();
      });
      child.kill("SIGTERM");
    });
  const deadline = Date.now() + 30_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`gunicorn did not listen on ${port}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { port, pid: child.pid!, url: `http://127.0.0.1:${port}`, output: () => output, stop };
}
