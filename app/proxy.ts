/**
 * A forwarding application: a reverse proxy and load balancer as a TSGI app. Each request goes
 * to one of several upstream HTTP servers, taken in turn (round-robin), through undici's
 * connection pools (Node's own HTTP client; `fetch` is built on it).
 *
 *   - Passive health: an upstream that refuses a connection (or times out connecting) is marked
 *     down for `retryAfter` ms and skipped; the request moves on to the next one, if its body
 *     has not started to flow (a body read once cannot be sent again).
 *   - Timeouts: nobody connectable → 502 Bad Gateway; no response headers within `readTimeout`
 *     → 504 Gateway Timeout. A body that stalls for `readTimeout` aborts the response.
 *   - Bodies stream both ways: `tsgi.input` is piped to the upstream as it arrives, and the
 *     upstream's body is returned as an async iterable (closing it aborts the upstream request).
 *   - Hop-by-hop headers are dropped both ways; `X-Forwarded-For/Proto/Host` get this hop
 *     appended. The upstream's banners (`Server`, `X-Powered-By`) are dropped.
 *   - The path stays under the upstream's base path: dot segments are resolved inside it, and
 *     what would climb out further on (double-encoded dots and slashes, backslashes) gets a 400
 *     (proxy-path.ts).
 */
import { STATUS_CODES } from "node:http";
import { Readable } from "node:stream";
import { Pool } from "undici";
import type { Application, Environ, Status } from "@foobar/tsgi";
import { requestHeaders, responseHeaderList, withoutHeaders } from "./environ-http.js";
import { plainText } from "./plain-text.js";
import { upstreamTarget } from "./proxy-path.js";

export interface ProxyOptions {
  /** Upstream base URLs, e.g. `http://127.0.0.1:9001` (a path, if any, is prefixed). */
  upstreams: string[];
  /** Milliseconds to establish a connection (default 2000). */
  connectTimeout?: number;
  /** Milliseconds to wait for response headers, and between body chunks (default 30000). */
  readTimeout?: number;
  /** Milliseconds an upstream stays marked down after a connection failure (default 5000). */
  retryAfter?: number;
}

/** What `proxy.health()` reports for one upstream. */
export interface UpstreamHealth {
  url: string;
  healthy: boolean;
  /** Connection failures so far. */
  failures: number;
  /** Requests it answered. */
  served: number;
  lastError: string | null;
}

export interface ProxyApplication extends Application {
  health(): UpstreamHealth[];
  /** Closes the connection pools (for a clean shutdown). */
  close(): Promise<void>;
}

class Upstream {
  readonly pool: Pool;
  readonly basePath: string;
  downUntil = 0;
  failures = 0;
  served = 0;
  lastError: string | null = null;

  constructor(
    readonly url: string,
    connectTimeout: number,
    readTimeout: number,
  ) {
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    if (parsed === undefined)
      throw new Error(`proxy: upstream ${JSON.stringify(url)} is not a URL`);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      throw new Error(`proxy: upstream ${url} must be an http:// or https:// URL`);
    this.basePath = parsed.pathname.replace(/\/+$/, "");
    this.pool = new Pool(parsed.origin, {
      connect: { timeout: connectTimeout },
      headersTimeout: readTimeout,
      bodyTimeout: readTimeout,
    });
  }

  isHealthy(now: number): boolean {
    return now >= this.downUntil;
  }
}

