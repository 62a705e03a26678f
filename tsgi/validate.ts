/**
 * `validate(app)`: the TSGI twin of Python's `wsgiref.validate`.
 *
 * Wrap any application in it — `validate(hello)` — and it checks, while real requests run, that
 * both sides keep the contract: the server's environ, `tsgi.input` and `startResponse`, and the
 * app's status, headers, call order and body. The first broken rule throws a `TsgiViolation`
 * whose `.rule` names it (e.g. `"start_response.second-call-without-exc-info"`) and whose
 * message quotes the PEP 3333 sentence behind it.
 *
 * It is middleware like any other: an application to the server, a server to the app. Rules
 * named `server.*` and `environ.*` catch the server; the rest catch the application.
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
import { checkHeaders, checkStatus } from "./rules.js";

/** What each rule guards: one short quote from PEP 3333 (or the TSGI choice behind it). */
export const RULES = {
  "server.app-arguments": "The application object must accept two positional arguments",
  "server.start-response-not-callable":
    "start_response: a callable accepting two required positional arguments",
  "server.write-not-callable":
    "The start_response callable must return a write(body_data) callable",
  "server.exc-info-not-rethrown":
    "If exc_info is provided, and the HTTP headers have already been sent, start_response must raise an error",
  "server.next-after-close":
    "TSGI: once close() was called the server must not ask the body for more",
  "server.close-twice": "TSGI: the server calls close() exactly once",
  "server.iterated-twice": "TSGI: the server iterates the body once (a generator cannot restart)",
  "server.input-result": "tsgi.input reads resolve to bytes (Uint8Array); an empty one at the end",
  "environ.not-object":
    "The environ parameter is a dictionary object, containing CGI-style environment variables",
  "environ.missing-key": "TSGI: every CGI variable of CgiVariables and every tsgi.* key is present",
  "environ.empty-value":
    "REQUEST_METHOD, SERVER_NAME and SERVER_PORT can never be empty strings, and so are always required",
  "environ.not-native-string":
    "CGI values are native strings: only code points representable in ISO-8859-1 (\\u0000-\\u00FF)",
  "environ.http-content-header":
    "Content-Type and Content-Length appear as CONTENT_TYPE and CONTENT_LENGTH, never with HTTP_",
  "environ.script-name":
    'SCRIPT_NAME may be an empty string, if the application corresponds to the "root" of the server (never "/")',
  "environ.path-info": 'PATH_INFO is "" or starts with "/"',
  "environ.content-length": "CONTENT_LENGTH, when present, is a decimal number of bytes",
  "environ.server-protocol": 'SERVER_PROTOCOL will be something like "HTTP/1.0" or "HTTP/1.1"',
  "environ.tsgi-version": "tsgi.version: the array [1, 0], representing version 1.0",
  "environ.url-scheme": 'tsgi.url_scheme: normally this will have the value "http" or "https"',
  "environ.input": "tsgi.input: a stream with read(), readline(), readlines() and async iteration",
  "environ.errors": "tsgi.errors: an output stream with write(), writelines() and flush()",
  "environ.flag-not-boolean": "tsgi.multithread, tsgi.multiprocess, tsgi.run_once are booleans",
  "environ.file-wrapper": "tsgi.file_wrapper, when present, is a callable",
  "app.return-not-iterable":
    "the application object must return an iterable yielding zero or more bytestrings",
  "app.return-string":
    "the application must return an iterable of Uint8Array chunks, not a string (a string iterates per character)",
  "app.return-bytes":
    "the application must return an iterable of chunks: return [bytes], not bytes",
  "app.start-response-not-called":
    "the application must call start_response() before its body ends",
  "body.chunk-before-start-response":
    "the application must invoke the start_response() callable before the iterable yields its first body bytestring",
  "body.chunk-not-bytes":
    "the iterable yields bytestrings: each chunk is a Uint8Array (encode strings)",
  "start_response.arguments":
    "start_response(status, headers, excInfo?) takes two or three arguments",
  "start_response.status-not-string":
    'The status argument is an HTTP "status" string like "200 OK"',
  "start_response.status-not-latin1": "status is a native string: only ISO-8859-1 code points",
  "start_response.status-format":
    "a Status-Code and a Reason-Phrase, in that order and separated by a single space",
  "start_response.headers-not-list":
    "The response_headers argument is a list of (header_name, header_value) tuples",
  "start_response.header-not-pair": "each header is a [name, value] pair",
  "start_response.header-not-string": "header names and values are native strings",
  "start_response.header-name": "header_name must be a valid HTTP header field-name (a token)",
  "start_response.header-not-latin1":
    "header values are native strings: only ISO-8859-1 code points",
  "start_response.header-control-character":
    "Each header_value must not include any control characters, including carriage returns or linefeeds",
  "start_response.hop-by-hop-header":
    'Applications and middleware are forbidden from using HTTP/1.1 "hop-by-hop" features or headers',
  "start_response.content-length": "Content-Length is a decimal number of bytes (RFC 9110)",
  "start_response.second-call-without-exc-info":
    "It is a fatal error to call start_response without the exc_info argument if start_response has already been called",
  "start_response.after-close": "start_response belongs to a response that is still running",
  "write.arguments": "write(body_data) takes one positional parameter",
  "write.not-bytes":
    "write(body_data) takes a bytestring (Uint8Array) to be written as part of the body",
  "write.after-close": "write() belongs to a response that is still running",
  "input.size-argument": "read(size), readline(size?), readlines(hint?): size is an integer",
  "input.close-called": "applications must not attempt to close these streams",
  "errors.write-not-string": "tsgi.errors is a text stream: write() takes a string",
  "errors.close-called": "applications must not attempt to close these streams",
} as const;

