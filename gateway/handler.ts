/**
 * One request, start to finish: the server side of the contract (PEP 3333's "server" rules).
 *
 *   1. build the environ from the request;
 *   2. call the app with it and a `startResponse` that only *records* status and headers;
 *   3. send the headers when the first non-empty chunk appears (or the body ends), so an app
 *      that fails before that can still replace its response with an error;
 *   4. stream the chunks, waiting when the socket is full (back-pressure);
 *   5. call the body's `close()` exactly once — on success, on error, on client disconnect.
 *
 * The hot path (an app that returns an array, like hello) runs without a single promise.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Environ, HeaderList, ResponseBody, StartResponse, Write } from "../tsgi/types.js";
import { forbidsBody, headerProblem, headersProblem, statusProblem } from "../tsgi/rules.js";
import { buildEnviron, type ServerContext } from "./environ.js";
import { BadRequest, ContractViolation } from "./errors.js";
import { RequestInput } from "./input.js";
import { describeError, type Logger } from "./log.js";
import { sendPlainResponse } from "./plain-response.js";

/** What a finished exchange reports to the access log and metrics. */
export interface ExchangeRecord {
  environ: Environ | undefined;
  request: IncomingMessage;
  status: number;
  /** Body bytes the app produced (what went on the wire, for a GET). */
  bytes: number;
  /** Response headers as sent (app headers; the server's own are not included). */
  headers: HeaderList;
  startedAt: bigint;
}

export interface HandlerOptions {
  context: ServerContext;
  log: Logger;
  /** Called before the app for each request (Gunicorn's `pre_request`). */
  beforeRequest?: (request: IncomingMessage, environ: Environ) => void;
  /** Called after each response, whatever happened (access log, metrics, `post_request`). */
  afterResponse?: (record: ExchangeRecord) => void;
  /** Largest request body in bytes, enforced as the app reads it; 0 = no limit. */
  limitRequestBody?: number;
}

const NO_HEADERS: HeaderList = [];

type Body = ResponseBody;

// An app sends the same few statuses and headers on every request. Checking them costs regular
// expressions per header per request, so remember the ones that passed (exact strings; bounded,
// so an app that makes up new values cannot grow the memory without limit).
const CHECKED_LIMIT = 1000;
const goodStatuses = new Set<string>();
const goodHeaderValues = new Map<string, Set<string>>();
let goodHeaderCount = 0;

function checkedStatus(status: unknown): string | null {
  if (typeof status === "string" && goodStatuses.has(status)) return null;
  const problem = statusProblem(status);
  if (problem === null && goodStatuses.size < CHECKED_LIMIT) goodStatuses.add(status as string);
  return problem;
}

function checkedHeaders(headers: unknown): string | null {
  if (!Array.isArray(headers)) return headersProblem(headers);
  for (let i = 0; i < headers.length; i++) {
    const header: unknown = headers[i];
    if (Array.isArray(header) && header.length === 2) {
      const values = goodHeaderValues.get(header[0] as string);
      if (values !== undefined && values.has(header[1] as string)) continue;
    }
    const problem = headerProblem(header);
    if (problem !== null) return problem;
    if (goodHeaderCount < CHECKED_LIMIT) {
      const [name, value] = header as [string, string];
      let values = goodHeaderValues.get(name);
      if (values === undefined) goodHeaderValues.set(name, (values = new Set()));
      if (!values.has(value)) {
        values.add(value);
        goodHeaderCount++;
      }
    }
  }
  return null;
}

function isThenable(value: unknown): value is PromiseLike<Body> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function chunkProblem(chunk: unknown): string | null {
  if (chunk instanceof Uint8Array) return null;
  if (typeof chunk === "string")
    return `body yielded a string (${JSON.stringify(chunk.slice(0, 20))}); encode it to a Uint8Array`;
  return `body yielded ${chunk === null ? "null" : typeof chunk}; chunks must be Uint8Array`;
}

/** The state of one request/response exchange. */
class Exchange {
  environ: Environ | undefined;
  input: RequestInput | undefined;
  status: string | undefined;
  code = 0;
  headers: HeaderList = NO_HEADERS;
  hasServerHeader = false;
  /** The app's own Content-Length, or -1. */
  declaredLength = -1;
  headersSent = false;
  bytes = 0;
  aborted = false;
  finished = false;
  reported = false;
  body: Body | undefined;
  #closeCalled = false;
  readonly startedAt = process.hrtime.bigint();