/** Errors that mean "could not talk to this upstream at all": the request never reached it. */
const CONNECT_ERRORS = new Set([
  "ECONNREFUSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
/** Errors where the connection broke: the upstream may or may not have seen the request. */
const CONNECTION_ERRORS = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

function describe(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/** The proxy's own answer when no upstream answered: `502 Bad Gateway: why`. */
function failure(code: number, why: string): Application {
  const status = `${code} ${STATUS_CODES[code] ?? "Error"}` as Status;
  return plainText(status, `${status}: ${why}\n`);
}

function appended(previous: string | undefined, value: string): string {
  return previous === undefined || previous === "" ? value : `${previous}, ${value}`;
}

/** The request headers for the upstream: hop-by-hop dropped, Host rewritten, X-Forwarded-*. */
function forwardedHeaders(environ: Environ): Record<string, string> {
  const headers = requestHeaders(environ);
  delete headers["host"]; // undici sends the upstream's own Host
  delete headers["expect"]; // 100-continue was the gateway's business with the client
  // The address this hop received the request from: the TCP peer, even when the gateway has
  // already replaced REMOTE_ADDR with the client a trusted proxy named.
  const peer = environ["gateway.peer_addr"] ?? environ.REMOTE_ADDR;
  if (typeof peer === "string" && peer !== "")
    headers["x-forwarded-for"] = appended(headers["x-forwarded-for"], peer);
  headers["x-forwarded-proto"] = appended(headers["x-forwarded-proto"], environ["tsgi.url_scheme"]);
  const host = environ.HTTP_HOST ?? `${environ.SERVER_NAME}:${environ.SERVER_PORT}`;
  headers["x-forwarded-host"] = appended(headers["x-forwarded-host"], host);
  return headers;
}

function hasBody(environ: Environ): boolean {
  const length = environ.CONTENT_LENGTH;
  if (length !== undefined && length !== "" && length !== "0") return true;
  return environ.HTTP_TRANSFER_ENCODING !== undefined;
}

export function proxy(options: ProxyOptions): ProxyApplication {
  if (options.upstreams.length === 0) throw new Error("proxy: give at least one upstream URL");
  const connectTimeout = options.connectTimeout ?? 2000;
  const readTimeout = options.readTimeout ?? 30_000;
  const retryAfter = options.retryAfter ?? 5000;
  const upstreams = options.upstreams.map((url) => new Upstream(url, connectTimeout, readTimeout));
  /** Index of the upstream whose turn is next. */
  let next = 0;

  /**
   * This request's order of upstreams: round-robin among the healthy, then the rest. The turn
   * moves past the upstream actually chosen, not just by one: stepping by one would give the
   * healthy upstream after a dead one its own turn *and* the dead one's (3 upstreams, one
   * down: 2:1 instead of 1:1).
   */
  function candidates(): Upstream[] {
    const now = Date.now();
    const rotated = [...upstreams.slice(next), ...upstreams.slice(0, next)];
    const healthy = rotated.filter((upstream) => upstream.isHealthy(now));
    const down = rotated.filter((upstream) => !upstream.isHealthy(now));
    const chosen = healthy[0] ?? down[0]!;
    next = (upstreams.indexOf(chosen) + 1) % upstreams.length;
    return [...healthy, ...down];
  }

  async function forward(environ: Environ, startResponse: Parameters<Application>[1]) {
    const errors = environ["tsgi.errors"];
    const method = environ.REQUEST_METHOD;
    // The same below every upstream's base path: checked once, before any is tried.
    const target = upstreamTarget(environ.PATH_INFO, environ.QUERY_STRING);
    if ("refused" in target) {
      errors.write(
        `proxy: ${method} ${JSON.stringify(environ.PATH_INFO)} refused: ${target.refused}\n`,
      );
      return failure(400, target.refused)(environ, startResponse);
    }
    const headers = forwardedHeaders(environ);
    const input = environ["tsgi.input"];
    let bodyStarted = false;
    const withBody = hasBody(environ);
    // Lazy: undici reads it only once connected, so a refused connection leaves it untouched.
    async function* requestBody(): AsyncGenerator<Uint8Array> {
      bodyStarted = true;
      yield* input;
    }
    let timedOut = false;

    for (const upstream of candidates()) {
      try {
        const response = await upstream.pool.request({
          path: upstream.basePath + target.target,
          method,
          headers,
          // A fresh stream per attempt: undici destroys the body of a request that failed.
          body: withBody ? Readable.from(requestBody(), { objectMode: false }) : undefined,
        });
        upstream.downUntil = 0;
        upstream.served++;
        const reason = STATUS_CODES[response.statusCode] ?? "Unknown";
        // The upstream's banners stay here (nginx hides an upstream's Server too): the
        // gateway's Server header names the hop the client talks to.
        startResponse(
          `${response.statusCode} ${reason}` as Status,
          withoutHeaders(responseHeaderList(response.headers), "server", "x-powered-by"),
        );
        const stream = response.body;
        return {
          [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator](),
          close: () => {
            stream.destroy();
          },
        };
      } catch (error) {
        const code = errorCode(error);
        errors.write(
          `proxy: ${method} ${environ.PATH_INFO} via ${upstream.url} failed: ${describe(error)}\n`,
        );
        if (code === "UND_ERR_HEADERS_TIMEOUT") {
          timedOut = true;
          break; // it may still be working on it: sending the request elsewhere could repeat it
        }
        const connectFailed = CONNECT_ERRORS.has(code);
        if (connectFailed || CONNECTION_ERRORS.has(code)) {
          upstream.failures++;
          upstream.lastError = describe(error);
          upstream.downUntil = Date.now() + retryAfter;
        }
        const retryable =
          !bodyStarted &&
          (connectFailed || (CONNECTION_ERRORS.has(code) && IDEMPOTENT.has(method)));
        if (!retryable) break;
      }
    }
    const answer = timedOut
      ? failure(504, `the upstream did not answer within ${readTimeout} ms`)
      : failure(502, "no upstream server could be reached");
    return answer(environ, startResponse);
  }

  const application = ((environ, startResponse) =>
    forward(environ, startResponse)) as ProxyApplication;
  application.health = () => {
    const now = Date.now();
    return upstreams.map((upstream) => ({
      url: upstream.url,
      healthy: upstream.isHealthy(now),
      failures: upstream.failures,
      served: upstream.served,
      lastError: upstream.lastError,
    }));
  };
  application.close = async () => {
    await Promise.all(upstreams.map((upstream) => upstream.pool.close()));
  };
  return application;
}
