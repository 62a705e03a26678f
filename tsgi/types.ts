/**
 * TSGI — the contract between a server (gateway) and an application.
 *
 * This file is PEP 3333 (WSGI 1.0.1) mapped to TypeScript, and nothing else: types only, no
 * code, so both sides can import it without depending on each other. docs/tsgi.md walks every
 * rule of the PEP and says how TSGI expresses it.
 *
 * The whole contract in one sentence: the server calls `app(environ, startResponse)`; the app
 * calls `startResponse(status, headers)` and returns an iterable of byte chunks; the server sends
 * the headers when the first non-empty chunk appears (or the iterable ends), streams the chunks,
 * and calls the iterable's `close()` when it is done — whatever happened.
 */

/**
 * A PEP 3333 "native string": a JS string whose code units are all <= 0xFF (ISO-8859-1).
 * Status lines, header names and values and every CGI value are native strings: each byte on
 * the wire is one code unit. To get text back, decode: `Buffer.from(s, "latin1").toString()`.
 */
export type NativeString = string;

/** `"200 OK"`: three digits, one space, a reason phrase. Never a bare number. */
export type Status = `${number} ${string}`;

/** A response header: `[name, value]`, both native strings. */
export type Header = [name: NativeString, value: NativeString];

/** Response headers: a plain array, so order and repeats (Set-Cookie) are kept. */
export type HeaderList = Header[];

/**
 * `tsgi.input`: the request body, already de-chunked, ending exactly at the end of the body
 * (`tsgi.input_terminated` is true). PEP 3333's file methods, made async because reading a socket
 * in Node never blocks; and `for await` iteration, which yields the body in chunks as they arrive.
 * Every read resolves to an empty array at the end of the body.
 */
export interface InputStream extends AsyncIterable<Uint8Array> {
  /** Up to `size` bytes; without `size`, everything that is left. */
  read(size?: number): Promise<Uint8Array>;
  /** One line, up to and including `\n`; at most `size` bytes when `size` is given. */
  readline(size?: number): Promise<Uint8Array>;
  /** The remaining lines; stops after the line that passes `hint` bytes in total. */
  readlines(hint?: number): Promise<Uint8Array[]>;
}

/** `tsgi.errors`: a text stream for the app's diagnostics; the server logs what it gets. */
export interface ErrorStream {
  write(text: string): void;
  writelines(lines: Iterable<string>): void;
  flush(): void;
}

/** What `tsgi.file_wrapper` accepts: something with a `read()`, like a file. */
export interface FileLike {
  read(size: number): Uint8Array | Promise<Uint8Array>;
  close?(): void | Promise<void>;
}

/**
 * `tsgi.file_wrapper(file, blockSize)`: turns a file-like object into a response body. The
 * server may recognise its own wrapper and send the file faster; apps just return it.
 */
export type FileWrapper = (file: FileLike, blockSize?: number) => ResponseBody;

/** The CGI variables (RFC 3875) every environ carries. All values are native strings. */
export interface CgiVariables {
  /** `GET`, `POST`, …; never empty. */
  REQUEST_METHOD: NativeString;
  /** Where the app is mounted: `""` or `"/mount"` — never `"/"`. */
  SCRIPT_NAME: NativeString;
  /** The rest of the path, percent-decoded (bytes as Latin-1): `""` or starts with `/`. */
  PATH_INFO: NativeString;
  /** The query after `?`, still percent-encoded; `""` when there is none. */
  QUERY_STRING: NativeString;
  /** The request's Content-Type header, if it sent one (never as `HTTP_CONTENT_TYPE`). */
  CONTENT_TYPE?: NativeString;
  /** The request's Content-Length header, if it sent one (never as `HTTP_CONTENT_LENGTH`). */
  CONTENT_LENGTH?: NativeString;
  /** With SERVER_PORT, where the server listens; never empty. */
  SERVER_NAME: NativeString;
  SERVER_PORT: NativeString;
  /** `HTTP/1.1` or `HTTP/1.0`: the request's version. */
  SERVER_PROTOCOL: NativeString;
  /** The client's address and port (or a trusted proxy's view of the client). */
  REMOTE_ADDR?: NativeString;
  REMOTE_PORT?: NativeString;
  /** The server's name and version, e.g. `foobar-gateway/0.1.0`. */
  SERVER_SOFTWARE?: NativeString;
}

/** The `tsgi.*` keys: PEP 3333's `wsgi.*` keys under TSGI's own prefix. */
export interface TsgiVariables {
  /** The contract version: `[1, 0]`. */
  "tsgi.version": readonly [1, 0];
  /** `"http"` or `"https"`: the scheme the client used. */
  "tsgi.url_scheme": "http" | "https";
  "tsgi.input": InputStream;
  "tsgi.errors": ErrorStream;
  /** True if another thread of the same process may call the app at the same time. */
  "tsgi.multithread": boolean;
  /** True if another process may call the same app at the same time (several workers). */
  "tsgi.multiprocess": boolean;
  /** True if the app is called once in this process's life (CGI); false for the gateway. */
  "tsgi.run_once": boolean;
  "tsgi.file_wrapper"?: FileWrapper;
  /** True: `tsgi.input` ends at the end of the body, so apps may read until it is empty. */
  "tsgi.input_terminated"?: boolean;
}

/**
 * The environ: one plain, mutable object per request (middleware may rewrite it).
 * Request headers appear as `HTTP_*` keys (`User-Agent` → `HTTP_USER_AGENT`); servers and
 * middleware add extensions as lower-case `prefix.name` keys (`gateway.raw_uri`).
 */
export type Environ = CgiVariables &
  TsgiVariables & {
    [header: `HTTP_${string}`]: NativeString | undefined;
    [extension: `${string}.${string}`]: unknown;
  };

/**
 * `write(chunk)`, returned by `startResponse`: the legacy imperative way to send body bytes
 * (PEP 3333 keeps it only for old frameworks; return an iterable instead). The returned promise
 * resolves when it is fine to write more (back-pressure); callers may ignore it.
 */
export type Write = (chunk: Uint8Array) => void | Promise<void>;

/**
 * `startResponse(status, headers, excInfo?)` records the status and headers — it sends nothing.
 * Call it once; a second call is allowed only with `excInfo` (the caught error), to replace a
 * response whose headers have not gone out yet. If they have, the server rethrows `excInfo`:
 * let it propagate.
 */
export type StartResponse = (status: Status, headers: HeaderList, excInfo?: unknown) => Write;

/** A body may have `close()`; the server calls it exactly once when the response ends. */
export interface Closable {
  close?(): void | Promise<void>;
}

/**
 * What an app returns: byte chunks, synchronously (an array, a generator) or asynchronously
 * (an async generator, a Node stream). Strings are not bodies: encode them first.
 */
export type ResponseBody = (Iterable<Uint8Array> | AsyncIterable<Uint8Array>) & Closable;

/** The application: called once per request; may also return a promise of its body. */
export type Application = (
  environ: Environ,
  startResponse: StartResponse,
) => ResponseBody | Promise<ResponseBody>;

/** Middleware: an application to its server, a server to the application it wraps. */
export type Middleware = (app: Application) => Application;
