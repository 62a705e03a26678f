/**
 * Contestant processes: finding a free port, starting and stopping a process tree, waiting for
 * the first good response, and reading memory (VmRSS) from /proc for the whole tree.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { isRunning } from "@foobar/gateway/internal";
import { runWrk, type LoadOptions, type LoadResult } from "./wrk.js";

export const HELLO = "Hello, World!";

/** A port the kernel just handed out and we released: free for the contestant to take. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === "object" && address !== null ? address.port : 0),
      );
    });
  });
}

/** The parent pid of every process, read from /proc/<pid>/stat. */
function parentsByPid(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may hold spaces and parentheses: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(Number(entry), Number(fields[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  return parents;
}

/** `pid` and all its descendants. */
export function processTree(pid: number): number[] {
  const parents = parentsByPid();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++)
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  return tree;
}

/** VmRSS of one process in KiB (0 if it has gone). */
export function rssKiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? 0 : Number(match[1]);
  } catch {
    return 0;
  }
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of the trees of `roots`, in milliseconds (children that ended excluded). */
export function cpuMsOf(roots: number[]): number {
  let ticks = 0;
  for (const root of roots)
    for (const pid of processTree(root)) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
      } catch {
        // The process ended while we looked.
      }
    }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

export interface Memory {
  totalKiB: number;
  /** RSS of the processes below the roots (the workers); the roots themselves if none. */
  workerKiB: number[];
}

/** Sums RSS over the trees of `roots` (e.g. nginx + the gateway it proxies to). */
export function memoryOf(roots: number[]): Memory {
  let totalKiB = 0;
  const workerKiB: number[] = [];
  for (const root of roots) {
    const tree = processTree(root);
    for (const pid of tree) totalKiB += rssKiB(pid);
    const children = tree.slice(1);
    for (const pid of children.length > 0 ? children : tree) workerKiB.push(rssKiB(pid));
  }
  return { totalKiB, workerKiB };
}

export interface Command {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** A started contestant: its root processes and its captured output (for error messages). */
export class Running {
  readonly children: ChildProcess[] = [];
  output = "";

  start(commands: Command[], cpus: string | undefined): void {
    for (const { command, args, env, cwd } of commands) {
      const [file, argv] =
        cpus === undefined ? [command, args] : ["taskset", ["-c", cpus, command, ...args]];
      const child = spawn(file, argv, {
        cwd,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout?.setEncoding("utf8").on("data", (t: string) => this.#keep(t));
      child.stderr?.setEncoding("utf8").on("data", (t: string) => this.#keep(t));
      child.on("error", (error) => this.#keep(`${command}: ${error.message}\n`));
      this.children.push(child);
    }
  }

  #keep(text: string): void {
    this.output = (this.output + text).slice(-4000);
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid).filter((pid): pid is number => pid !== undefined);
  }

  get exited(): boolean {
    return this.children.some((c) => c.exitCode !== null || c.signalCode !== null);
  }

  /** SIGTERM to every root (each stops its own workers), SIGKILL the trees after a grace period. */
  async stop(): Promise<void> {
    const trees = this.pids.flatMap((pid) => processTree(pid));
    for (const child of [...this.children].reverse()) child.kill("SIGTERM");
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && trees.some(isRunning)) await sleep(50);
    for (const pid of trees.filter(isRunning)) process.kill(pid, "SIGKILL");
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One GET; resolves with status and body, rejects on a connection error. */
export function fetchOnce(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false }, (response) => {
      let body = "";
      response.setEncoding("latin1").on("data", (t: string) => (body += t));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
    request.setTimeout(2000, () => request.destroy(new Error("timeout")));
  });
}

/**
 * Polls `url` until it answers 200 with the hello body; resolves with the milliseconds since
 * `startedAt` (performance.now() time). Throws on a wrong answer, if a process exits, or when
 * `timeoutMs` passes.
 */
export async function waitReady(
  url: string,
  running: Running,
  startedAt: number,
  timeoutMs = 15_000,
): Promise<number> {
  for (;;) {
    let problem: string;
    try {
      const { status, body } = await fetchOnce(url);
      if (status === 200 && body === HELLO) return performance.now() - startedAt;
      problem = `answered ${status} ${JSON.stringify(body.slice(0, 60))}`;
      // 502/503 come from a proxy whose upstream is still starting: keep polling.
      if (status !== 502 && status !== 503) throw new Error(`${problem}, not 200 "${HELLO}"`);
    } catch (error) {
      if ((error as Error).message.startsWith("answered")) throw error;
      problem = (error as Error).message;
    }
    if (running.exited) throw new Error(`exited before it was ready:\n${running.output}`);
    if (performance.now() - startedAt > timeoutMs)
      throw new Error(`not ready after ${timeoutMs} ms (${problem}):\n${running.output}`);
    await sleep(5);
  }
}

/** A server that answered its first request: its processes, where it listens, how fast it came up. */
export interface Started {
  running: Running;
  port: number;
  url: string;
  /** Spawn to first good answer, in milliseconds. */
  readyMs: number;
}

/**
 * Starts the processes `build` gives for a free port (and a second free port, for a proxy's
 * upstream), pinned to `cpuList`, and waits until `path` answers the hello body.
 */
export async function startServer(
  build: (port: number, extraPort: number) => Command[],
  path: string,
  cpuList: string | undefined,
): Promise<Started> {
  const port = await freePort();
  const extraPort = await freePort();
  const running = new Running();
  const url = `http://127.0.0.1:${port}${path}`;
  const startedAt = performance.now();
  running.start(build(port, extraPort), cpuList);
  try {
    const readyMs = await waitReady(url, running, startedAt);
    return { running, port, url, readyMs };
  } catch (error) {
    await running.stop();
    throw error;
  }
}

/**
 * wrk against a started server: a warm-up run, then the measured run; its report, and the CPU
 * milliseconds the server's processes used during it.
 */
export function measuredLoad(
  started: Started,
  load: Omit<LoadOptions, "seconds">,
  seconds: { warmup: number; duration: number },
): Promise<{ load: LoadResult; cpuMs: number }> {
  return measuredRun(started, (s) => runWrk({ ...load, seconds: s }), seconds);
}

/**
 * A load generator (`run` for so many seconds) against a started server, the way every part of
 * the bench measures: a warm-up run, then the measured run; its report, and the CPU milliseconds
 * the server's processes used during it. The report's `errors` counts the warm-up's too: a
 * failed request is a failure whenever it happens, and only the rates are the measured run's.
 */
export async function measuredRun<Report extends { errors: number }>(
  started: Started,
  run: (seconds: number) => Promise<Report>,
  seconds: { warmup: number; duration: number },
): Promise<{ load: Report; cpuMs: number }> {
  const warmup = await run(seconds.warmup);
  const before = cpuMsOf(started.running.pids);
  const result = await run(seconds.duration);
  const cpuMs = cpuMsOf(started.running.pids) - before;
  return { load: { ...result, errors: result.errors + warmup.errors }, cpuMs };
}
