/**
 * Any Node request listener — `(req, res) => void`, the function `http.createServer` takes — as
 * a TSGI application. Connect, Express, Koa's `app.callback()`, plain `node:http` handlers and
 * Fastify's own `routing` are all request listeners: this is the one adapter for that family.
 *
 * The listener is called with two small stand-ins instead of Node's objects:
 *
 *   - `RequestStandIn`, a Readable that streams `tsgi.input` and carries what frameworks read
 *     from an IncomingMessage: method, url, headers, httpVersion, a socket with the client address;
 *   - `ResponseStandIn`, a Writable whose writeHead/setHeader/write/end become `startResponse` and
 *     body chunks, with back-pressure: the listener's writes wait while the server has not taken
 *     the previous chunks.
 *
 * The listener sees the request as mounted: its URL is `PATH_INFO` (re-encoded) and the query,
 * so an app registers its routes from `/` and runs unchanged under any mount. Handlers that
 * need the mount (to build links) read it with `environOf(req)?.SCRIPT_NAME`.
 * Hop-by-hop headers the listener sets (`connection`, `transfer-encoding`, …) are dropped:
 * framing is the server's business.
 */
import { EventEmitter } from "node:events";
import { IncomingMessage, ServerResponse, STATUS_CODES } from "node:http";
import { Readable, Writable } from "node:stream";
import type { Application, Environ, ResponseBody, StartResponse, Status } from "@foobar/tsgi";
import { mountedTarget, requestHeaders, responseHeaderList } from "./environ-http.js";

/**
 * What frameworks read from `req.socket`: the peer, TLS or not, `on()` for listeners, and
 * whether the connection is still open (`on-finished`, behind Express's body parsers and final
 * handler, takes a socket that is not `readable` for a request already read to the end).
 */
class SocketStandIn extends EventEmitter {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly encrypted: boolean;
  readable = true;
  writable = true;
  destroyed = false;
  constructor(environ: Environ) {
    super();
    this.remoteAddress = environ.REMOTE_ADDR;
    this.remotePort = environ.REMOTE_PORT ? Number(environ.REMOTE_PORT) : undefined;
    this.encrypted = environ["tsgi.url_scheme"] === "https";
  }
  setTimeout(): this {
    return this;
  }
  /** The app gave up on the connection (finalhandler does, after an error mid-response). */
  destroy(error?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.readable = this.writable = false;
    this.emit("close", error !== undefined);
    return this;
  }
}

/** The request as a Node framework expects it: an IncomingMessage-shaped Readable. */
class RequestStandIn extends Readable {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly httpVersion: string;
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  readonly socket: SocketStandIn;
  aborted = false;
  complete = false;
  #input: AsyncIterator<Uint8Array> | undefined;
  #reading = false;

  constructor(readonly environ: Environ) {
    super();
    this.method = environ.REQUEST_METHOD;
    this.url = mountedTarget(environ);
    this.headers = requestHeaders(environ);
    // Node shows a chunked body as `transfer-encoding: chunked` (the stream itself de-chunked);
    // without it, body parsers would think a request with no Content-Length has no body.
    if (
      this.headers["content-length"] === undefined &&
      environ.HTTP_TRANSFER_ENCODING !== undefined
    )
      this.headers["transfer-encoding"] = "chunked";
    this.httpVersion = environ.SERVER_PROTOCOL === "HTTP/1.0" ? "1.0" : "1.1";
    this.httpVersionMinor = this.httpVersion === "1.0" ? 0 : 1;
    this.socket = new SocketStandIn(environ);
  }

  get connection(): SocketStandIn {
    return this.socket;
  }

  /** Readable's pull: one chunk of `tsgi.input` per call, so the body streams as it arrives. */
  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    this.#input ??= this.environ["tsgi.input"][Symbol.asyncIterator]();
    this.#input.next().then(
      (step) => {
        this.#reading = false;
        if (step.done === true) {
          this.complete = true;
          this.push(null);
        } else this.push(step.value);
      },
      (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
    );
  }

  /** The server gave up on the response (client gone): abort hooks (Fastify's) listen for this. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit("close");
  }
}

type HeaderValue = string | string[] | number;

/** Bytes the stand-in accepts without waiting for the server to take them. */
const HIGH_WATER_MARK = 64 * 1024;

