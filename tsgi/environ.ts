/**
 * The environ, built in one place: every server side of the contract — the gateway
 * (gateway/environ.ts), the in-process test client (tsgi/testing.ts), the fetch adapter's
 * `toFetch` (app/fetch-adapter.ts) and the benchmarks' floor server — makes its environ here,
 * as wsgiref's BaseHandler does in `setup_environ`. Each of them only finds the facts (where
 * the request line, the addresses and the body come from); the keys PEP 3333 requires, their
 * `tsgi.*` values and the way a header becomes a CGI key are written once, below.
 *
 *   const environ = createEnviron(request, server);   // CGI and tsgi.* keys
 *   addRequestHeaders(environ, rawHeaders);           // HTTP_*, CONTENT_TYPE, CONTENT_LENGTH
 */
import type { Environ, ErrorStream, FileWrapper, InputStream } from "./types.js";
import { environKeyOf } from "./rules.js";

/** What a server knows for its whole life: the same for every request it serves. */
export interface EnvironServer {
  /** SERVER_SOFTWARE: `foobar-gateway/0.1.0`. */
  software: string;
  /** `tsgi.errors`. */
  errors: ErrorStream;
  /** `tsgi.multiprocess`: may another process call the same app at the same time? */
  multiprocess: boolean;
  /** `tsgi.file_wrapper`, if the server has one. */
  fileWrapper?: FileWrapper;
}

/** What one request says about itself. Every string is native (one byte per code unit). */
export interface EnvironRequest {
  method: string;
  /** Where the app is mounted: `""` or `/mount`. */
  scriptName: string;
  /** The rest of the path, already percent-decoded (rules.ts `unquoteToNative`). */
  pathInfo: string;
  /** After the `?`, still percent-encoded; `""` if none. */
  query: string;
  serverName: string;
  serverPort: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  protocol: string;
  scheme: "http" | "https";
  /** The client's address, if the server knows it. */
  remoteAddr?: string;
  /** `tsgi.input`. */
  input: InputStream;
}

const VERSION: readonly [1, 0] = Object.freeze([1, 0] as const);

/**
 * The CGI keys and the `tsgi.*` keys of one request. One object literal, always in the same
 * order, so every environ a server makes shares one hidden class (V8's fast properties) and
 * has its keys inside the object, not in a separate array that grows.
 */
export function createEnviron(request: EnvironRequest, server: EnvironServer): Environ {
  const environ = {
    REQUEST_METHOD: request.method,
    SCRIPT_NAME: request.scriptName,
    PATH_INFO: request.pathInfo,
    QUERY_STRING: request.query,
    SERVER_NAME: request.serverName,
    SERVER_PORT: request.serverPort,
    SERVER_PROTOCOL: request.protocol,
    SERVER_SOFTWARE: server.software,
    "tsgi.version": VERSION,
    "tsgi.url_scheme": request.scheme,
    "tsgi.input": request.input,
    "tsgi.errors": server.errors,
    "tsgi.multithread": false,
    "tsgi.multiprocess": server.multiprocess,
    "tsgi.run_once": false,
    "tsgi.input_terminated": true,
    REMOTE_ADDR: request.remoteAddr,
    "tsgi.file_wrapper": server.fileWrapper,
  } as Environ;
  // The two optional keys are absent rather than undefined (`"REMOTE_ADDR" in environ` means
  // it is known). They are the literal's last two so that deleting them, last first, keeps
  // the object fast: V8 undoes the last property additions, while any other delete, or adding
  // them afterwards, would cost the gateway (which has both) its in-object room.
  if (server.fileWrapper === undefined) delete environ["tsgi.file_wrapper"];
  if (request.remoteAddr === undefined) delete environ.REMOTE_ADDR;
  return environ;
}

// Header names repeat on every request, but each arrives as a fresh string from the parser, so a
// Map lookup hashes it every time (~65 ns for a name like X-Forwarded-For). Comparing it with the
// few names of the same length already seen costs about half. Bounded: long names and names
// past a bucket's few are converted each time, so hostile clients can neither grow the cache
// nor make a lookup long.
const MAX_CACHED_NAME_LENGTH = 64;
const NAMES_PER_LENGTH = 8;
/** By name length: [name, key, name, key, …]; the key is null for names with no environ key. */
const keysByLength: (string | null)[][] = Array.from(
  { length: MAX_CACHED_NAME_LENGTH + 1 },
  () => [],
);

/** `environKeyOf(headerName)` (tsgi/rules.ts), remembered for the names a server keeps seeing. */
export function cachedEnvironKey(headerName: string): string | null {
  const length = headerName.length;
  if (length > MAX_CACHED_NAME_LENGTH) return environKeyOf(headerName);
  const names = keysByLength[length]!;
  for (let i = 0; i < names.length; i += 2)
    if (names[i] === headerName) return names[i + 1] as string | null;
  const key = environKeyOf(headerName);
  if (names.length < NAMES_PER_LENGTH * 2) names.push(headerName, key);
  return key;
}

/**
 * Adds request headers, given as Node's `rawHeaders` (`[name, value, name, value, …]`), as
 * CGI keys: `User-Agent` → `HTTP_USER_AGENT`, Content-Type and Content-Length under their
 * own CGI names, names with `_` dropped (rules.ts `environKeyOf`). A repeated header is joined
 * with `, `, as RFC 9110 §5.3 allows a recipient to combine field lines.
 */
export function addRequestHeaders(environ: Environ, rawHeaders: readonly string[]): void {
  const keys = environ as unknown as Record<string, string | undefined>;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    // Every HTTP/1.1 request has a Host: its key without hashing a fresh string for the cache.
    const key = name === "Host" ? "HTTP_HOST" : cachedEnvironKey(name);
    if (key === null) continue;
    const previous = keys[key];
    keys[key] = previous === undefined ? rawHeaders[i + 1]! : previous + ", " + rawHeaders[i + 1]!;
  }
}