  constructor(
    readonly request: IncomingMessage,
    readonly response: ServerResponse,
    readonly options: HandlerOptions,
  ) {}

  readonly startResponse: StartResponse = (status, headers, excInfo) => {
    if (excInfo !== undefined && excInfo !== null) {
      // PEP 3333: with exc_info after the headers went out, re-raise — the app must not catch it.
      if (this.headersSent) throw excInfo;
    } else if (this.status !== undefined) {
      throw new ContractViolation("start_response() called a second time without excInfo");
    }
    const problem = checkedStatus(status) ?? checkedHeaders(headers);
    if (problem !== null) throw new ContractViolation(problem);
    let declared = -1;
    let hasServer = false;
    for (const [name, value] of headers) {
      const lower = name.length === 14 || name.length === 6 ? name.toLowerCase() : "";
      if (lower === "content-length") {
        if (!/^[0-9]+$/.test(value))
          throw new ContractViolation(`Content-Length ${JSON.stringify(value)} is not a number`);
        declared = Number(value);
      } else if (lower === "server") hasServer = true;
    }
    this.status = status;
    this.code = Number(status.slice(0, 3));
    this.headers = headers;
    this.declaredLength = declared;
    this.hasServerHeader = hasServer;
    return this.write;
  };

  /** The legacy `write()`: sends the headers at once, then the chunk. */
  readonly write: Write = (chunk) => {
    if (this.status === undefined)
      throw new ContractViolation("write() called before start_response()");
    const problem = chunkProblem(chunk);
    if (problem !== null)
      throw new ContractViolation(problem.replace("body yielded", "write() got"));
    if (!this.headersSent) this.sendHeaders(-1);
    return this.transmit(chunk);
  };

  /** Puts status and headers on the wire; `knownLength` >= 0 adds a Content-Length. */
  sendHeaders(knownLength: number): void {
    if (this.status === undefined)
      throw new ContractViolation("the body produced data before start_response() was called");
    const { headers } = this;
    const flat: string[] = [];
    for (let i = 0; i < headers.length; i++) flat.push(headers[i]![0], headers[i]![1]);
    if (!this.hasServerHeader) flat.push("Server", this.options.context.software);
    if (knownLength >= 0 && this.declaredLength < 0 && !forbidsBody(this.code))
      flat.push("Content-Length", String(knownLength));
    this.headersSent = true;
    this.response.writeHead(this.code, this.status.slice(4), flat);
  }