export type RuleName = keyof typeof RULES;

/** A broken TSGI rule. `.rule` names it; the message says what happened and why it matters. */
export class TsgiViolation extends Error {
  override name = "TsgiViolation";
  readonly rule: RuleName;
  constructor(rule: RuleName, detail: string) {
    super(`${rule}: ${detail} — PEP 3333: "${RULES[rule]}"`);
    this.rule = rule;
  }
}

function violation(rule: RuleName, detail: string): never {
  throw new TsgiViolation(rule, detail);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return `a string ${JSON.stringify(value.slice(0, 20))}`;
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? (value.constructor?.name ?? "an object") : typeof value;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

// ---- The environ (the server's side) ----

const REQUIRED_KEYS = [
  "REQUEST_METHOD",
  "SCRIPT_NAME",
  "PATH_INFO",
  "QUERY_STRING",
  "SERVER_NAME",
  "SERVER_PORT",
  "SERVER_PROTOCOL",
  "tsgi.version",
  "tsgi.url_scheme",
  "tsgi.input",
  "tsgi.errors",
  "tsgi.multithread",
  "tsgi.multiprocess",
  "tsgi.run_once",
] as const;
const NOT_LATIN1 = /[\u0100-\uffff]/;

function lacksMethods(value: unknown, names: string[]): string | undefined {
  if (typeof value !== "object" || value === null) return "(the whole object)";
  const record = value as Record<string, unknown>;
  return names.find((name) => typeof record[name] !== "function");
}

/** The checks `wsgiref.validate.check_environ` makes, adapted to TSGI. */
export function checkEnviron(environ: unknown): asserts environ is Environ {
  if (typeof environ !== "object" || environ === null || Array.isArray(environ))
    violation("environ.not-object", `environ is ${describe(environ)}`);
  const record = environ as Record<string, unknown>;
  for (const key of REQUIRED_KEYS)
    if (!(key in record)) violation("environ.missing-key", `environ has no ${key}`);
  for (const [key, value] of Object.entries(record)) {
    if (key.includes(".") || value === undefined) continue;
    if (typeof value !== "string")
      violation("environ.not-native-string", `${key} is ${describe(value)}, not a string`);
    if (NOT_LATIN1.test(value))
      violation("environ.not-native-string", `${key} ${JSON.stringify(value)} is not Latin-1`);
  }
  for (const key of ["REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT"])
    if (record[key] === "") violation("environ.empty-value", `${key} is empty`);
  for (const key of ["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"])
    if (key in record) violation("environ.http-content-header", `environ has ${key}`);
  const scriptName = record.SCRIPT_NAME as string;
  if (scriptName === "/" || (scriptName !== "" && !scriptName.startsWith("/")))
    violation("environ.script-name", `SCRIPT_NAME is ${JSON.stringify(scriptName)}`);
  const pathInfo = record.PATH_INFO as string;
  if (pathInfo !== "" && !pathInfo.startsWith("/"))
    violation("environ.path-info", `PATH_INFO is ${JSON.stringify(pathInfo)}`);
  const length = record.CONTENT_LENGTH;
  if (typeof length === "string" && length !== "" && !/^[0-9]+$/.test(length))
    violation("environ.content-length", `CONTENT_LENGTH is ${JSON.stringify(length)}`);
  if (!/^HTTP\/[0-9](\.[0-9])?$/.test(record.SERVER_PROTOCOL as string))
    violation(
      "environ.server-protocol",
      `SERVER_PROTOCOL is ${JSON.stringify(record.SERVER_PROTOCOL)}`,
    );
  const version = record["tsgi.version"];
  if (!Array.isArray(version) || version.length !== 2 || version[0] !== 1 || version[1] !== 0)
    violation("environ.tsgi-version", `tsgi.version is ${JSON.stringify(version)}`);
  const scheme = record["tsgi.url_scheme"];
  if (scheme !== "http" && scheme !== "https")
    violation("environ.url-scheme", `tsgi.url_scheme is ${JSON.stringify(scheme)}`);
  const input = record["tsgi.input"];
  const missingInput = lacksMethods(input, ["read", "readline", "readlines"]);
  if (missingInput !== undefined)
    violation("environ.input", `tsgi.input has no ${missingInput} method`);
  if (typeof (input as AsyncIterable<unknown>)[Symbol.asyncIterator] !== "function")
    violation("environ.input", "tsgi.input is not async-iterable");
  const missingErrors = lacksMethods(record["tsgi.errors"], ["write", "writelines", "flush"]);
  if (missingErrors !== undefined)
    violation("environ.errors", `tsgi.errors has no ${missingErrors} method`);
  for (const key of ["tsgi.multithread", "tsgi.multiprocess", "tsgi.run_once"])
    if (typeof record[key] !== "boolean")
      violation("environ.flag-not-boolean", `${key} is ${describe(record[key])}`);
  const fileWrapper = record["tsgi.file_wrapper"];
  if (fileWrapper !== undefined && typeof fileWrapper !== "function")
    violation("environ.file-wrapper", `tsgi.file_wrapper is ${describe(fileWrapper)}`);
}

// ---- tsgi.input and tsgi.errors: only the contract's methods, arguments checked ----

/** "1 argument", "3 arguments": the count in a violation's message. */
function argumentCount(count: number): string {
  return count === 1 ? "1 argument" : `${count} arguments`;
}

function checkSize(method: string, args: unknown[]): void {
  if (args.length > 1)
    violation("input.size-argument", `${method}() got ${argumentCount(args.length)}; it takes one`);
  const size = args[0];
  if (size !== undefined && !Number.isInteger(size))
    violation("input.size-argument", `${method}(${describe(size)}): size must be an integer`);
}

function checkBytes(method: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array))
    violation("server.input-result", `tsgi.input.${method}() gave ${describe(value)}`);
  return value;
}

