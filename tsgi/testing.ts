/**
 * An in-process test client: run a TSGI app without a socket.
 *
 *   const response = await callApp(hello, { path: "/" });
 *   response.code       // 200
 *   response.text       // "Hello, World!"
 *
 * `callApp` builds an environ as the gateway would, and runs the app through the gateway's own
 * response engine (tsgi/response-engine.ts) with an in-memory output instead of a socket: the
 * same start_response rules, the same "headers wait for the first non-empty chunk", the same
 * Content-Length enforcement, the same single `close()`. It never imports the gateway, so app
 * tests need no server.
 */
import type { Application, Environ, ErrorStream, HeaderList, InputStream } from "./types.js";
import { unquoteToNative } from "./rules.js";
import { addRequestHeaders, createEnviron } from "./environ.js";
import { headerValue } from "./headers.js";
import { readlines } from "./readlines.js";
import { ContractViolation, ResponseEngine } from "./response-engine.js";
import { RULES, TsgiViolation, type RuleName } from "./validate.js";

export interface TestRequest {
  /** `GET` by default. */
  method?: string;
  /** The request target: `/path?query` (percent-encoded, as on the wire). `/` by default. */
  path?: string;
  /** Request headers; a list keeps repeats (they are joined with `, `, as a server does). */
  headers?: Record<string, string> | [name: string, value: string][];
  /** The request body; a string is encoded as UTF-8. Sets CONTENT_LENGTH unless given. */
  body?: Uint8Array | string;
  /** Extra environ keys, or overrides (applied last). */
  environ?: Partial<Environ> & Record<string, unknown>;
}

export interface TestResponse {
  /** `"200 OK"`. */
  status: string;
  /** `200`. */
  code: number;
  headers: HeaderList;
  /** The value of the header with this name (any case), repeats joined with `, `; or undefined. */
  header(name: string): string | undefined;
  /** Everything the app sent through `write()` and its body, in order. */
  body: Uint8Array;
  /** `body` decoded as UTF-8. */
  text: string;
  /** True if the body had a `close()` and it was called. */
  closed: boolean;
  /** What the app wrote to `tsgi.errors`, and the server's complaints (as in a gateway's log). */
  errors: string;
}

const EMPTY = new Uint8Array(0);
const NEWLINE = 0x0a;

/** `tsgi.input` over bytes already in memory. */
class BytesInput implements InputStream {
  #offset = 0;
  constructor(readonly bytes: Uint8Array) {}

