/**
 * Helpers for real-process tests: start `node gateway/dist/cli.js`, read its log, send it
 * signals, and drive bounded load loops over loopback.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { Agent, request } from "node:http";
import { resolve } from "node:path";

export const CLI = resolve("gateway/dist/cli.js");
export const APPS = resolve("tests/fixtures/apps");

export class GatewayProcess {
  readonly child: ChildProcess;
  log = "";
  port = 0;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  #waiters: (() => void)[] = [];

  /**
   * `launch` is how the gateway is started: this repository's CLI by default, or another
   * command (`npx --no -- gateway` in an installed project), in a folder and a process group
   * of its own if asked.
   */
  constructor(
    args: string[],
    env: NodeJS.ProcessEnv = {},
    launch: { command: string[]; cwd?: string; detached?: boolean } = {
      command: [process.execPath, CLI],
    },
  ) {
    const [command = "", ...prefix] = launch.command;
    this.child = spawn(command, [...prefix, ...args], {
      env: { ...process.env, ...env, WEB_CONCURRENCY: "" },
      stdio: ["ignore", "pipe", "pipe"],
      cwd: launch.cwd,
      detached: launch.detached,
    });
    const collect = (chunk: Buffer) => {
      this.log += chunk.toString();
      for (const waiter of this.#waiters.splice(0)) waiter();
    };
    this.child.stdout!.on("data", collect);
    this.child.stderr!.on("data", collect);
    this.exited = new Promise((resolve) =>
      this.child.on("exit", (code, signal) => {
        for (const waiter of this.#waiters.splice(0)) waiter();
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Waits until the log matches `pattern` at least `count` times; returns the matches. */
  async waitForLog(pattern: RegExp, count = 1, timeoutMs = 30_000): Promise<RegExpMatchArray[]> {
    const global = new RegExp(
      pattern.source,
      pattern.flags.includes("g") ? pattern.flags : pattern.flags + "g",
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matches = [...this.log.matchAll(global)];
      if (matches.length >= count) return matches;
      if (Date.now() > deadline || this.child.exitCode !== null)
        throw new Error(`log never matched ${pattern} ×${count}; log:\n${this.log}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** Waits for "Listening at" on loopback; returns (and keeps) the port. */
  async listening(timeoutMs?: number): Promise<number> {
    const [match] = await this.waitForLog(
      /Listening at: http:\/\/127\.0\.0\.1:(\d+)/,
      1,
      timeoutMs,
    );
    this.port = Number(match![1]);
    return this.port;
  }

  /** Waits for "Listening at" and `workers` booted workers that answer. */
  async ready(workers = 1): Promise<this> {
    await this.listening();
    // Every worker holds the listening socket once it listens (SCHED_NONE shares the socket).
    await waitUntil(() => {
      const inode = listeningInode(this.port);
      const holders = childrenOf(this.pid).filter((pid) => holdsSocket(pid, inode));
      return inode !== "" && holders.length >= workers;
    });
    return this;
  }

  /** PIDs of the worker processes (the master's children), from /proc (no `ps` needed). */
  async workerPids(): Promise<number[]> {
    return childrenOf(this.pid);
  }

  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  /** Stops the master and its workers whatever state they are in (for afterAll). */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const workers = await this.workerPids();
    this.child.kill("SIGKILL");
    for (const pid of workers)
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    await this.exited;
  }
}

function readProc(pid: string, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return ""; // the process is gone
  }
}

/** The port of the master's --metrics-bind listener on loopback (metrics, worker stats). */
export async function metricsPort(server: GatewayProcess): Promise<number> {
  const [match] = await server.waitForLog(/Serving metrics at: http:\/\/127\.0\.0\.1:(\d+)\//);
  return Number(match![1]);
}

/** Children of `parent`: /proc/PID/stat is "pid (comm) state ppid …". */
export function childrenOf(parent: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      const stat = readProc(pid, "stat");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(fields[1]) === parent && fields[0] !== "Z";
    })
    .map(Number);
}

/** The inode of the socket listening on 127.0.0.1:`port`, from /proc/net/tcp. */
function listeningInode(port: number): string {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readProc("self", "net/tcp").split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[3] === "0A") return fields[9] ?? ""; // 0A: LISTEN
  }
  return "";
}

function holdsSocket(pid: number, inode: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** What `ps` shows as a process's command line: process.title rewrites it. */
export function commandLine(pid: number): string {
  return readProc(String(pid), "cmdline").replace(/\0+/g, " ").trim();
}

/** Resolves once `check()` holds, asking every `intervalMs`; rejects after `timeoutMs`. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface Reply {
  status: number;
  body: string;
}

/** One GET; rejects on any connection error. */
export function get(port: number, path: string, agent: Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.on("error", reject);
    });
    // Say whether the request went out on a kept-alive connection: a failure there is a
    // request the server dropped, one on a fresh connection was never accepted.
    req.on("error", (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    req.end();
  });
}

export interface LoadResult {
  ok: number;
  failed: number;
  errors: string[];
  bodies: Map<string, number>;
}

/**
 * A bounded load loop: `concurrency` clients on keep-alive connections send GETs until
 * `total` requests are done or `until` resolves (whichever comes first).
 */
export async function loadLoop(
  port: number,
  {
    total = 2000,
    concurrency = 10,
    path = "/",
    until,
  }: { total?: number; concurrency?: number; path?: string; until?: Promise<unknown> },
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { ok: 0, failed: 0, errors: [], bodies: new Map() };
  let stop = false;
  void until?.then(() => (stop = true));
  let started = 0;
  async function client(): Promise<void> {
    while (!stop && started < total) {
      started += 1;
      try {
        const reply = await get(port, path, agent);
        if (reply.status === 200) result.ok += 1;
        else {
          result.failed += 1;
          result.errors.push(`status ${reply.status}`);
        }
        result.bodies.set(reply.body, (result.bodies.get(reply.body) ?? 0) + 1);
      } catch (error) {
        const { message, reusedSocket } = error as Error & { reusedSocket?: boolean };
        result.failed += 1;
        result.errors.push(`${reusedSocket ? "kept-alive" : "new"} connection: ${message}`);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client));
  agent.destroy();
  return result;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