/** Wraps `tsgi.input` so the app sees the contract's methods and nothing else. */
function checkedInput(input: InputStream): InputStream {
  return Object.freeze({
    async read(...args: [size?: number]): Promise<Uint8Array> {
      checkSize("read", args);
      return checkBytes("read", await input.read(...args));
    },
    async readline(...args: [size?: number]): Promise<Uint8Array> {
      checkSize("readline", args);
      return checkBytes("readline", await input.readline(...args));
    },
    async readlines(...args: [hint?: number]): Promise<Uint8Array[]> {
      checkSize("readlines", args);
      const lines = await input.readlines(...args);
      if (!Array.isArray(lines))
        violation("server.input-result", `tsgi.input.readlines() gave ${describe(lines)}`);
      for (const line of lines) checkBytes("readlines", line);
      return lines;
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
      for await (const chunk of input) yield checkBytes("[Symbol.asyncIterator]", chunk);
    },
    close(): never {
      violation("input.close-called", "the app called tsgi.input.close()");
    },
  });
}

function checkText(value: unknown): string {
  if (typeof value !== "string")
    violation("errors.write-not-string", `tsgi.errors.write(${describe(value)})`);
  return value;
}

/** Wraps `tsgi.errors`: text only, and no close(). */
function checkedErrors(errors: ErrorStream): ErrorStream {
  return Object.freeze({
    write(text: string): void {
      errors.write(checkText(text));
    },
    writelines(lines: Iterable<string>): void {
      errors.writelines([...lines].map(checkText));
    },
    flush(): void {
      errors.flush();
    },
    close(): never {
      violation("errors.close-called", "the app called tsgi.errors.close()");
    },
  });
}

