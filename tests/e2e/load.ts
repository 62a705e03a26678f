/**
 * A steady keep-alive GET load, as a browser or a monitoring client makes it, to measure what a
 * rollout, a scale change or a killed replica does to traffic: `connections` loops, each sending
 * the next GET as soon as the last one is answered, over a keep-alive agent.
 *
 * Each request ends as one of:
 *  - ok:      a 200 response;
 *  - failed:  any other status (a 502 or 504 from nginx), a connection refused or timed out,
 *             an error after response bytes arrived, or a retry that failed too — whatever a
 *             user would have seen fail;
 *  - retried: the server closed or reset the connection before any byte of a response, and the
 *             GET was sent once more on a new connection (its outcome counted as above). This
 *             is what an nginx reload does: its old workers close their idle keep-alive
 *             connections (every HTTP client retries that case: RFC 9110 §9.2.2; Node's and
 *             browsers' agents do), and — measured with nginx 1.22, 10 reloads under this load
 *             with no change of upstreams: 2 to 8 times — reset a connection they had just
 *             accepted, before reading its request. Both are counted apart (`retriedFresh` is
 *             the second), so a report shows what was retried, and a request that fails again
 *             counts as failed. The retry waits RETRY_DELAY_MS first, as retrying clients back
 *             off: a reload takes a few milliseconds, and a retry at once can land in it again.
 * A 5xx is never retried.
 */
import { Agent, request } from "node:http";
import { expect } from "vitest";
import { sleep } from "../process/gateway-process.js";

export interface LoadCounts {
  ok: number;
  failed: number;
  retried: number;
  /** Of `retried`: a connection made for this request (not a reused one) was reset. */
  retriedFresh: number;
  /** Failures by status code, or by error code for failures without a response. */
  failures: Record<string, number>;
  /** The host names that answered (when the path returns `{ hostname }` or an HTML page with it). */
  hostnames: Set<string>;
}

export interface RunningLoad {
  /** The counts so far (live). */
  counts: LoadCounts;
  /** Stops sending and waits for the requests in flight; returns the final counts. */
  stop(): Promise<LoadCounts>;
}

interface Outcome {
  status?: number;
  body?: string;
  error?: NodeJS.ErrnoException;
  /** The server closed or reset the connection before any byte of a response. */
  closedBeforeResponse?: boolean;
  /** …on a connection made for this request. */
  freshConnection?: boolean;
}

const RETRY_DELAY_MS = 100;

/** How Node reports a connection the server closed or reset ("socket hang up" is ECONNRESET). */
const CLOSED_BY_SERVER = new Set(["ECONNRESET", "EPIPE"]);

function get(url: URL, agent: Agent, headers: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve) => {
    let responded = false;
    const req = request(url, { agent, headers, timeout: 30_000 }, (response) => {
      responded = true;
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode, body: Buffer.concat(chunks).toString() }),
      );
      response.on("error", (error: NodeJS.ErrnoException) =>
        resolve({ error: Object.assign(error, { code: `${error.code ?? "error"} mid-response` }) }),
      );
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", (error: NodeJS.ErrnoException) => {
      const closedBeforeResponse = !responded && CLOSED_BY_SERVER.has(error.code ?? "");
      if (error.code !== "TIMEOUT")
        error.code = `${error.code ?? "error"} ${req.reusedSocket ? "reused" : "new"} connection`;
      resolve({ error, closedBeforeResponse, freshConnection: !req.reusedSocket });
    });
    req.end();
  });
}

/** The host name a demo page names: `{"hostname":…}` in JSON, or the hello page's HTML. */
export function hostnameIn(body: string): string | undefined {
  return (
    /"hostname":"([^"]+)"/.exec(body)?.[1] ?? /<code id="hostname">([^<]+)<\/code>/.exec(body)?.[1]
  );
}

/** Starts the load on `url`; stop it with `stop()`. */
export function startLoad(
  url: string,
  {
    connections = 8,
    headers = {},
  }: { connections?: number; headers?: Record<string, string> } = {},
): RunningLoad {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const counts: LoadCounts = {
    ...{ ok: 0, failed: 0, retried: 0, retriedFresh: 0 },
    ...{ failures: {}, hostnames: new Set<string>() },
  };
  let stopped = false;

  const fail = (reason: string) => {
    counts.failed++;
    counts.failures[reason] = (counts.failures[reason] ?? 0) + 1;
  };

  async function loop(): Promise<void> {
    while (!stopped) {
      let outcome = await get(target, agent, headers);
      if (outcome.error !== undefined && outcome.closedBeforeResponse === true) {
        counts.retried++;
        if (outcome.freshConnection === true) counts.retriedFresh++;
        await sleep(RETRY_DELAY_MS);
        outcome = await get(target, agent, headers);
        if (outcome.error !== undefined) outcome.error.code += " (on the retry)";
      }
      if (outcome.error !== undefined) fail(outcome.error.code ?? outcome.error.message);
      else if (outcome.status === 200) {
        counts.ok++;
        const host = hostnameIn(outcome.body ?? "");
        if (host !== undefined) counts.hostnames.add(host);
      } else fail(String(outcome.status));
    }
  }

  const loops = Array.from({ length: connections }, () => loop());
  return {
    counts,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
      return counts;
    },
  };
}

/** One line for the test log: "ok 12345, failed 0, retried 2" (+ failures by reason). */
export function describeCounts(counts: LoadCounts): string {
  const reasons = Object.entries(counts.failures)
    .map(([reason, n]) => `${n}×${reason}`)
    .join(", ");
  return (
    `ok ${counts.ok}, failed ${counts.failed}${reasons ? ` (${reasons})` : ""}, ` +
    `retried ${counts.retried} (${counts.retriedFresh} of them on a fresh connection)`
  );
}

/**
 * Runs `during` (a rollout, a scale change, a kill) under a steady load on `url`: the load starts
 * 1.5 s before it and stops 2 s after it, so late failures count too. Returns the counts.
 */
export async function underLoad(
  url: string,
  during: () => Promise<unknown>,
  headers: Record<string, string> = {},
): Promise<LoadCounts> {
  const load = startLoad(url, { headers });
  await sleep(1500);
  try {
    await during();
    await sleep(2000);
  } finally {
    await load.stop();
  }
  return load.counts;
}

/** A scenario's verdict, logged for the report: more than 100 requests ok, and not one failed. */
export function expectNoFailure(scenario: string, counts: LoadCounts): void {
  console.info(`[e2e] ${scenario}: ${describeCounts(counts)}`);
  expect(counts.ok).toBeGreaterThan(100);
  expect(counts.failures).toEqual({});
  expect(counts.failed).toBe(0);
}