  /** Writes one chunk, honouring the app's Content-Length; a promise means "wait for drain". */
  transmit(chunk: Uint8Array): Promise<void> | undefined {
    if (this.response.destroyed) {
      // The client left before we got here: its 'close' has fired already, so never wait.
      this.aborted = true;
      return undefined;
    }
    let data = chunk;
    if (this.declaredLength >= 0 && this.bytes + data.length > this.declaredLength) {
      data = data.subarray(0, this.declaredLength - this.bytes);
      this.options.log.error(
        "%s: app sent more than its Content-Length (%d); the excess was cut",
        this.describe(),
        this.declaredLength,
      );
      this.aborted = true; // stop iterating: everything allowed has been sent
    }
    this.bytes += data.length;
    if (this.response.write(data)) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        this.response.off("drain", done);
        this.response.off("close", done);
        resolve();
      };
      this.response.on("drain", done);
      this.response.on("close", done);
    });
  }

  /** True if `chunk` is the whole rest of the body: no Content-Length, or exactly what it declared. */
  completesBody(chunk: Uint8Array): boolean {
    if (this.response.destroyed) return false; // the client left: transmit() handles that
    return this.declaredLength < 0 || this.bytes + chunk.length === this.declaredLength;
  }

  /**
   * Sends the last chunk and ends the response in one call: `response.end(chunk)` skips the
   * cork and the extra tick that `write(chunk)` then `end()` cost Node on every request.
   */
  endWith(chunk: Uint8Array): void {
    this.finished = true;
    this.bytes += chunk.length;
    this.response.end(chunk);
    this.closeBody();
  }

  /** Ends a response whose body has been fully produced. */
  end(): void {
    if (this.status === undefined)
      throw new ContractViolation("the body ended and start_response() was never called");
    this.finished = true;
    // An empty streamed body says the GET body is empty, except for a HEAD: it never has one.
    if (!this.headersSent) this.sendHeaders(this.request.method === "HEAD" ? -1 : 0);
    if (
      this.declaredLength > this.bytes &&
      !forbidsBody(this.code) &&
      this.request.method !== "HEAD"
    ) {
      this.options.log.error(
        "%s: app sent %d bytes of its Content-Length %d; connection closed so the client sees it",
        this.describe(),
        this.bytes,
        this.declaredLength,
      );
      this.abortConnection();
    } else this.response.end();
    this.closeBody();
  }

  /**
   * Ends the connection after what was already written, without a proper end of the body: the
   * client sees a truncated response. (A plain destroy() would also drop the bytes Node still
   * holds back in its corked first write — the client would see no response at all.)
   */
  abortConnection(): void {
    const socket = this.response.socket;
    if (socket === null || socket.destroyed) this.response.destroy();
    else socket.destroySoon();
  }

  /** The app (or its body) threw: a 500 if nothing was sent yet, else abort the connection. */
  fail(error: unknown): void {
    this.finished = true;
    if (error instanceof BadRequest) {
      this.code = error.status;
      this.options.log.warning(
        "Invalid request from ip=%s: %s",
        this.request.socket.remoteAddress,
        error.message,
      );
      sendPlainResponse(this.response, error.status, error.message);
    } else if (error instanceof ContractViolation) {
      this.options.log.error("%s: TSGI contract violation: %s", this.describe(), error.message);
    } else {
      this.options.log.error(
        "Error handling request %s\n%s",
        this.describe(),
        describeError(error),
      );
    }
    if (!(error instanceof BadRequest)) {
      if (this.headersSent || this.response.headersSent) {
        this.options.log.error("%s: headers already sent; connection aborted", this.describe());
        this.abortConnection();
      } else {
        this.code = 500;
        this.bytes = 0;
        sendPlainResponse(this.response, 500, "Internal Server Error", { close: false });
      }
    }
    this.closeBody();
  }

  /** PEP 3333: "the server must call close()" — exactly once, whatever happened. */
  closeBody(): void {
    if (this.#closeCalled) return;
    this.#closeCalled = true;
    const body = this.body;
    if (body === undefined || typeof body.close !== "function") return;
    try {
      const result = body.close();
      if (isThenable(result))
        Promise.resolve(result).catch((error: unknown) => this.logCloseError(error));
    } catch (error) {
      this.logCloseError(error);
    }
  }

  logCloseError(error: unknown): void {
    this.options.log.error("%s: body close() failed\n%s", this.describe(), describeError(error));
  }

  describe(): string {
    return `${this.request.method} ${this.request.url}`;
  }
}