// ---- One response: start_response, write() and the body, with their order ----

class ResponseCheck {
  /** start_response() was called (even if that call was refused). */
  started = false;
  /** A non-empty chunk reached the server: its headers are on the wire. */
  headersOut = false;
  closed = false;
  iterated = false;

  constructor(readonly serverStartResponse: StartResponse) {}

  readonly startResponse: StartResponse = (...args: [Status, HeaderList, unknown?]): Write => {
    const [status, headers, excInfo] = args;
    if (args.length < 2 || args.length > 3)
      violation("start_response.arguments", `start_response() got ${argumentCount(args.length)}`);
    if (this.closed) violation("start_response.after-close", "the body was already closed");
    const hasExcInfo = excInfo !== undefined && excInfo !== null;
    if (this.started && !hasExcInfo)
      violation(
        "start_response.second-call-without-exc-info",
        "start_response() was called a second time without excInfo",
      );
    this.started = true;
    const problem = checkStatus(status) ?? checkHeaders(headers);
    // Content-Length's digits are one of these rules (tsgi/rules.ts): "start_response.content-length".
    if (problem !== null) violation(`start_response.${problem.rule}` as RuleName, problem.message);
    const write = hasExcInfo
      ? this.serverStartResponse(status, headers, excInfo)
      : this.serverStartResponse(status, headers);
    if (hasExcInfo && this.headersOut)
      violation(
        "server.exc-info-not-rethrown",
        "start_response(…, excInfo) returned although the headers were already sent",
      );
    if (typeof write !== "function")
      violation("server.write-not-callable", `start_response() returned ${describe(write)}`);
    return (...writeArgs: [Uint8Array]) => this.write(write, writeArgs);
  };

  write(serverWrite: Write, args: [Uint8Array]): void | Promise<void> {
    if (args.length !== 1)
      violation("write.arguments", `write() got ${argumentCount(args.length)}`);
    const [chunk] = args;
    if (this.closed) violation("write.after-close", "write() was called after close()");
    if (!(chunk instanceof Uint8Array))
      violation("write.not-bytes", `write() got ${describe(chunk)}; encode it to a Uint8Array`);
    if (chunk.length > 0) this.headersOut = true;
    return serverWrite(chunk);
  }

  /** Checks one chunk the body produced, or the end of the body. */
  step<T extends IteratorResult<unknown>>(result: T): T {
    if (result.done === true) {
      if (!this.started)
        violation(
          "app.start-response-not-called",
          "the body ended and start_response() was never called",
        );
      return result;
    }
    this.chunk(result.value);
    return result;
  }

