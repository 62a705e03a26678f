/**
 * The web-standard fetch handler — `(request: Request) => Response`, what Hono, Deno, Bun and
 * edge runtimes speak — on both sides of the contract:
 *
 *   - `fromFetch(handler)`: a fetch handler as a TSGI application. The environ becomes a
 *     `Request` (its URL rebuilt as PEP 3333's "URL Reconstruction" does, its body streamed from
 *     `tsgi.input`); the `Response` becomes status, headers (repeated `Set-Cookie` kept) and a
 *     streamed body. The environ itself is passed as the handler's second argument, the `env`
 *     a fetch runtime gives (Hono's `c.env`), so a handler can still read `SCRIPT_NAME`.
 *   - `toFetch(app)`: a TSGI application as a fetch handler, for any server that speaks fetch
 *     (`@hono/node-server`, Deno.serve, Bun.serve). The app runs through the gateway's response
 *     engine (tsgi/response-engine.ts), so it meets the same contract checks and errors.
 *
 * Both stream with back-pressure: nothing is read from one side before the other side asks, and
 * closing one side (a client gone) cancels the other.
 */
import { IncomingMessage, STATUS_CODES } from "node:http";
import type { ReadableStreamReadResult } from "node:stream/web";
import type {
  Application,
  Environ,
  ErrorStream,
  HeaderList,
  InputStream,
  ResponseBody,
  Status,
} from "@foobar/tsgi";
import { forbidsBody, unquoteToNative } from "@foobar/tsgi/rules";
import { addRequestHeaders, createEnviron, type EnvironServer } from "@foobar/tsgi/environ";
import { readlines } from "@foobar/tsgi/readlines";
import { ContractViolation, ResponseEngine } from "@foobar/tsgi/response-engine";
import { isHopByHop, quotePath, requestHeaders } from "./environ-http.js";
import {
  abortLazyRequest,
  installFetchGlobals,
  knownBody,
  knownHeaders,
  LazyRequest,
  type RequestSource,
} from "./lazy-fetch.js";

/** A fetch handler; `env` is whatever the runtime passes along (here: the environ). */
export type FetchHandler = (request: Request, env?: unknown) => Response | Promise<Response>;

/** True if `env` is a TSGI environ (what `fromFetch` passes a handler as its `env`). */
export function isEnviron(env: unknown): env is Environ {
  return typeof env === "object" && env !== null && "tsgi.version" in env;
}

// ---- fromFetch: environ → Request, Response → status, headers, body ----

/**
 * The URL the client asked for, rebuilt from the environ as PEP 3333 does ("URL
 * Reconstruction"): scheme, `Host` (or SERVER_NAME and a non-default SERVER_PORT), the quoted
 * SCRIPT_NAME and PATH_INFO, and the query.
 */
export function requestUrl(environ: Environ): string {
  const scheme = environ["tsgi.url_scheme"];
  let url = `${scheme}://`;
  if (environ.HTTP_HOST) url += environ.HTTP_HOST;
  else {
    url += environ.SERVER_NAME;
    const port = environ.SERVER_PORT;
    if (port !== (scheme === "https" ? "443" : "80")) url += `:${port}`;
  }
  url += quotePath(environ.SCRIPT_NAME) + quotePath(environ.PATH_INFO);
  if (environ.QUERY_STRING !== "") url += `?${environ.QUERY_STRING}`;
  return url;
}

/** Does this request carry a body? (A length above zero, or chunked; never GET or HEAD.) */
function hasBody(environ: Environ): boolean {
  const method = environ.REQUEST_METHOD;
  if (method === "GET" || method === "HEAD") return false;
  const length = environ.CONTENT_LENGTH;
  if (length !== undefined && length !== "") return length !== "0";
  return environ.HTTP_TRANSFER_ENCODING !== undefined;
}

