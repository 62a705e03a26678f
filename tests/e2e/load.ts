/**
 * A steady keep-alive load, as an API client makes it, to measure what a rollout, a scale change
 * or a killed replica does to traffic: `connections` loops over one keep-alive agent (Node's
 * http.Agent), each sending its next request as soon as the last one is answered, GETs and small
 * POSTs in turn. The client NEVER retries: Node's http and fetch, Python's requests and most
 * health checkers don't, so a request that fails here is one a user of such a client sees fail.
 *
 * Each request ends as one of:
 *  - ok:     the expected status (GET: 200; POST to the demo's /api/echo: 201);
 *  - failed: any other status (a 502 or 504 from nginx), or an error: refused, reset, closed,
 *            timed out, before or after response bytes.
 * Of the failed ones, those closed or reset before any byte of a response are also counted as
 * `retryable`: a client that retries (browsers do, RFC 9110 §9.2.2, for idempotent requests)
 * would have sent them again. Extra information only, never a pass.
 */
import { Agent, request } from "node:http";
import { expect } from "vitest";
import { sleep, waitUntil } from "../process/gateway-process.js";

/** What one kind of request (GET or POST) came to. */
export interface MethodCounts {
  ok: number;
  failed: number;
  /** Failures by status code, or by error code for failures without a response. */
  failures: Record<string, number>;
}

export interface LoadCounts {
  get: MethodCounts;
  post: MethodCounts;
  /** Of the failed: closed or reset before any response byte (a retrying client would retry). */
  retryable: number;
  /** The host names that answered GETs (when the page names it: `{ hostname }` or the hello page). */
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
}

/** How Node reports a connection the server closed or reset ("socket hang up" is ECONNRESET). */
const CLOSED_BY_SERVER = new Set(["ECONNRESET", "EPIPE"]);

/** The POST of the load: the demo's JSON echo (app/api.ts), a small body and a 201. */
const POST_PATH = "/api/echo";
const POST_BODY = JSON.stringify({ message: "load" });

function send(
  url: URL,
  agent: Agent,
  method: "GET" | "POST",
  headers: Record<string, string>,
): Promise<Outcome> {
  return new Promise((resolve) => {
    let responded = false;
    const req = request(url, { agent, method, headers, timeout: 30_000 }, (response) => {
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
      resolve({ error, closedBeforeResponse });
    });
    req.end(method === "POST" ? POST_BODY : undefined);
  });
}

/** The host name a demo page names: `{"hostname":…}` in JSON, or the hello page's HTML. */
export function hostnameIn(body: string): string | undefined {
  return (
    /"hostname":"([^"]+)"/.exec(body)?.[1] ?? /<code id="hostname">([^<]+)<\/code>/.exec(body)?.[1]
  );
}

/**
 * Polls `url` until the host names that answered satisfy `enough`; returns them. Throws after
 * `timeoutMs` (which replicas nginx sends requests to: the demo pages name their host).
 */
export async function waitForHostnames(
  url: string,
  enough: (seen: Set<string>) => boolean,
  { timeoutMs, intervalMs = 50, headers = {} }: WaitOptions,
): Promise<Set<string>> {
  const seen = new Set<string>();
  await waitUntil(
    async () => {
      const host = hostnameIn(await (await fetch(url, { headers })).text());
      if (host !== undefined) seen.add(host);
      return enough(seen);
    },
    timeoutMs,
    intervalMs,
  );
  return seen;
}

interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  headers?: Record<string, string>;
}

const noCounts = (): MethodCounts => ({ ok: 0, failed: 0, failures: {} });

/** Starts the load (GETs of `url`, POSTs to the same origin's /api/echo); stop it with `stop()`. */
export function startLoad(
  url: string,
  {
    connections = 8,
    headers = {},
  }: { connections?: number; headers?: Record<string, string> } = {},
): RunningLoad {
  const getUrl = new URL(url);
  const postUrl = new URL(POST_PATH, getUrl);
  const postHeaders = { "Content-Type": "application/json" };
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const counts: LoadCounts = {
    ...{ get: noCounts(), post: noCounts(), retryable: 0 },
    hostnames: new Set<string>(),
  };
  let stopped = false;

  async function loop(): Promise<void> {
    for (let n = 0; !stopped; n++) {
      const isPost = n % 2 === 1;
      const outcome = isPost
        ? await send(postUrl, agent, "POST", postHeaders)
        : await send(getUrl, agent, "GET", headers);
      const tally = isPost ? counts.post : counts.get;
      const reason =
        outcome.error !== undefined
          ? (outcome.error.code ?? outcome.error.message)
          : outcome.status !== (isPost ? 201 : 200)
            ? String(outcome.status)
            : undefined;
      if (reason === undefined) {
        tally.ok++;
        const host = isPost ? undefined : hostnameIn(outcome.body ?? "");
        if (host !== undefined) counts.hostnames.add(host);
        continue;
      }
      tally.failed++;
      tally.failures[reason] = (tally.failures[reason] ?? 0) + 1;
      if (outcome.closedBeforeResponse === true) counts.retryable++;
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

function describeMethod(method: string, counts: MethodCounts): string {
  const reasons = Object.entries(counts.failures)
    .map(([reason, n]) => `${n}×${reason}`)
    .join(", ");
  return `${method} ok ${counts.ok}, failed ${counts.failed}${reasons ? ` (${reasons})` : ""}`;
}

/** One line for the test log: "GET ok 6000, failed 0; POST ok 5990, failed 0; retryable 0". */
export function describeCounts(counts: LoadCounts): string {
  return (
    `${describeMethod("GET", counts.get)}; ${describeMethod("POST", counts.post)}; ` +
    `of the failed, closed before a response (a retrying client would retry): ${counts.retryable}`
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

/**
 * What a graceful scenario (a rollout, a scale change) must come to: GETs and POSTs answered,
 * not one failed. (A stopping gateway keeps its connections alive until its listening socket is
 * closed everywhere, so nginx is never sent into an accept queue that is about to be reset:
 * gateway/server.ts, `stopAccepting`; docs/docker.md, "Why no request fails on the way".)
 */
export function expectGracefulScenario(scenario: string, counts: LoadCounts): void {
  console.info(`[e2e] ${scenario}: ${describeCounts(counts)}`);
  expect(counts.get.ok).toBeGreaterThan(100);
  expect(counts.post.ok).toBeGreaterThan(100);
  expect(counts.get.failures).toEqual({});
  expect(counts.post.failures).toEqual({});
}