  #take(size: number): Uint8Array {
    const end = Math.min(this.bytes.length, this.#offset + Math.max(0, size));
    const taken = this.bytes.subarray(this.#offset, end);
    this.#offset = end;
    return taken.length === 0 ? EMPTY : taken;
  }

  async read(size?: number): Promise<Uint8Array> {
    return this.#take(size === undefined || size < 0 ? Infinity : size);
  }

  async readline(size?: number): Promise<Uint8Array> {
    const newline = this.bytes.indexOf(NEWLINE, this.#offset);
    const lineEnd = newline === -1 ? this.bytes.length : newline + 1;
    const limit = size === undefined || size < 0 ? Infinity : size;
    return this.#take(Math.min(lineEnd - this.#offset, limit));
  }

  readlines(hint?: number): Promise<Uint8Array[]> {
    return readlines(this, hint);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    // Small chunks, like a socket, so apps cannot assume the body arrives in one piece.
    for (;;) {
      const chunk = this.#take(16 * 1024);
      if (chunk.length === 0) return;
      yield chunk;
    }
  }
}

/** `tsgi.errors` that keeps what it gets. */
class CollectedErrors implements ErrorStream {
  text = "";
  write(text: string): void {
    this.text += text;
  }
  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.text += line;
  }
  flush(): void {}
}

function headerPairs(headers: TestRequest["headers"]): [string, string][] {
  if (headers === undefined) return [];
  return Array.isArray(headers) ? headers : Object.entries(headers);
}

/** A complete, valid environ for `request`, as a gateway on localhost:80 would build it. */
export function makeEnviron(request: TestRequest = {}): Environ {
  const target = request.path ?? "/";
  const question = target.indexOf("?");
  const path = question === -1 ? target : target.slice(0, question);
  const body = typeof request.body === "string" ? Buffer.from(request.body) : request.body;
  const environ = createEnviron(
    {
      method: request.method ?? "GET",
      scriptName: "",
      pathInfo: unquoteToNative(path),
      query: question === -1 ? "" : target.slice(question + 1),
      serverName: "localhost",
      serverPort: "80",
      protocol: "HTTP/1.1",
      scheme: "http",
      remoteAddr: "127.0.0.1",
      input: new BytesInput(body ?? EMPTY),
    },
    { software: "tsgi-testing", errors: new CollectedErrors(), multiprocess: false },
  );
  environ.REMOTE_PORT = "50000";
  addRequestHeaders(environ, headerPairs(request.headers).flat());
  environ.HTTP_HOST ??= "localhost"; // a request without a Host header is still to localhost
  if (body !== undefined && environ.CONTENT_LENGTH === undefined)
    environ.CONTENT_LENGTH = String(body.length);
  Object.assign(environ, request.environ);
  return environ;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** The response engine with an in-memory output: what a socket would have received. */
class InMemoryExchange extends ResponseEngine {
  readonly chunks: Uint8Array[] = [];
  /** Set when the app failed: callApp rethrows it. */
  failure: { error: unknown } | undefined;
  /** True once a body with a close() was closed; `closing` is an async close() still running. */
  closed = false;
  closing: Promise<void> | undefined;
  readonly #errors: ErrorStream;
  readonly #finished: () => void;

  constructor(environ: Environ, finished: () => void) {
    super();
    this.#errors = environ["tsgi.errors"];
    this.#finished = finished;
  }

  protected sendHead(): void {} // the response keeps the app's own headers
  protected sendChunk(chunk: Uint8Array): undefined {
    this.chunks.push(chunk);
    return undefined; // memory is never full
  }
  protected endOutput(last?: Uint8Array): void {
    if (last !== undefined && last.length > 0) this.chunks.push(last);
  }
  protected cutOff(): void {} // the body stays as far as it got; the log line says why
  protected reportFailure(error: unknown): void {
    this.failure ??= { error };
  }
  /** The server's complaints land where a gateway's would: next to what the app logged. */
  protected logError(message: string): void {
    this.#errors.write(message + "\n");
  }
  protected override onFinished(): void {
    this.#finished();
  }
  protected override closeBody(): Promise<void> | undefined {
    if (typeof this.body?.close === "function") this.closed = true;
    return (this.closing = super.closeBody());
  }
}

/** The engine's ContractViolation as the validator's TsgiViolation (same rule names). */
function asTsgiViolation(error: unknown): unknown {
  if (error instanceof ContractViolation && error.rule in RULES)
    return new TsgiViolation(error.rule as RuleName, error.message);
  return error;
}

/**
 * Runs `app` for one request through the same response engine as the gateway, with the
 * response kept in memory, and returns what it answered. An error the app throws is rethrown
 * (after `close()`), so a test sees the real failure, not a 500; a broken contract rule is
 * rethrown as a `TsgiViolation` naming the rule.
 */
export async function callApp(app: Application, request: TestRequest = {}): Promise<TestResponse> {
  const environ = makeEnviron(request);
  const errors = environ["tsgi.errors"];
  let exchange!: InMemoryExchange;
  await new Promise<void>((resolve) => {
    exchange = new InMemoryExchange(environ, resolve);
    exchange.run(app, environ);
  });
  await exchange.closing;
  if (exchange.failure !== undefined) throw asTsgiViolation(exchange.failure.error);

  const { status, headers } = exchange;
  const bytes = exchange.chunks.length === 0 ? EMPTY : concat(exchange.chunks);
  return {
    status,
    code: exchange.code,
    headers,
    header: (name) => headerValue(headers, name),
    body: bytes,
    text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"),
    closed: exchange.closed,
    errors: errors instanceof CollectedErrors ? errors.text : "",
  };
}