/** `tsgi.input` as a ReadableStream that reads one chunk each time the handler asks for one. */
function inputStream(input: InputStream): ReadableStream<Uint8Array> {
  let chunks: AsyncIterator<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        chunks ??= input[Symbol.asyncIterator]();
        const step = await chunks.next();
        if (step.done === true) controller.close();
        else controller.enqueue(step.value);
      },
      async cancel() {
        await chunks?.return?.();
      },
    },
    { highWaterMark: 0 }, // no read-ahead: the body flows only as fast as the handler reads
  );
}

/** The environ as a `Request`; `signal` aborts when the server gives up on the response. */
export function toRequest(environ: Environ, signal?: AbortSignal): Request {
  const body = hasBody(environ) ? inputStream(environ["tsgi.input"]) : null;
  return new Request(requestUrl(environ), {
    method: environ.REQUEST_METHOD,
    headers: requestHeaders(environ),
    body,
    signal,
    // A streamed request body must say so (the fetch standard's "half duplex").
    ...(body === null ? {} : { duplex: "half" }),
  } as RequestInit);
}

/**
 * The environ as the parts of a `LazyRequest` (app/lazy-fetch.ts), each made when asked for.
 * (A class, not an object of closures: one allocation per request instead of four.)
 */
class EnvironSource implements RequestSource {
  constructor(readonly environ: Environ) {}
  get method(): string {
    return this.environ.REQUEST_METHOD;
  }
  url(): string {
    return requestUrl(this.environ);
  }
  headers(): Record<string, string> {
    return requestHeaders(this.environ);
  }
  body(): ReadableStream<Uint8Array> | null {
    return hasBody(this.environ) ? inputStream(this.environ["tsgi.input"]) : null;
  }
}

// The scheme and authority of URLs that parsed, so a lazy request need not parse its URL on
// every call to find out it can form one. (Bounded: a client that makes up Host headers cannot
// grow it without limit.)
const GOOD_ORIGINS_LIMIT = 1000;
const goodOrigins = new Set<string>();

/**
 * Can the environ's URL be a Request's? Throws as `new Request(url)` would if not (a Host that
 * is no host, or one with credentials). Only the origin can fail: the path is quoted, and the
 * URL parser takes any query.
 */
function checkRequestUrl(environ: Environ): void {
  const authority = environ.HTTP_HOST ?? `${environ.SERVER_NAME}:${environ.SERVER_PORT}`;
  // (The common case, plain http, is looked up by the Host header alone.)
  const scheme = environ["tsgi.url_scheme"];
  const origin = scheme === "http" ? authority : `${scheme}://${authority}`;
  if (goodOrigins.has(origin)) return;
  const url = new URL(requestUrl(environ));
  if (url.username !== "" || url.password !== "")
    throw new TypeError("a request URL may not include credentials");
  if (goodOrigins.size < GOOD_ORIGINS_LIMIT) goodOrigins.add(origin);
}

/** Status and headers of a `Response` as TSGI has them, without hop-by-hop headers. */
function statusAndHeaders(response: Response): [Status, HeaderList] {
  const reason = response.statusText || STATUS_CODES[response.status] || "Unknown";
  const known = knownHeaders(response);
  if (known !== undefined) return [`${response.status} ${reason}` as Status, known];
  const headers: HeaderList = [];
  // forEach would join repeated Set-Cookie headers into one (cookies contain commas);
  // getSetCookie() gives each one.
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie" && !isHopByHop(name)) headers.push([name, value]);
  });
  for (const cookie of response.headers.getSetCookie()) headers.push(["set-cookie", cookie]);
  return [`${response.status} ${reason}` as Status, headers];
}

const NOT_YET = Symbol("not yet");

/** The next step of `reader` if it is already there (a few microtasks), else NOT_YET. */
function readIfReady(
  pending: Promise<ReadableStreamReadResult<Uint8Array>>,
): Promise<ReadableStreamReadResult<Uint8Array> | typeof NOT_YET> {
  const later = Promise.resolve()
    .then(() => undefined)
    .then((): typeof NOT_YET => NOT_YET);
  return Promise.race([pending, later]);
}