/** The response as a Node framework expects it, turned into `startResponse` + body chunks. */
class ResponseStandIn extends Writable {
  statusCode = 200;
  statusMessage = "";
  headersSent = false;
  readonly #headers = new Map<string, [string, HeaderValue]>();
  readonly #chunks: Uint8Array[] = [];
  #queuedBytes = 0;
  /** The listener's write callback, held back until the server has taken the queue (back-pressure). */
  #heldCallback: (() => void) | undefined;
  #finished = false;
  #failure: Error | undefined;
  /** Wakes the body iterator waiting for a chunk or the end. */
  #wake: (() => void) | undefined;
  #announce: (() => void) | undefined;
  readonly started: Promise<void>;

  constructor(readonly request: RequestStandIn) {
    super({ highWaterMark: HIGH_WATER_MARK });
    this.started = new Promise((resolve) => (this.#announce = resolve));
  }

  setHeader(name: string, value: HeaderValue): this {
    this.#headers.set(name.toLowerCase(), [name, value]);
    return this;
  }
  getHeader(name: string): HeaderValue | undefined {
    return this.#headers.get(name.toLowerCase())?.[1];
  }
  getHeaders(): Record<string, HeaderValue> {
    const headers: Record<string, HeaderValue> = {};
    for (const [lower, [, value]] of this.#headers) headers[lower] = value;
    return headers;
  }
  getHeaderNames(): string[] {
    return [...this.#headers.keys()];
  }
  hasHeader(name: string): boolean {
    return this.#headers.has(name.toLowerCase());
  }
  removeHeader(name: string): void {
    this.#headers.delete(name.toLowerCase());
  }

  /** `writeHead(code[, reason][, headers])`; headers as an object or a flat [name, value, …]. */
  writeHead(
    statusCode: number,
    reasonOrHeaders?: string | Record<string, HeaderValue> | string[],
    headers?: Record<string, HeaderValue> | string[],
  ): this {
    this.statusCode = statusCode;
    let extra = headers;
    if (typeof reasonOrHeaders === "string") this.statusMessage = reasonOrHeaders;
    else extra = reasonOrHeaders;
    if (Array.isArray(extra)) {
      for (let i = 0; i + 1 < extra.length; i += 2) this.setHeader(extra[i]!, extra[i + 1]!);
    } else if (extra !== undefined) {
      for (const [name, value] of Object.entries(extra)) this.setHeader(name, value);
    }
    this.#start();
    return this;
  }
  flushHeaders(): void {
    this.#start();
  }
  /** TSGI has no trailers (neither has PEP 3333): they are dropped. */
  addTrailers(): void {}
  writeEarlyHints(): void {}
  writeContinue(): void {}

  #start(): void {
    this.headersSent = true;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#start();
    this.#chunks.push(chunk);
    this.#queuedBytes += chunk.length;
    if (this.#queuedBytes < HIGH_WATER_MARK) callback();
    else this.#heldCallback = callback;
    // Let a synchronous `end(payload)` finish first, so a whole body can go out as one array.
    queueMicrotask(() => this.#announce?.());
    this.#wakeReader();
  }

  override _final(callback: () => void): void {
    this.#start();
    this.#finished = true;
    this.#announce?.();
    this.#wakeReader();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#finished) this.#failure = error ?? new Error("the app destroyed the response");
    this.#announce?.();
    this.#wakeReader();
    callback(error);
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Everything queued so far; releases the listener's held write. */
  #takeQueue(): Uint8Array[] {
    const taken = this.#chunks.splice(0);
    this.#queuedBytes = 0;
    const held = this.#heldCallback;
    this.#heldCallback = undefined;
    held?.();
    return taken;
  }

  /** Calls `startResponse` with what the listener set, minus hop-by-hop headers. */
  respond(startResponse: StartResponse): void {
    const reason = this.statusMessage || STATUS_CODES[this.statusCode] || "Unknown";
    const headers: Record<string, HeaderValue> = {};
    for (const [, [name, value]] of this.#headers) headers[name] = value;
    startResponse(`${this.statusCode} ${reason}` as Status, responseHeaderList(headers));
  }

  /** Node's names for the connection and "end() was called", read by `on-finished`. */
  get socket(): SocketStandIn {
    return this.request.socket;
  }
  get connection(): SocketStandIn {
    return this.request.socket;
  }
  get finished(): boolean {
    return this.writableEnded;
  }

  /** True when the listener has finished and everything it wrote is in the queue. */
  get allQueued(): boolean {
    return this.#finished && this.writableLength === 0;
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  /** The body for the server: the whole queue at once if complete, else a stream of it. */
  body(): ResponseBody {
    const close = () => {
      if (!this.#finished) {
        this.request.abort();
        this.destroy();
      }
    };
    if (this.allQueued) return Object.assign(this.#takeQueue(), { close });
    const stream = async function* (this: ResponseStandIn): AsyncGenerator<Uint8Array> {
      for (;;) {
        const chunks = this.#takeQueue();
        for (const chunk of chunks) yield chunk;
        if (this.#failure !== undefined) throw this.#failure;
        if (this.#finished && this.#chunks.length === 0 && this.writableLength === 0) return;
        if (this.#chunks.length === 0) await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    }.call(this);
    // Explicit close: a generator never started would not run its cleanup on return().
    return Object.assign(stream, { close });
  }
}

/** The environ behind a request an app got from this adapter (`req`, or Fastify's `request.raw`). */
export function environOf(raw: unknown): Environ | undefined {
  return raw instanceof RequestStandIn ? raw.environ : undefined;
}

/** A Node request listener: what `http.createServer(listener)` takes. */
export type NodeRequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** Calls `listener` with the stand-ins; resolves once it has started its response. */
async function serve(
  listener: NodeRequestListener,
  environ: Environ,
  startResponse: StartResponse,
): Promise<ResponseBody> {
  const request = new RequestStandIn(environ);
  const response = new ResponseStandIn(request);
  // Node emits 'close' on the request once the response is done; frameworks clean up on it.
  response.once("finish", () => request.emit("close"));
  // An app that destroys the socket ends the response: the server drops the connection.
  request.socket.once("close", () => {
    if (!response.writableFinished) response.destroy(new Error("the app destroyed the socket"));
  });
  listener(request as unknown as IncomingMessage, response as unknown as ServerResponse);
  await response.started;
  if (response.failure !== undefined && !response.headersSent) throw response.failure;
  response.respond(startResponse);
  return response.body();
}

/** Wraps a Node request listener `(req, res) => void` as a TSGI application. */
export function fromRequestListener(listener: NodeRequestListener): Application {
  return function requestListenerApplication(environ, startResponse) {
    return serve(listener, environ, startResponse);
  };
}

/**
 * For frameworks that re-parent every request and response onto prototypes of their own, as
 * Express does (`Object.setPrototypeOf(req, app.request)`): `prototypes` are that app's two
 * objects, whose chains end in Node's `IncomingMessage`/`ServerResponse` prototypes through a
 * layer of the framework's helpers (`req.get`, `res.send`, …). This puts a copy of that layer on
 * top of the stand-ins' prototypes instead, for this app only: the helpers keep working, and
 * the stand-ins' own methods (reading `tsgi.input`, turning `end()` into a body) stay in reach.
 */
export function rebaseOntoStandIns(prototypes: { request: object; response: object }): void {
  const pairs: [object, object, object][] = [
    [prototypes.request, IncomingMessage.prototype, RequestStandIn.prototype],
    [prototypes.response, ServerResponse.prototype, ResponseStandIn.prototype],
  ];
  for (const [appPrototype, nodePrototype, standInPrototype] of pairs) {
    const helpers: unknown = Object.getPrototypeOf(appPrototype);
    if (typeof helpers !== "object" || helpers === null) throw new Error("no helper prototype");
    if (Object.getPrototypeOf(helpers) === standInPrototype) continue; // rebased already
    if (Object.getPrototypeOf(helpers) !== nodePrototype)
      throw new Error(
        "rebaseOntoStandIns: expected the framework's helpers directly on Node's prototype",
      );
    const rebased = Object.create(
      standInPrototype,
      Object.getOwnPropertyDescriptors(helpers),
    ) as object;
    Object.setPrototypeOf(appPrototype, rebased);
  }
}
