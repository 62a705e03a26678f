/**
 * Can this machine run the Docker end-to-end tests? They need a Docker engine and Compose v2
 * (`docker compose`, what the README promises and what testcontainers drives).
 *
 * In CI (CI=true) a missing engine is a failure: the suites run and fail in their first hook.
 * On a developer machine without Docker they are skipped, with the reason printed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { noteSkip } from "../helpers/skips.js";

export const REPO_ROOT = new URL("../../", import.meta.url).pathname;

/** testcontainers must neither pull its Ryuk reaper nor probe the host with an alpine image. */
export function configureTestcontainers(): void {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "localhost";
}

/** Runs the docker CLI and returns its trimmed stdout; throws with stderr on failure. */
export function docker(args: string[], timeoutMs = 600_000): string {
  return execFileSync("docker", args, {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: timeoutMs,
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  }).trim();
}

/** A container's log, both streams (`docker logs` replays the container's stderr on its own). */
export function containerLogs(id: string): string {
  const result = spawnSync("docker", ["logs", id], { encoding: "utf8", timeout: 30_000 });
  if (result.status !== 0) throw new Error(`docker logs ${id} failed: ${result.stderr}`);
  return result.stdout + result.stderr;
}

/** Why the engine cannot be used, or null when it can. */
export function engineProblem(): string | null {
  try {
    docker(["info", "--format", "{{.ServerVersion}}"], 20_000);
  } catch (error) {
    return `no Docker engine answers (${firstLine(error)}); start one, e.g. sudo docker/ensure-engine.sh`;
  }
  try {
    docker(["compose", "version"], 20_000);
  } catch (error) {
    return `\`docker compose\` (Compose v2) is missing (${firstLine(error)}); see docs/docker.md`;
  }
  return null;
}

function firstLine(error: unknown): string {
  const stderr = (error as { stderr?: string }).stderr;
  const text = stderr || (error instanceof Error ? error.message : String(error));
  return text.trim().split("\n")[0] ?? "unknown error";
}

/** Decides, once per file, whether to run: returns true to skip (and says why). */
export function skipWithoutEngine(suite: string): { skip: boolean; problem: string | null } {
  const problem = engineProblem();
  const inCI = process.env.CI === "true";
  if (problem !== null && !inCI) {
    noteSkip(suite, problem);
    return { skip: true, problem };
  }
  return { skip: false, problem };
}