function checkChunk(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw new TypeError(`fromFetch: the response body yielded ${typeof chunk}, not a Uint8Array`);
}

/**
 * The `Response` body as a TSGI body. A body that is complete within a few microtasks (a string
 * or bytes the handler had at hand) goes back as an array, so the server can send an exact
 * Content-Length; anything else streams, read only as fast as the server sends.
 */
async function responseBody(
  body: ReadableStream<Uint8Array>,
  abort: () => void,
): Promise<ResponseBody> {
  const reader = body.getReader();
  let finished = false;
  const close = async () => {
    if (finished) return;
    finished = true;
    abort();
    await reader.cancel().catch(() => undefined);
  };
  const chunks: Uint8Array[] = [];
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  try {
    // The first chunk: the server sends the headers with it anyway, so waiting costs nothing.
    const first = await reader.read();
    if (first.done) finished = true;
    else {
      chunks.push(checkChunk(first.value));
      pending = reader.read();
      const second = await readIfReady(pending);
      if (second !== NOT_YET) {
        pending = undefined;
        if (second.done) finished = true;
        else chunks.push(checkChunk(second.value));
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  if (finished) return Object.assign(chunks, { close });
  const stream = async function* (): AsyncGenerator<Uint8Array> {
    yield* chunks;
    for (;;) {
      const step = await (pending ?? reader.read());
      pending = undefined;
      if (step.done) {
        finished = true;
        return;
      }
      yield checkChunk(step.value);
    }
  };
  // close() is attached explicitly: a generator never started would not run a finally block.
  return Object.assign(stream(), { close });
}

/** The body of a response that has none, of unknown length to the server. */
const NO_BODY: ResponseBody = { *[Symbol.iterator]() {} };

const BAD_REQUEST = new TextEncoder().encode("Bad Request: the request URL is not valid\n");

export interface FromFetchOptions {
  /**
   * true (the default): the handler gets a lazy Request and its `new Response(…)` a light one
   * (app/lazy-fetch.ts), and the globals `Request`, `Response` and `fetch` are replaced, once,
   * by versions that accept them. false: a full undici Request per call, globals untouched.
   */
  lazy?: boolean;
}

/** Wraps a fetch handler `(request, env) => Response` as a TSGI application. */
export function fromFetch(handler: FetchHandler, options: FromFetchOptions = {}): Application {
  const lazy = options.lazy ?? true;
  if (lazy) installFetchGlobals();
  return function fetchApplication(environ, startResponse) {
    let request: Request;
    let abort: () => void;
    try {
      if (lazy) {
        checkRequestUrl(environ);
        const lazyRequest = new LazyRequest(new EnvironSource(environ));
        request = lazyRequest as unknown as Request;
        abort = () => abortLazyRequest(lazyRequest);
      } else {
        const controller = new AbortController();
        request = toRequest(environ, controller.signal);
        abort = () => controller.abort();
      }
    } catch (error) {
      // A Host header that cannot be part of a URL: the client's fault, not the app's.
      environ["tsgi.errors"].write(`fromFetch: ${requestUrl(environ)}: ${String(error)}\n`);
      startResponse("400 Bad Request", [
        ["Content-Type", "text/plain; charset=utf-8"],
        ["Content-Length", String(BAD_REQUEST.length)],
      ]);
      return [BAD_REQUEST];
    }
    const respond = (response: Response): ResponseBody | Promise<ResponseBody> => {
      const [status, headers] = statusAndHeaders(response);
      startResponse(status, headers);
      // A string or bytes body the handler gave `new Response()`: sent as it is, no stream.
      const bytes = knownBody(response);
      if (environ.REQUEST_METHOD === "HEAD" || forbidsBody(response.status)) {
        // Not an empty array: that would let the server add `Content-Length: 0`, which for a
        // HEAD response claims the GET body is empty. The handler's Content-Length passes as is.
        if (bytes !== undefined || response.body === null) return NO_BODY;
        return response.body.cancel().then(
          () => NO_BODY,
          () => NO_BODY,
        );
      }
      if (bytes !== undefined) return bytes === null || bytes.length === 0 ? [] : [bytes];
      if (response.body === null) return [];
      return responseBody(response.body, abort);
    };
    // A handler that answers at once is answered at once: no promise, as for a TSGI app.
    const answer = handler(request, environ);
    return typeof (answer as Partial<PromiseLike<Response>>).then === "function"
      ? Promise.resolve(answer).then(respond)
      : respond(answer as Response);
  };
}

// ---- toFetch: Request → environ, start_response + body → Response ----

const EMPTY = new Uint8Array(0);

/**
 * `tsgi.input` over a request's ReadableStream body, read only as the app asks. The body is
 * asked of the Request only then: a lazy Request (@hono/node-server's, fromFetch's) builds its
 * real undici Request, signal and stream for it, which an app that reads no body never needs.
 */
class StreamInput implements InputStream {
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #buffer: Uint8Array = EMPTY;
  #ended = false;

  constructor(readonly request: Request) {}

  /** Appends the next chunk to the buffer; false at the end of the body. */
  async #pull(): Promise<boolean> {
    if (this.#ended) return false;
    if (this.#reader === undefined) {
      const body = this.request.body;
      if (body === null) {
        this.#ended = true;
        return false;
      }
      this.#reader = body.getReader();
    }
    const step = await this.#reader.read();
    if (step.done) {
      this.#ended = true;
      return false;
    }
    this.#buffer =
      this.#buffer.length === 0 ? step.value : Buffer.concat([this.#buffer, step.value]);
    return true;
  }

  #take(size: number): Uint8Array {
    const taken = this.#buffer.subarray(0, size);
    this.#buffer = this.#buffer.subarray(size);
    return taken;
  }

  async read(size?: number): Promise<Uint8Array> {
    const wanted = size === undefined || size < 0 ? Infinity : size;
    while (this.#buffer.length < wanted && (await this.#pull()));
    return this.#take(Math.min(wanted, this.#buffer.length));
  }

  async readline(size?: number): Promise<Uint8Array> {
    const limit = size === undefined || size < 0 ? Infinity : size;
    for (;;) {
      const newline = this.#buffer.indexOf(0x0a);
      if (newline !== -1) return this.#take(Math.min(newline + 1, limit));
      if (this.#buffer.length >= limit || !(await this.#pull()))
        return this.#take(Math.min(this.#buffer.length, limit));
    }
  }

  readlines(hint?: number): Promise<Uint8Array[]> {
    return readlines(this, hint);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.#buffer.length === 0 && !(await this.#pull())) return;
      yield this.#take(this.#buffer.length);
    }
  }
}

/** What every environ of `toFetch` shares; `tsgi.errors` is the process's stderr. */
const FETCH_SERVER: EnvironServer = {
  software: "foobar-toFetch",
  errors: {
    write: (text) => void process.stderr.write(text),
    writelines: (lines) => {
      for (const line of lines) process.stderr.write(line);
    },
    flush: () => undefined,
  },
  multiprocess: false,
};

/** What the environ needs of a request's URL. */
interface UrlParts {
  scheme: "http" | "https";
  /** `example.com:8080`, or `example.com` on the scheme's default port. */
  host: string;
  hostname: string;
  /** Always given: the scheme's default if the URL has none. */
  port: string;
  /** Still percent-encoded. */
  path: string;
  /** After the `?`, still percent-encoded; `""` if none. */
  query: string;
}

// A URL exactly as the URL parser writes one out — the form of every `request.url` a fetch
// server hands over — can be read off the string: a lower-case host name, a port that is not
// the scheme's default, and a path and query with nothing in them that the parser would
// encode or resolve. Anything else (IPv6, an IDN, `.` segments, a fragment…) goes through
// `new URL`, which costs about a microsecond, a few per cent of a hello request.
const SERIALIZED_URL =
  /^(https?):\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::([1-9]\d{0,4}))?(\/[!$-;=@-Z_a-z~]*)(?:\?([!$-&(-;=?-~]*))?$/;
/** A `.` or `..` segment, written out or encoded: the parser would resolve it. */
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;
/** A last label that makes the host an IPv4 address (which the parser may rewrite)... */
const NUMERIC_LABEL = /(?:^|\.)(?:\d+|0x[0-9a-f]*)$/i;
/** ...unless it already is one as the parser writes it. */
const DOTTED_QUAD =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The scheme and authority of a URL: what `urlParts` finds before the path. */
type Origin = Omit<UrlParts, "path" | "query">;

/** The path and query after a known origin, as the URL parser writes them (see above). */
const SERIALIZED_PATH_AND_QUERY = /^\/[!$-;=@-Z_a-z~]*(?:\?[!$-&(-;=?-~]*)?$/;

// The origins (`http://example.com:8080`) of the last URLs read off their string, so the next
// URL with one of them needs only its path checked: a fetch server's requests keep coming
// with the same few. A small ring: a client making up Host headers can only push the others
// out (costing a check), never grow it.
const RECENT_ORIGINS = 8;
const recentOrigins: { prefix: string; origin: Origin }[] = [];
let nextRecentOrigin = 0;

function rememberOrigin(prefix: string, origin: Origin): void {
  recentOrigins[nextRecentOrigin] = { prefix, origin };
  nextRecentOrigin = (nextRecentOrigin + 1) % RECENT_ORIGINS;
}

/** (One object literal, so every UrlParts has the same shape: a spread would be slower.) */
function withPath(origin: Origin, path: string, query: string): UrlParts {
  const { scheme, host, hostname, port } = origin;
  return { scheme, host, hostname, port, path, query };
}

/** The parts of the path and query `rest` after `origin`, if it is as the parser writes it. */
function afterOrigin(origin: Origin, rest: string): UrlParts | undefined {
  if (!SERIALIZED_PATH_AND_QUERY.test(rest)) return undefined;
  const mark = rest.indexOf("?");
  const path = mark === -1 ? rest : rest.slice(0, mark);
  if (DOT_SEGMENT.test(path)) return undefined;
  return withPath(origin, path, mark === -1 ? "" : rest.slice(mark + 1));
}

function urlParts(url: string): UrlParts {
  for (let i = 0; i < recentOrigins.length; i++) {
    const { prefix, origin } = recentOrigins[i]!;
    if (url.startsWith(prefix) && url.charCodeAt(prefix.length) === 0x2f /* / */) {
      const parts = afterOrigin(origin, url.slice(prefix.length));
      if (parts !== undefined) return parts;
      break;
    }
  }
  const match = SERIALIZED_URL.exec(url);
  if (match !== null) {
    const scheme = match[1] as "http" | "https";
    const [, , hostname, port, path, query] = match as unknown as string[];
    const defaultPort = scheme === "https" ? "443" : "80";
    if (
      port !== defaultPort &&
      (port === undefined || Number(port) <= 65535) &&
      !DOT_SEGMENT.test(path!) &&
      !hostname!.includes("xn--") &&
      (!NUMERIC_LABEL.test(hostname!) || DOTTED_QUAD.test(hostname!))
    ) {
      const host = port === undefined ? hostname! : `${hostname}:${port}`;
      const origin: Origin = { scheme, host, hostname: hostname!, port: port ?? defaultPort };
      rememberOrigin(`${scheme}://${host}`, origin);
      return withPath(origin, path!, query ?? "");
    }
  }
  const parsed = new URL(url);
  const scheme = parsed.protocol === "https:" ? "https" : "http";
  return {
    scheme,
    host: parsed.host,
    hostname: parsed.hostname,
    port: parsed.port || (scheme === "https" ? "443" : "80"),
    path: parsed.pathname,
    query: parsed.search.slice(1),
  };
}

/**
 * The symbol-keyed fields by which an untouched lightweight Request of @hono/node-server (2.1)
 * is recognised: `incomingKey` holds the Node request it wraps, and `headersKey` is set only
 * once something asks for its `headers` (which is also how its real Request gets them), so
 * while it is unset no one can have changed them. Learned from the first such request (see
 * `learnNodeServerFields`); null if the requests are not of that kind, or it changed.
 */
let nodeServerFields: { incoming: symbol; headers: symbol } | null | undefined;
/** Requests seen without learning the fields (each a look at its symbols, ~0.25 µs). */
let learningAttempts = 0;
const MAX_LEARNING_ATTEMPTS = 100;

const symbolNamed = (fields: symbol[], name: string) =>
  fields.find((field) => field.description === name);

/**
 * Learns `nodeServerFields` from a request that has exactly the fields of an untouched one —
 * its Node request, method and URL — by asking for its headers (which only wraps the Node
 * request's, nothing is read) and seeing which field that adds. Undefined: not this time.
 */
function learnNodeServerFields(request: Request, incoming: IncomingMessage) {
  const record = request as unknown as Record<symbol, unknown>;
  const before = Object.getOwnPropertySymbols(request);
  const incomingField = symbolNamed(before, "incomingKey");
  const names = before.map((field) => field.description).sort();
  if (names.join() !== "incomingKey,methodKey,urlKey" || record[incomingField!] !== incoming)
    return ++learningAttempts < MAX_LEARNING_ATTEMPTS ? undefined : null;
  void request.headers;
  const added = Object.getOwnPropertySymbols(request).filter((field) => !before.includes(field));
  const headersField = symbolNamed(added, "headersKey");
  return added.length === 1 && headersField !== undefined
    ? { incoming: incomingField!, headers: headersField }
    : null;
}

/**
 * The Node request whose headers `request` carries unchanged, if `request` is
 * @hono/node-server's own lightweight Request for `env.incoming` (its HttpBindings) and no one
 * has asked for its headers: they are then read from the Node request's `rawHeaders`, as the
 * gateway reads them, instead of enumerating `request.headers`, which builds an undici Headers
 * object for it (about a microsecond, a tenth of a hello request). Else undefined: the headers
 * are read through the fetch API.
 */
function untouchedIncoming(request: Request, env: unknown): IncomingMessage | undefined {
  if (nodeServerFields === null || typeof env !== "object" || env === null) return undefined;
  const incoming = (env as { incoming?: unknown }).incoming;
  // (An HTTP/2 request is not an IncomingMessage: its headers go through the fetch API.)
  if (!(incoming instanceof IncomingMessage)) return undefined;
  if (nodeServerFields === undefined) {
    nodeServerFields = learnNodeServerFields(request, incoming);
    return undefined; // this request's headers have now been asked for
  }
  const record = request as unknown as Record<symbol, unknown>;
  return record[nodeServerFields.incoming] === incoming &&
    record[nodeServerFields.headers] === undefined
    ? incoming
    : undefined;
}

/**
 * The environ for a `Request`. A fetch request knows nothing of mounts (SCRIPT_NAME is `""`) or
 * of the client's address. If the fetch server passes a TSGI environ as `env` — the app runs
 * inside `fromFetch`, in a fetch framework — that environ's extension keys (`gateway.*`,
 * `demo.trail`) carry over, so what middleware recorded outside is still seen inside.
 */
export function toEnviron(request: Request, env?: unknown): Environ {
  const url = urlParts(request.url);
  const environ = createEnviron(
    {
      method: request.method,
      scriptName: "",
      pathInfo: unquoteToNative(url.path),
      query: url.query,
      serverName: url.hostname,
      serverPort: url.port,
      protocol: "HTTP/1.1",
      scheme: url.scheme,
      input: new StreamInput(request),
    },
    FETCH_SERVER,
  );
  const incoming = untouchedIncoming(request, env);
  if (incoming !== undefined) addRequestHeaders(environ, incoming.rawHeaders);
  else {
    const rawHeaders: string[] = [];
    request.headers.forEach((value, name) => void rawHeaders.push(name, value));
    addRequestHeaders(environ, rawHeaders);
  }
  environ.HTTP_HOST ??= url.host;
  if (isEnviron(env))
    for (const [key, value] of Object.entries(env))
      if (key.includes(".") && !key.startsWith("tsgi.")) environ[key as `x.${string}`] = value;
  return environ;
}

/**
 * The status and headers of a `Response`. The headers go as a plain object when no name repeats
 * exactly — the form @hono/node-server hands to `writeHead` as it is, where a list would be
 * turned into a Headers object and back — else as a list (repeated Set-Cookie, Vary…). The
 * reason goes only if it is not the standard one, which a server writes anyway.
 */
function responseInit(
  code: number,
  status: string,
  headers: HeaderList,
  contentLength: number,
): ResponseInit {
  // A plain object, not one with a null prototype: V8 keeps that one in dictionary mode, slower
  // to fill and for the server to read. So a name the prototype has (`constructor`,
  // `__proto__`, whose assignment would set the prototype instead) sends the headers as a list.
  const record: Record<string, string> = {};
  let repeated = false;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (name in record) repeated = true;
    else if (name === "__proto__") {
      repeated = true;
      continue;
    }
    record[name] = value;
  }
  const length = contentLength >= 0 ? String(contentLength) : undefined;
  let init: Record<string, string> | [string, string][] = record;
  // (The engine adds a length only where the app gave none.)
  if (!repeated) {
    if (length !== undefined) record["content-length"] = length;
  } else {
    const list = headers.map(([name, value]): [string, string] => [name, value]);
    if (length !== undefined) list.push(["content-length", length]);
    init = list;
  }
  const reason = status.slice(4);
  return reason === STATUS_CODES[code]
    ? { status: code, headers: init }
    : { status: code, statusText: reason, headers: init };
}

/** The held chunks of a body as one: the chunk itself if there is one. */
function joined(chunks: Uint8Array[]): Uint8Array | null {
  if (chunks.length === 0) return null;
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/**
 * The response engine (tsgi/response-engine.ts: the server side of the contract, the gateway's
 * own) with a fetch `Response` as its output, made with whatever `Response` the runtime has
 * (@hono/node-server's light one under its server). A body that is all in memory (an array,
 * the common case) becomes a Response over its bytes, which a fetch server writes at once
 * with no stream; any other body a ReadableStream that the engine fills one chunk per read, so
 * an app's generator runs only as fast as the fetch server's client reads. Cancelling the
 * stream is a client leaving.
 */
class FetchExchange extends ResponseEngine {
  #response: Response | undefined;
  #pending: Promise<Response> | undefined;
  #answer: ((response: Response) => void) | undefined;
  /** The init of a Response held until its body is complete (an array body being sent). */
  #heldInit: ResponseInit | undefined;
  /** The chunks before the last of a held body (made only for an array of several). */
  #held: Uint8Array[] | undefined;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  /** The client cancelled the body, or the response has none to send (HEAD, 204, 304). */
  #gone = false;
  /** Resolves the wait after a chunk: the client asked for the next one (or left). */
  #pulled: (() => void) | undefined;
  #onGone: (() => void) | undefined;

  constructor(
    readonly request: Request,
    readonly errors: ErrorStream,
  ) {
    super();
  }

  /**
   * The Response once the headers are out (the error response's, if the app failed first): at
   * once for an app that answered at once, else a promise.
   */
  get response(): Response | Promise<Response> {
    return this.#response ?? (this.#pending ??= new Promise((resolve) => (this.#answer = resolve)));
  }

  #respondWith(response: Response): void {
    this.#response = response;
    this.#answer?.(response);
  }

  protected sendHead(contentLength: number, complete: boolean): void {
    const init = responseInit(this.code, this.status, this.headers, contentLength);
    if (this.isHead || forbidsBody(this.code)) {
      // No body may follow: the app's is not read any further, and closed (the engine sees a
      // client with nothing more to receive).
      this.#gone = true;
      this.#respondWith(new Response(null, init));
    } else if (complete) this.#heldInit = init;
    else this.#respondWithStream(init);
  }

  #respondWithStream(init: ResponseInit): void {
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => void (this.#controller = controller),
        pull: () => this.#wake(),
        cancel: () => {
          this.#gone = true;
          this.#controller = undefined;
          this.#wake();
          this.#onGone?.();
        },
      },
      { highWaterMark: 0 }, // no read-ahead: a chunk is made when the client asks for one
    );
    this.#respondWith(new Response(body, init));
  }

  #wake(): void {
    const pulled = this.#pulled;
    this.#pulled = undefined;
    pulled?.();
  }

  protected sendChunk(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#heldInit !== undefined) {
      (this.#held ??= []).push(chunk); // the rest of the array follows at once
      return undefined;
    }
    const controller = this.#controller;
    if (controller === undefined) return undefined;
    controller.enqueue(chunk);
    if ((controller.desiredSize ?? 0) > 0) return undefined;
    return new Promise((resolve) => (this.#pulled = resolve));
  }

  protected endOutput(last?: Uint8Array): void {
    const init = this.#heldInit;
    if (init !== undefined) {
      this.#heldInit = undefined;
      const held = this.#held;
      const body =
        held === undefined
          ? last !== undefined && last.length > 0
            ? last
            : null
          : joined(last !== undefined && last.length > 0 ? [...held, last] : held);
      this.#respondWith(new Response(body, init));
      return;
    }
    const controller = this.#controller;
    this.#controller = undefined;
    if (controller === undefined) return;
    if (last !== undefined && last.length > 0) controller.enqueue(last);
    controller.close();
  }

  /** The body ends in an error, so the client sees it is incomplete. */
  protected cutOff(): void {
    const error = new Error(`${this.describe()}: the response body was cut off`);
    const init = this.#heldInit;
    if (init !== undefined) {
      // Short of the app's Content-Length: what there is is read, then the stream fails.
      this.#heldInit = undefined;
      const chunks = this.#held ?? [];
      const body = new ReadableStream<Uint8Array>(
        {
          pull: (controller) => {
            const chunk = chunks.shift();
            if (chunk === undefined) controller.error(error);
            else controller.enqueue(chunk);
          },
        },
        { highWaterMark: 0 },
      );
      this.#respondWith(new Response(body, init));
      return;
    }
    const controller = this.#controller;
    this.#controller = undefined;
    controller?.error(error);
  }

  protected override get clientGone(): boolean {
    return this.#gone;
  }

  protected override watchClient(listener: () => void): void {
    this.#onGone = listener;
  }

  protected override unwatchClient(): void {
    this.#onGone = undefined;
  }

  /** Logs the failure (the engine then answers 500, or cuts the body off if too late). */
  protected reportFailure(error: unknown): void {
    if (error instanceof ContractViolation)
      this.logError(
        `toFetch: ${this.describe()}: TSGI contract violation (${error.rule}): ${error.message}`,
      );
    else
      this.logError(
        `toFetch: ${this.describe()}: ${error instanceof Error ? error.stack : String(error)}`,
      );
  }

  protected override closeFailed(error: unknown): void {
    this.logError(`toFetch: ${this.describe()}: body close() failed: ${String(error)}`);
  }

  protected logError(message: string): void {
    this.errors.write(message + "\n");
  }

  protected override describe(): string {
    return `${this.request.method} ${this.request.url}`;
  }
}

/**
 * Wraps a TSGI application as a fetch handler `(request, env?) => Response`: the Response
 * itself when the app answered at once (an array body), else a promise of it.
 */
export function toFetch(app: Application): FetchHandler {
  return function tsgiFetchHandler(request, env) {
    const environ = toEnviron(request, env);
    const exchange = new FetchExchange(request, environ["tsgi.errors"]);
    exchange.run(app, environ);
    return exchange.response;
  };
}
