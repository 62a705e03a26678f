/**
 * An in-process test client: run a TSGI app without a socket.
 *
 *   const response = await callApp(hello, { path: "/" });
 *   response.code       // 200
 *   response.text       // "Hello, World!"
 *
 * `callApp` is a minimal PEP 3333 server in a few dozen lines: it builds an environ, keeps the
 * headers pending until the first non-empty chunk (so an app may still replace them with
 * `startResponse(…, error)`), collects `write()` and body chunks, and always calls `close()`.
 * It lives on the app side and never imports the gateway, so app tests stay independent of it.
 */
import type {
  Application,
  Environ,
  ErrorStream,
  HeaderList,
  InputStream,
  ResponseBody,
  StartResponse,
  Status,
  Write,
} from "./types.js";
import { checkHeaders, checkStatus, environKeyOf, unquoteToNative } from "./rules.js";
import { TsgiViolation } from "./validate.js";

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
  /** What the app wrote to `tsgi.errors`. */
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

  async readlines(hint?: number): Promise<Uint8Array[]> {
    const lines: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const line = await this.readline();
      if (line.length === 0) return lines;
      lines.push(line);
      total += line.length;
      if (hint !== undefined && hint > 0 && total >= hint) return lines;
    }
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
  const environ = {
    REQUEST_METHOD: request.method ?? "GET",
    SCRIPT_NAME: "",
    PATH_INFO: unquoteToNative(path),
    QUERY_STRING: question === -1 ? "" : target.slice(question + 1),
    SERVER_NAME: "localhost",
    SERVER_PORT: "80",
    SERVER_PROTOCOL: "HTTP/1.1",
    SERVER_SOFTWARE: "tsgi-testing",
    REMOTE_ADDR: "127.0.0.1",
    REMOTE_PORT: "50000",
    HTTP_HOST: "localhost",
    "tsgi.version": [1, 0],
    "tsgi.url_scheme": "http",
    "tsgi.input": new BytesInput(body ?? EMPTY),
    "tsgi.errors": new CollectedErrors(),
    "tsgi.multithread": false,
    "tsgi.multiprocess": false,
    "tsgi.run_once": false,
    "tsgi.input_terminated": true,
  } as Environ;
  const cgi = environ as unknown as Record<string, string | undefined>;
  let sawHost = false;
  for (const [name, value] of headerPairs(request.headers)) {
    const key = environKeyOf(name);
    if (key === null) continue;
    if (key === "HTTP_HOST" && !sawHost) {
      sawHost = true;
      delete cgi.HTTP_HOST; // the request's own Host replaces the default
    }
    const previous = cgi[key];
    cgi[key] = previous === undefined ? value : `${previous}, ${value}`;
  }
  if (body !== undefined && environ.CONTENT_LENGTH === undefined)
    environ.CONTENT_LENGTH = String(body.length);
  Object.assign(environ, request.environ);
  return environ;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/**
 * Runs `app` for one request like a minimal server, and returns what it answered. An error
 * the app throws is rethrown (after `close()`), so a test sees the real failure, not a 500.
 */
export async function callApp(app: Application, request: TestRequest = {}): Promise<TestResponse> {
  const environ = makeEnviron(request);
  const errors = environ["tsgi.errors"];
  let status: string | undefined;
  let headers: HeaderList = [];
  let headersSent = false;
  const chunks: Uint8Array[] = [];

  const send = (chunk: unknown): void => {
    if (typeof chunk === "string" || !(chunk instanceof Uint8Array))
      throw new TsgiViolation("body.chunk-not-bytes", `got ${typeof chunk}; chunks are Uint8Array`);
    if (chunk.length === 0) return; // headers wait for the first non-empty chunk
    if (status === undefined)
      throw new TsgiViolation(
        "body.chunk-before-start-response",
        "body data before start_response()",
      );
    headersSent = true;
    chunks.push(chunk);
  };
  const write: Write = (chunk) => send(chunk);
  const startResponse: StartResponse = (
    newStatus: Status,
    newHeaders: HeaderList,
    excInfo?: unknown,
  ) => {
    if (excInfo !== undefined && excInfo !== null) {
      if (headersSent) throw excInfo; // too late to replace the response: the app must let it fly
    } else if (status !== undefined) {
      throw new TsgiViolation(
        "start_response.second-call-without-exc-info",
        "start_response() was called a second time without excInfo",
      );
    }
    const problem = checkStatus(newStatus) ?? checkHeaders(newHeaders);
    if (problem !== null)
      throw new TsgiViolation(
        `start_response.${problem.rule}` as "start_response.status-format",
        problem.message,
      );
    status = newStatus;
    headers = newHeaders;
    return write;
  };

  let body: ResponseBody | undefined;
  let closed = false;
  try {
    body = await app(environ, startResponse);
    if (
      body === null ||
      body === undefined ||
      typeof body === "string" ||
      body instanceof Uint8Array
    )
      throw new TsgiViolation(
        typeof body === "string" ? "app.return-string" : "app.return-not-iterable",
        `the app returned ${body === null ? "null" : typeof body}`,
      );
    if (typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === "function") {
      for await (const chunk of body as AsyncIterable<Uint8Array>) send(chunk);
    } else {
      for (const chunk of body as Iterable<Uint8Array>) send(chunk);
    }
    if (status === undefined)
      throw new TsgiViolation(
        "app.start-response-not-called",
        "the body ended without start_response()",
      );
  } finally {
    if (typeof body?.close === "function") {
      closed = true;
      await body.close();
    }
  }

  const finalStatus = status;
  const joined = (name: string): string | undefined => {
    const lower = name.toLowerCase();
    const values = headers.filter(([key]) => key.toLowerCase() === lower).map(([, value]) => value);
    return values.length === 0 ? undefined : values.join(", ");
  };
  const bytes = chunks.length === 0 ? EMPTY : concat(chunks);
  return {
    status: finalStatus,
    code: Number(finalStatus.slice(0, 3)),
    headers,
    header: joined,
    body: bytes,
    text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"),
    closed,
    errors: errors instanceof CollectedErrors ? errors.text : "",
  };
}
