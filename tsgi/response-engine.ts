/**
 * The server side of the contract, written once: everything between `app(environ,
 * startResponse)` and the end of the response (PEP 3333's rules for servers).
 *
 *   1. call the app with a `startResponse` that only *records* status and headers;
 *   2. send the headers when the first non-empty chunk appears (or the body ends), so an app
 *      that fails before that can still replace its response with an error;
 *   3. send the chunks, waiting when the output is full (back-pressure), and never more than
 *      the app's own Content-Length;
 *   4. call the body's `close()` exactly once — on success, on error, when the client leaves.
 *
 * As in wsgiref's BaseHandler, this class owns the protocol and a subclass supplies only the
 * output: the gateway's writes to a Node ServerResponse (gateway/handler.ts), the test
 * client's collects the response in memory (tsgi/testing.ts), toFetch's makes a fetch Response
 * (app/fetch-adapter.ts). The output is four methods (head, chunk, end, cut off) and, for an
 * output with a client that can leave, a watch on it; the reports are two (a failure, a log
 * line). Even the error response goes through the protocol: a tiny app, as wsgiref's
 * `error_output`. One exchange object serves one request; its state (`phase`, `status`,
 * `bytes`, …) is read-only outside the protocol.
 *
 * The common case — an app that returns an array of chunks, like hello — runs without a single
 * promise. The checks come from tsgi/rules.ts; tsgi/validate.ts checks servers, this one
 * included, so it never shares code with this file.
 */
import type {
  Application,
  Environ,
  HeaderList,
  ResponseBody,
  StartResponse,
  Status,
  Write,
} from "./types.js";
import { checkHeader, checkHeaders, checkStatus, forbidsBody, type RuleProblem } from "./rules.js";
import { isHeaderNamed } from "./headers.js";

/**
 * Where an exchange is in its life. It only moves forward:
 *
 *   awaiting-start  start_response has not been called (the app may not even run yet)
 *   started         status and headers are recorded, nothing is sent: they may be replaced
 *   sending         the headers are out; body chunks follow
 *   finished        the response ended — complete, answered with an error, or cut off because
 *                   the client left — and the body's close() has been called
 */
export type Phase = "awaiting-start" | "started" | "sending" | "finished";

/**
 * The app broke the contract; the client gets a 500 (the test client rethrows it). `rule` is
 * the name tsgi/validate.ts gives the same rule, e.g. `"body.chunk-not-bytes"`.
 */
