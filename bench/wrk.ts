/**
 * The load generator: Debian's `wrk` (C, one thread, keep-alive), run as a separate process so
 * it never shares an event loop with a contestant. This module starts it and reads its report.
 */
import { spawn } from "node:child_process";

export interface LoadResult {
  requestsPerSecond: number;
  /** Latency percentiles, in milliseconds. */
  p50: number;
  p99: number;
  requests: number;
  /** Socket errors (connect, read, write, timeout) plus non-2xx/3xx responses. */
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `731.00us` / `1.00ms` / `2.1s` → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^([0-9.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (match === null) throw new Error(`cannot read the duration '${text}'`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Reads the report `wrk --latency` prints; throws if a number it needs is missing. */
export function parseWrkOutput(output: string): LoadResult {
  const number = (pattern: RegExp, what: string): string => {
    const match = pattern.exec(output);
    if (match === null) throw new Error(`wrk: no ${what} in its output:\n${output}`);
    return match[1]!;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  let errors = Number(non2xx?.[1] ?? 0);
  if (socketErrors !== null) for (let i = 1; i <= 4; i++) errors += Number(socketErrors[i]);
  return {
    requestsPerSecond: Number(number(/Requests\/sec:\s+([0-9.]+)/, "Requests/sec")),
    p50: parseDuration(number(/^\s+50%\s+(\S+)/m, "50% latency")),
    p99: parseDuration(number(/^\s+99%\s+(\S+)/m, "99% latency")),
    requests: Number(number(/(\d+) requests in /, "request count")),
    errors,
  };
}

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  /** CPU list for `taskset -c`, or undefined to let the kernel place wrk. */
  cpus?: string;
  /** A Lua script for wrk's `-s` (e.g. `postScript`'s, to send request bodies). */
  script?: string;
}

/** A wrk Lua script that makes every request a POST of `bytes` bytes (wrk adds Content-Length). */
export function postScript(bytes: number): string {
  return [
    'wrk.method = "POST"',
    `wrk.body = string.rep("x", ${bytes})`,
    'wrk.headers["Content-Type"] = "application/octet-stream"',
    "",
  ].join("\n");
}

/** Runs wrk once against `url` and resolves with its parsed report. */
export function runWrk(options: LoadOptions): Promise<LoadResult> {
  const wrkArgs = [
    "-t1",
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    "--timeout",
    "5s",
    "--latency",
    ...(options.script === undefined ? [] : ["-s", options.script]),
    options.url,
  ];
  return runLoadGenerator("wrk", wrkArgs, options.cpus, parseWrkOutput);
}

/**
 * Runs a load generator (wrk, h2load) to its end, pinned to `cpus` if given, and resolves with
 * what `parse` reads from its output; rejects with the output if it exits with an error.
 */
export function runLoadGenerator<T>(
  name: string,
  args: string[],
  cpus: string | undefined,
  parse: (output: string) => T,
): Promise<T> {
  const [command, argv] =
    cpus === undefined ? [name, args] : ["taskset", ["-c", cpus, name, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`${name} exited with ${code}:\n${output}`));
      else {
        try {
          resolve(parse(output));
        } catch (error) {
          reject(error as Error);
        }
      }
    });
  });
}
