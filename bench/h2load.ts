/**
 * The HTTP/2 load generator: Debian's `h2load` (package nghttp2-client; C, one thread), for the
 * tier that wrk cannot drive: nginx over TLS with HTTP/2. Like wrk it runs as a separate
 * process; this module starts it and reads its report.
 */
import { parseDuration, runLoadGenerator } from "./wrk.js";

export interface H2loadResult {
  /** Requests done per second of the measured time (the warm-up left out). */
  requestsPerSecond: number;
  /** Requests done in the measured time. */
  requests: number;
  /**
   * Requests that did not end in a 2xx: h2load's `failed` (connection errors, timeouts, 4xx and
   * 5xx) plus the 3xx it counts as successes; a hello answered with a redirect is wrong too.
   */
  errors: number;
  /** Time for request (h2load gives no percentiles), in milliseconds. */
  meanMs: number;
  maxMs: number;
  /** What the connections negotiated, e.g. TLSv1.3, TLS_AES_256_GCM_SHA384, h2. */
  tls: { protocol: string; cipher: string; applicationProtocol: string } | undefined;
}

/** Reads the report h2load prints; throws if a number it needs is missing. */
export function parseH2loadOutput(output: string): H2loadResult {
  const match = (pattern: RegExp, what: string): RegExpExecArray => {
    const found = pattern.exec(output);
    if (found === null) throw new Error(`h2load: no ${what} in its output:\n${output}`);
    return found;
  };
  const rate = match(/^finished in \S+, ([0-9.]+) req\/s/m, "req/s");
  const [, done, failed] = match(
    /^requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed/m,
    "request counts",
  );
  const [, redirects] = match(/^status codes: \d+ 2xx, (\d+) 3xx/m, "status codes");
  // Its columns: min, max, mean, sd, +/- sd.
  const [, max, mean] = match(/^time for request:\s+\S+\s+(\S+)\s+(\S+)/m, "time for request");
  const protocol = /^TLS Protocol: (\S+)/m.exec(output)?.[1];
  const cipher = /^Cipher: (\S+)/m.exec(output)?.[1];
  const applicationProtocol = /^Application protocol: (\S+)/m.exec(output)?.[1];
  return {
    requestsPerSecond: Number(rate[1]),
    requests: Number(done),
    errors: Number(failed) + Number(redirects),
    meanMs: parseDuration(mean!),
    maxMs: parseDuration(max!),
    tls:
      protocol === undefined
        ? undefined
        : { protocol, cipher: cipher ?? "?", applicationProtocol: applicationProtocol ?? "none" },
  };
}

export interface H2loadOptions {
  /** An https:// URL. */
  url: string;
  connections: number;
  /** Concurrent streams per connection (h2load's -m). */
  streams: number;
  seconds: number;
  /** CPU list for `taskset -c`, or undefined to let the kernel place h2load. */
  cpus?: string;
}

/**
 * Runs h2load once against `url` over TLS and HTTP/2 and resolves with its parsed report; rejects
 * if the connections did not speak h2 (ALPN), so no other protocol is ever measured under its name.
 */
export async function runH2load(options: H2loadOptions): Promise<H2loadResult> {
  const args = [
    "-t1",
    `-c${options.connections}`,
    `-m${options.streams}`,
    `-D${options.seconds}`,
    options.url,
  ];
  const result = await runLoadGenerator("h2load", args, options.cpus, parseH2loadOutput);
  if (result.tls?.applicationProtocol !== "h2") {
    const what =
      result.tls === undefined
        ? "no TLS connection came up"
        : `negotiated ${result.tls.applicationProtocol}, not h2`;
    throw new Error(`h2load: ${options.url}: ${what} (${result.errors} requests failed)`);
  }
  return result;
}