export class ContractViolation extends Error {
  override name = "ContractViolation";
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

const NO_HEADERS: HeaderList = [];

// An app sends the same few statuses and headers on every request. Checking them costs regular
// expressions per header per request, so remember the ones that passed (exact strings; bounded,
// so an app that makes up new values cannot grow the memory without limit).
const CHECKED_LIMIT = 1000;
const goodStatuses = new Set<string>();
const goodHeaderValues = new Map<string, Set<string>>();
let goodHeaderCount = 0;

function checkedStatus(status: unknown): RuleProblem | null {
  if (typeof status === "string" && goodStatuses.has(status)) return null;
  const problem = checkStatus(status);
  if (problem === null && goodStatuses.size < CHECKED_LIMIT) goodStatuses.add(status as string);
  return problem;
}

function checkedHeaders(headers: unknown): RuleProblem | null {
  if (!Array.isArray(headers)) return checkHeaders(headers);
  for (let i = 0; i < headers.length; i++) {
    const header: unknown = headers[i];
    if (Array.isArray(header) && header.length === 2) {
      const values = goodHeaderValues.get(header[0] as string);
      if (values !== undefined && values.has(header[1] as string)) continue;
    }
    const problem = checkHeader(header);
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

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** Why `chunk` is not a body chunk, or null. */
function chunkProblem(chunk: unknown, what = "body yielded"): string | null {
  if (chunk instanceof Uint8Array) return null;
  if (typeof chunk === "string")
    return `${what} a string (${JSON.stringify(chunk.slice(0, 20))}); encode it to a Uint8Array`;
  return `${what} ${chunk === null ? "null" : typeof chunk}; chunks must be Uint8Array`;
}

/** Why `body` is not something an app may return, as a violation; or null. */
function bodyViolation(body: unknown): ContractViolation | null {
  if (body === null || body === undefined)
    return new ContractViolation(
      "app.return-not-iterable",
      `app returned ${String(body)}; it must return an iterable of Uint8Array chunks (e.g. [bytes])`,
    );
  if (typeof body === "string")
    return new ContractViolation(
      "app.return-string",
      "app returned a string; it must return an iterable of Uint8Array chunks (e.g. [bytes])",
    );
  if (body instanceof Uint8Array)
    return new ContractViolation(
      "app.return-bytes",
      "app returned a bare Uint8Array; return a list of chunks: [bytes]",
    );
  const iterable = body as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
  if (
    typeof iterable[Symbol.asyncIterator] !== "function" &&
    typeof iterable[Symbol.iterator] !== "function"
  )
    return new ContractViolation(
      "app.return-not-iterable",
      `app returned ${typeof body} that is not iterable; return [bytes]`,
    );
  return null;
}

/** One request's response, from the call of the app to the body's close(). */
export abstract class ResponseEngine {
  // The exchange's state: written only by the protocol below, read by everyone.
  #phase: Phase = "awaiting-start";
  #status = "";
  #code = 0;
  #headers: HeaderList = NO_HEADERS;
  #declaredLength = -1;
  #hasServerHeader = false;
  #bytes = 0;
  #body: ResponseBody | undefined;

  /** Where the exchange is in its life. */
  get phase(): Phase {
    return this.#phase;
  }
  /** `"200 OK"`, once start_response was called. */
  get status(): string {
    return this.#status;
  }
  /** `200`: the status code, for the output and the access log. */
  get code(): number {
    return this.#code;
  }
  /** The app's headers, as it gave them (the output may add its own, e.g. Server). */
  get headers(): HeaderList {
    return this.#headers;
  }
  /** The app's own Content-Length, or -1. */
  get declaredLength(): number {
    return this.#declaredLength;
  }
  /** True if the app sent its own Server header. */
  get hasServerHeader(): boolean {
    return this.#hasServerHeader;
  }
  /** Body bytes sent so far. */
  get bytes(): number {
    return this.#bytes;
  }
  /** What the app returned, once it has. */
  get body(): ResponseBody | undefined {
    return this.#body;
  }

  // ---- The output: what a subclass supplies ----

  /**
   * Puts status and headers out; `contentLength` >= 0 is a Content-Length to add. `complete`:
   * the whole body is already in memory (an array) and follows at once, before any await, so
   * an output may hold the head and send head and body in one piece (toFetch's Response).
   */
  protected abstract sendHead(contentLength: number, complete: boolean): void;
  /** Sends one chunk; a promise means "the output is full: wait for it before the next". */
  protected abstract sendChunk(chunk: Uint8Array): Promise<void> | undefined;
  /** Ends the response, with `last` as its final chunk if given. */
  protected abstract endOutput(last?: Uint8Array): void;
  /** Ends the response without completing its body, so the client sees it is truncated. */
  protected abstract cutOff(): void;
  /**
   * True once nothing can reach the client any more: it has disconnected. (By default never:
   * an output with no client, like the test client's memory.)
   */
  protected get clientGone(): boolean {
    return false;
  }
  /** Calls `listener` if the client disconnects while a streamed body is being sent. */
  protected watchClient(_listener: () => void): void {}
  protected unwatchClient(_listener: () => void): void {}

  // ---- The reports: what a subclass says about the exchange ----

  /**
   * The app (or its body) failed: say so (log it; the test client keeps it to rethrow). The
   * engine then answers: with the error response (`errorResponse`) if the headers are not out
   * yet, else by cutting the response off.
   */
  protected abstract reportFailure(error: unknown, headersSent: boolean): void;
  /** A problem of the app's that does not stop the response (logged by the gateway). */
  protected abstract logError(message: string): void;
  /** The body's close() threw or rejected: a failure after the response. */
  protected closeFailed(error: unknown): void {
    this.reportFailure(error, true);
  }
  /** `GET /path`: names the request in log lines. */
  protected describe(): string {
    return `${this.#method} ${this.#path}`;
  }
  /** Called once, when the phase becomes `finished`. */
  protected onFinished(): void {}

  /** True for a HEAD request (whose response has no body, whatever its Content-Length says). */
  protected get isHead(): boolean {
    return this.#method === "HEAD";
  }
  #method = "";
  #path = "";

  /** True in the last phase. (A getter: the phase may change while a chunk is awaited.) */
  get finished(): boolean {
    return this.phase === "finished";
  }

  // ---- The protocol ----

  /** Calls `app` and sends what it answers. */
  run(app: Application, environ: Environ): void {
    this.#method = environ.REQUEST_METHOD;
    this.#path = environ.SCRIPT_NAME + environ.PATH_INFO;
    let result: ResponseBody | Promise<ResponseBody>;
    try {
      result = app(environ, this.startResponse);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (isThenable<ResponseBody>(result)) {
      result.then(
        (body) => this.respond(body),
        (error: unknown) => this.fail(error),
      );
      return;
    }
    this.respond(result);
  }

  /** The `startResponse` the app gets: checks and records; sends nothing. */
  readonly startResponse: StartResponse = (status, headers, excInfo) => {
    if (excInfo !== undefined && excInfo !== null) {
      // PEP 3333: with exc_info after the headers went out, re-raise — the app must not catch it.
      if (this.phase === "sending" || this.phase === "finished") throw excInfo;
    } else if (this.phase !== "awaiting-start") {
      throw new ContractViolation(
        "start_response.second-call-without-exc-info",
        "start_response() called a second time without excInfo",
      );
    }
    const problem = checkedStatus(status) ?? checkedHeaders(headers);
    if (problem !== null)
      throw new ContractViolation(`start_response.${problem.rule}`, problem.message);
    let declared = -1;
    let hasServer = false;
    for (let i = 0; i < headers.length; i++) {
      const name = headers[i]![0];
      // Its digits were checked with the other rules above.
      if (isHeaderNamed(name, "content-length")) declared = Number(headers[i]![1]);
      else if (isHeaderNamed(name, "server")) hasServer = true;
    }
    this.#status = status;
    this.#code = Number(status.slice(0, 3));
    this.#headers = headers;
    this.#declaredLength = declared;
    this.#hasServerHeader = hasServer;
    if (this.phase === "awaiting-start") this.#phase = "started";
    return this.write;
  };

  /** The legacy `write()`: sends the headers at once (PEP 3333), then the chunk. */
  readonly write: Write = (chunk) => {
    const problem = chunkProblem(chunk, "write() got");
    if (problem !== null) throw new ContractViolation("write.not-bytes", problem);
    if (this.phase === "finished") return undefined; // the client has left
    if (this.phase !== "sending") this.sendHeaders(-1);
    return this.transmit(chunk);
  };

  /** Sends what the app returned, by kind: an array at once, anything else chunk by chunk. */
  protected respond(body: ResponseBody): void {
    this.#body = body;
    if (this.phase === "finished") {
      // The client left while the app was still working (after write()): close at once.
      this.closeBody();
      return;
    }
    if (Array.isArray(body)) {
      this.respondWithArray(body as unknown[]);
      return;
    }
    const violation = bodyViolation(body);
    if (violation !== null) {
      this.fail(violation);
      return;
    }
    if (this.clientGone) {
      this.finish(); // gone while the app was computing its body: let it stop at once
      return;
    }
    const isAsync = typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === "function";
    void this.pump(body, isAsync);
  }

  /** The common case — a list of chunks already in memory — with an exact Content-Length. */
  protected respondWithArray(chunks: unknown[]): void {
    let total = 0;
    for (let i = 0; i < chunks.length; i++) {
      const problem = chunkProblem(chunks[i]);
      if (problem !== null) {
        this.fail(new ContractViolation("body.chunk-not-bytes", problem));
        return;
      }
      total += (chunks[i] as Uint8Array).length;
    }
    // An array is all there is: start_response() must have been called by now.
    if (this.phase === "awaiting-start") {
      this.fail(total > 0 ? this.dataBeforeStart() : this.endBeforeStart());
      return;
    }
    const bytes = chunks as Uint8Array[];
    if (total === 0) {
      this.end();
      return;
    }
    if (this.phase === "started") this.sendHeaders(total);
    let last = bytes.length - 1;
    while (bytes[last]!.length === 0) last--;
    for (let i = 0; i <= last; i++) {
      const chunk = bytes[i]!;
      if (chunk.length === 0) continue;
      if (i === last && this.completesBody(chunk)) {
        this.#bytes += chunk.length;
        // One call for the last chunk and the end: Node then skips a cork and a tick.
        this.endOutput(chunk);
        this.finish();
        return;
      }
      const drained = this.transmit(chunk);
      if (this.finished) return; // the client left, or the Content-Length is used up
      if (drained !== undefined) {
        // The output is full: finish asynchronously.
        void this.pump(bytes.slice(i + 1), false, drained);
        return;
      }
    }
    this.end();
  }

  /** Streams any iterable, sync or async, waiting for the output to drain when it is full. */
  protected async pump(
    body: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    isAsync: boolean,
    drained?: Promise<void>,
  ): Promise<void> {
    const onClientGone = () => this.finish(); // the client left: let the app stop at once
    this.watchClient(onClientGone);
    const iterator = isAsync
      ? (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
      : (body as Iterable<Uint8Array>)[Symbol.iterator]();
    try {
      if (drained !== undefined) await drained;
      while (!this.finished) {
        const step = isAsync ? await iterator.next() : (iterator as Iterator<Uint8Array>).next();
        // (The client may have left while the app computed the chunk.)
        if (step.done === true || this.finished) break;
        const chunk: unknown = step.value;
        const problem = chunkProblem(chunk);
        if (problem !== null) throw new ContractViolation("body.chunk-not-bytes", problem);
        const bytes = chunk as Uint8Array;
        if (bytes.length === 0) continue; // headers wait for the first non-empty chunk
        if (this.phase !== "sending") this.sendHeaders(-1);
        const wait = this.transmit(bytes);
        if (wait !== undefined) await wait;
      }
      if (this.finished) await iterator.return?.();
      else this.end();
    } catch (error) {
      this.fail(error);
    } finally {
      this.unwatchClient(onClientGone);
    }
  }

  /** Headers go out: `knownLength` >= 0 is the whole body's length, for a Content-Length. */
  protected sendHeaders(knownLength: number): void {
    if (this.phase === "awaiting-start") throw this.dataBeforeStart();
    this.#phase = "sending";
    const addLength = knownLength >= 0 && this.declaredLength < 0 && !forbidsBody(this.code);
    this.sendHead(addLength ? knownLength : -1, knownLength >= 0);
  }

  /** Sends one chunk, never past the app's Content-Length; a promise means "wait for drain". */
  protected transmit(chunk: Uint8Array): Promise<void> | undefined {
    if (this.clientGone) {
      this.finish(); // the client left before we got here
      return undefined;
    }
    if (this.declaredLength >= 0 && this.bytes + chunk.length > this.declaredLength) {
      const allowed = chunk.subarray(0, this.declaredLength - this.bytes);
      this.logError(
        `${this.describe()}: app sent more than its Content-Length (${this.declaredLength}); the excess was cut`,
      );
      this.#bytes += allowed.length;
      this.endOutput(allowed); // everything allowed has been sent: stop asking for chunks
      this.finish();
      return undefined;
    }
    this.#bytes += chunk.length;
    return this.sendChunk(chunk);
  }

  /** True if the body is complete with `chunk`: no Content-Length, or exactly what it said. */
  protected completesBody(chunk: Uint8Array): boolean {
    if (this.clientGone) return false; // transmit() handles that
    return this.declaredLength < 0 || this.bytes + chunk.length === this.declaredLength;
  }

  /** Ends a response whose body has been fully produced. */
  protected end(): void {
    if (this.phase === "finished") return;
    if (this.phase === "awaiting-start") throw this.endBeforeStart();
    // An empty streamed body says the GET body is empty; a HEAD response says nothing of it.
    if (this.phase === "started") this.sendHeaders(this.isHead ? -1 : 0);
    if (this.declaredLength > this.bytes && !forbidsBody(this.code) && !this.isHead) {
      this.logError(
        `${this.describe()}: app sent ${this.bytes} bytes of its Content-Length ${this.declaredLength}; connection closed so the client sees it`,
      );
      this.cutOff();
    } else this.endOutput();
    this.finish();
  }

  /**
   * The answer to a failure whose headers are not out yet: a status and a short text, never
   * the error's details (they go to the log). A subclass may answer its own errors otherwise
   * (the gateway: a request it refuses gets its 4xx).
   */
  protected errorResponse(_error: unknown): { status: Status; text: string } {
    return { status: "500 Internal Server Error", text: "Internal Server Error\n" };
  }

  /** The app (or its body) threw, or broke the contract. */
  protected fail(error: unknown): void {
    if (this.phase === "finished") {
      this.reportFailure(error, true); // too late to answer: say so
      return;
    }
    const headersSent = this.phase === "sending";
    this.reportFailure(error, headersSent);
    if (headersSent) this.cutOff();
    else this.answerWithError(error);
    this.finish();
  }

  /**
   * Sends the error response as wsgiref's `error_output` does: a tiny app that calls
   * start_response with the error as excInfo (replacing whatever the app had started) and
   * returns its text, sent by the same protocol as any answer (Server, Content-Length, HEAD).
   */
  private answerWithError(error: unknown): void {
    const { status, text } = this.errorResponse(error);
    const errorApp = (startResponse: StartResponse): Uint8Array[] => {
      startResponse(
        status,
        [["Content-Type", "text/plain; charset=utf-8"]],
        error ?? new Error(String(error)),
      );
      return [new TextEncoder().encode(text)];
    };
    try {
      this.respondWithArray(errorApp(this.startResponse));
    } catch {
      this.cutOff(); // the output itself failed: nothing more can be said on it
    }
  }

  /** The one way into the `finished` phase: closes the body and tells the subclass. */
  protected finish(): void {
    if (this.phase === "finished") return;
    this.#phase = "finished";
    this.closeBody();
    this.onFinished();
  }

  /**
   * PEP 3333: "the server must call close()" — exactly once. It runs when the exchange
   * finishes, or, if the app's body arrives after that, when it arrives (respond()).
   * Returns the promise of an async close(), already guarded against rejection.
   */
  protected closeBody(): Promise<void> | undefined {
    const body = this.body;
    // `?.`: an app that breaks the contract may have returned null (answered with a 500 first).
    if (typeof body?.close !== "function") return undefined;
    try {
      const result = body.close();
      if (isThenable<void>(result))
        return Promise.resolve(result).catch((error: unknown) => this.closeFailed(error));
    } catch (error) {
      this.closeFailed(error);
    }
    return undefined;
  }

  private dataBeforeStart(): ContractViolation {
    return new ContractViolation(
      "body.chunk-before-start-response",
      "the body produced data before start_response() was called",
    );
  }

  private endBeforeStart(): ContractViolation {
    return new ContractViolation(
      "app.start-response-not-called",
      "the body ended and start_response() was never called",
    );
  }
}