/** Serves one request with `app`; the listener for Node's `request` event. */
export function createRequestHandler(
  app: (environ: Environ, startResponse: StartResponse) => Body | PromiseLike<Body>,
  options: HandlerOptions,
): (request: IncomingMessage, response: ServerResponse, expectsContinue?: boolean) => void {
  const { context, beforeRequest, afterResponse } = options;

  function respond(exchange: Exchange, body: Body): void {
    exchange.body = body;
    if (Array.isArray(body)) {
      respondWithArray(exchange, body as Uint8Array[]);
      return;
    }
    if (body === null || body === undefined || typeof body === "string") {
      const what = typeof body === "string" ? "a string" : String(body);
      exchange.fail(
        new ContractViolation(
          `app returned ${what}; it must return an iterable of Uint8Array chunks (e.g. [bytes])`,
        ),
      );
      return;
    }
    const isAsync = typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === "function";
    if (!isAsync && typeof (body as Iterable<Uint8Array>)[Symbol.iterator] !== "function") {
      exchange.fail(
        new ContractViolation(`app returned ${typeof body} that is not iterable; return [bytes]`),
      );
      return;
    }
    void pump(exchange, body, isAsync);
  }

  /** The common case — a list of chunks already in memory — with an exact Content-Length. */
  function respondWithArray(exchange: Exchange, chunks: Uint8Array[]): void {
    // An array is all there is: start_response() must have been called by now.
    if (exchange.status === undefined) {
      exchange.fail(new ContractViolation("app returned a body without calling start_response()"));
      return;
    }
    let total = 0;
    for (const chunk of chunks) {
      const problem = chunkProblem(chunk);
      if (problem !== null) {
        exchange.fail(new ContractViolation(problem));
        return;
      }
      total += chunk.length;
    }
    if (total === 0) {
      exchange.end();
      return;
    }
    if (!exchange.headersSent) exchange.sendHeaders(total);
    let last = chunks.length - 1;
    while (chunks[last]!.length === 0) last--;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      if (chunk.length === 0) continue;
      if (i === last && exchange.completesBody(chunk)) {
        exchange.endWith(chunk);
        return;
      }
      const drained = exchange.transmit(chunk);
      if (drained !== undefined || exchange.aborted) {
        // The socket is full (or the app's Content-Length is used up): finish asynchronously.
        void pump(exchange, chunks.slice(i + 1), false, drained);
        return;
      }
    }
    exchange.end();
  }

  /** Streams any iterable, sync or async, waiting for the socket to drain when it is full. */
  async function pump(
    exchange: Exchange,
    body: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    isAsync: boolean,
    drained?: Promise<void>,
  ): Promise<void> {
    const { response } = exchange;
    const onClose = () => {
      if (!exchange.finished) {
        exchange.aborted = true;
        exchange.closeBody(); // the client is gone: let the app stop at once
      }
    };
    response.once("close", onClose);
    if (response.destroyed) onClose(); // gone while the app was still computing its body
    const iterator = isAsync
      ? (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
      : (body as Iterable<Uint8Array>)[Symbol.iterator]();
    try {
      if (drained !== undefined) await drained;
      for (;;) {
        if (exchange.aborted) break;
        const step = isAsync ? await iterator.next() : (iterator as Iterator<Uint8Array>).next();
        if (step.done === true || exchange.aborted) break;
        const chunk: unknown = step.value;
        const problem = chunkProblem(chunk);
        if (problem !== null) throw new ContractViolation(problem);
        const bytes = chunk as Uint8Array;
        if (bytes.length === 0) continue; // headers wait for the first non-empty chunk
        if (!exchange.headersSent) exchange.sendHeaders(-1);
        const drained = exchange.transmit(bytes);
        if (drained !== undefined) await drained;
      }
      if (exchange.aborted) {
        await iterator.return?.();
        if (exchange.response.destroyed) {
          exchange.finished = true;
          exchange.closeBody();
        } else exchange.end();
      } else exchange.end();
    } catch (error) {
      exchange.fail(error);
    } finally {
      response.off("close", onClose);
      report(exchange);
    }
  }

  function report(exchange: Exchange): void {
    if (exchange.reported) return;
    exchange.reported = true;
    const input = exchange.input;
    if (input?.partlyRead) {
      // The app stopped reading half-way: drain the rest so the connection can be reused.
      input.discard().catch(() => exchange.request.destroy());
    }
    afterResponse?.({
      environ: exchange.environ,
      request: exchange.request,
      status: exchange.code,
      bytes: exchange.bytes,
      headers: exchange.headers,
      startedAt: exchange.startedAt,
    });
  }

  return function handleRequest(request, response, expectsContinue = false) {
    const exchange = new Exchange(request, response, options);
    let result: Body | PromiseLike<Body>;
    try {
      const input = new RequestInput(
        request,
        expectsContinue ? () => response.writeContinue() : undefined,
        options.limitRequestBody,
      );
      exchange.input = input;
      const environ = buildEnviron(request, input, context);
      exchange.environ = environ;
      beforeRequest?.(request, environ);
      result = app(environ, exchange.startResponse);
    } catch (error) {
      exchange.fail(error);
      report(exchange);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (body) => {
          respond(exchange, body);
          if (exchange.finished) report(exchange);
        },
        (error: unknown) => {
          exchange.fail(error);
          report(exchange);
        },
      );
      return;
    }
    respond(exchange, result);
    if (exchange.finished) report(exchange);
  };
}