  chunk(value: unknown): void {
    if (!this.started)
      violation("body.chunk-before-start-response", "the body yielded before start_response()");
    if (!(value instanceof Uint8Array))
      violation(
        "body.chunk-not-bytes",
        `the body yielded ${describe(value)}; chunks are Uint8Array`,
      );
    if (value.length > 0) this.headersOut = true;
  }

  beforeNext(): void {
    if (this.closed)
      violation("server.next-after-close", "the server asked for a chunk after close()");
  }

  beginIteration(): void {
    if (this.iterated) violation("server.iterated-twice", "the server iterated the body twice");
    this.iterated = true;
  }

  close(body: ResponseBody): void | Promise<void> {
    if (this.closed) violation("server.close-twice", "the server called close() a second time");
    this.closed = true;
    return body.close?.();
  }
}

/** A body the server can iterate once, each step checked, `close()` forwarded. */
function checkedBody(body: ResponseBody, check: ResponseCheck): ResponseBody {
  const close = () => check.close(body);
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") {
    const source = body as AsyncIterable<Uint8Array>;
    return {
      [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
        check.beginIteration();
        const inner = source[Symbol.asyncIterator]();
        return {
          async next() {
            check.beforeNext();
            return check.step(await inner.next());
          },
          async return(value?: unknown) {
            return (await inner.return?.(value)) ?? { done: true, value: undefined };
          },
        };
      },
      close,
    };
  }
  const source = body as Iterable<Uint8Array>;
  return {
    [Symbol.iterator](): Iterator<Uint8Array> {
      check.beginIteration();
      const inner = source[Symbol.iterator]();
      return {
        next() {
          check.beforeNext();
          return check.step(inner.next());
        },
        return(value?: unknown) {
          return inner.return?.(value) ?? { done: true, value: undefined };
        },
      };
    },
    close,
  };
}

/**
 * An array is handed to the server whole, so every chunk is checked at once. It stays an array
 * (the server may use its length for Content-Length) with a `close()` that counts calls.
 */
function checkedArray(body: unknown[], check: ResponseCheck): ResponseBody {
  for (const chunk of body) check.chunk(chunk);
  if (!check.started)
    violation(
      "app.start-response-not-called",
      "the app returned [] without calling start_response()",
    );
  const copy = [...(body as Uint8Array[])];
  Object.defineProperty(copy, "close", {
    value: () => check.close(body as ResponseBody),
    enumerable: false,
  });
  return copy;
}

function checkResult(result: unknown, check: ResponseCheck): ResponseBody {
  if (result === null || result === undefined || typeof result === "boolean")
    violation("app.return-not-iterable", `the app returned ${String(result)}`);
  if (typeof result === "string")
    violation("app.return-string", `the app returned ${describe(result)}`);
  if (result instanceof Uint8Array)
    violation("app.return-bytes", `the app returned a bare ${describe(result)}`);
  if (Array.isArray(result)) return checkedArray(result, check);
  const iterable = result as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
  if (
    typeof iterable[Symbol.asyncIterator] !== "function" &&
    typeof iterable[Symbol.iterator] !== "function"
  )
    violation("app.return-not-iterable", `the app returned ${describe(result)}`);
  return checkedBody(result as ResponseBody, check);
}

/** Wraps `app` so every request checks both sides of the contract. */
export function validate(app: Application): Application {
  return function validated(...args: [Environ, StartResponse]) {
    if (args.length !== 2)
      violation(
        "server.app-arguments",
        `the application was called with ${argumentCount(args.length)}`,
      );
    const [environ, startResponse] = args;
    checkEnviron(environ);
    if (typeof startResponse !== "function")
      violation(
        "server.start-response-not-callable",
        `start_response is ${describe(startResponse)}`,
      );
    environ["tsgi.input"] = checkedInput(environ["tsgi.input"]);
    environ["tsgi.errors"] = checkedErrors(environ["tsgi.errors"]);
    const check = new ResponseCheck(startResponse);
    const result = app(environ, check.startResponse);
    if (isThenable(result)) return Promise.resolve(result).then((body) => checkResult(body, check));
    return checkResult(result, check);
  };
}

export default validate;
