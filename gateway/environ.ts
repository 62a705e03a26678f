/**
 * From the bytes on the wire to the environ: how an HTTP request becomes PEP 3333's dict.
 *
 * Node's parser (llhttp) has already split the request line and headers; every string it gives
 * us holds one byte per code unit (Latin-1), which is exactly what PEP 3333 calls a native
 * string. This module only moves those strings into CGI names.
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Environ, ErrorStream, FileWrapper, InputStream } from "@foobar/tsgi";
import { BadRequest } from "./errors.js";
import type { TrustedProxies } from "./trusted-proxies.js";
import { environKeyOf, unquoteToNative } from "@foobar/tsgi/rules";

/** What the environ needs to know about the server, fixed for the life of a worker. */
export interface ServerContext {
  /** SCRIPT_NAME of the whole server: `""` or a path like `/app` (from `--root-path`). */
  root_path: string;
  /** SERVER_SOFTWARE. */
  software: string;
  multiprocess: boolean;
  errors: ErrorStream;
  fileWrapper: FileWrapper;
  trustedProxies: TrustedProxies;
}

const VERSION: readonly [1, 0] = Object.freeze([1, 0] as const);

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

function cachedEnvironKey(headerName: string): string | null {
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
 * Splits a request-target into its path and query: origin-form (`/a?b`), absolute-form
 * (`http://host/a?b`, what proxies send), and asterisk-form (`*`, for `OPTIONS *`).
 */
export function splitTarget(target: string): { path: string; query: string } {
  let end = target.indexOf("#");
  if (end === -1) end = target.length;
  const q = target.indexOf("?");
  let path = q === -1 || q > end ? target.slice(0, end) : target.slice(0, q);
  const query = q === -1 || q > end ? "" : target.slice(q + 1, end);
  if (path.charCodeAt(0) !== 0x2f /* / */) {
    if (path === "*") path = "";
    else {
      const scheme = path.indexOf("://");
      if (scheme === -1) throw new BadRequest(`Invalid request target '${target}'`);
      const slash = path.indexOf("/", scheme + 3);
      path = slash === -1 ? "/" : path.slice(slash);
    }
  }
  return { path, query };
}

/** Where the connection is served: the listener's address, computed once per socket. */
interface ConnectionInfo {
  serverName: string;
  serverPort: string;
  remoteAddr: string;
  remotePort: string;
  trusted: boolean;
}

const connectionInfo = Symbol("tsgi.connection");
type InfoSocket = Socket & { [connectionInfo]?: ConnectionInfo };

function infoOf(socket: InfoSocket, context: ServerContext): ConnectionInfo {
  let info = socket[connectionInfo];
  if (info === undefined) {
    const remoteAddr = socket.remoteAddress ?? "";
    info = {
      serverName: socket.localAddress ?? "",
      serverPort: socket.localPort === undefined ? "" : String(socket.localPort),
      remoteAddr,
      remotePort: socket.remotePort === undefined ? "" : String(socket.remotePort),
      trusted: context.trustedProxies.trusts(remoteAddr),
    };
    socket[connectionInfo] = info;
  }
  return info;
}

/** SERVER_NAME/SERVER_PORT for a unix socket, which has no address: taken from Host. */
function fromHost(host: string | undefined, scheme: string): [string, string] {
  if (host === undefined || host === "") return ["localhost", scheme === "https" ? "443" : "80"];
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host);
  const name = match?.[1] || "localhost";
  return [name, match?.[2] ?? (scheme === "https" ? "443" : "80")];
}

/** Builds the environ for one request. `input` is created by the caller (it may answer 100). */
export function buildEnviron(
  request: IncomingMessage,
  input: InputStream,
  context: ServerContext,
): Environ {
  const target = request.url ?? "/";
  const { path, query } = splitTarget(target);
  const decoded = unquoteToNative(path);
  const root = context.root_path;
  // Under a root path the app always runs at SCRIPT_NAME = root. A path below the root loses
  // the prefix; any other path (a proxy that already stripped it, or `/application` under
  // `/app`) is passed whole.
  let pathInfo = decoded;
  if (root !== "" && decoded.startsWith(root)) {
    const rest = decoded.slice(root.length);
    if (rest === "" || rest.charCodeAt(0) === 0x2f) pathInfo = rest;
  }
  const scriptName = root;

  const info = infoOf(request.socket, context);
  const environ = {
    REQUEST_METHOD: request.method ?? "GET",
    SCRIPT_NAME: scriptName,
    PATH_INFO: pathInfo,
    QUERY_STRING: query,
    SERVER_NAME: info.serverName,
    SERVER_PORT: info.serverPort,
    SERVER_PROTOCOL: request.httpVersion === "1.0" ? "HTTP/1.0" : "HTTP/1.1",
    SERVER_SOFTWARE: context.software,
    REMOTE_ADDR: info.remoteAddr,
    "tsgi.version": VERSION,
    "tsgi.url_scheme": "http",
    "tsgi.input": input,
    "tsgi.errors": context.errors,
    "tsgi.multithread": false,
    "tsgi.multiprocess": context.multiprocess,
    "tsgi.run_once": false,
    "tsgi.file_wrapper": context.fileWrapper,
    "tsgi.input_terminated": true,
    "gateway.raw_uri": target,
  } as Environ;

  const raw = request.rawHeaders;
  const headers = environ as unknown as Record<string, string | undefined>;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Every HTTP/1.1 request has a Host: its key without hashing a fresh string for the cache.
    const key = name === "Host" ? "HTTP_HOST" : cachedEnvironKey(name);
    if (key === null) continue;
    const previous = headers[key];
    headers[key] = previous === undefined ? raw[i + 1]! : previous + ", " + raw[i + 1]!;
  }

  if (info.serverName === "") {
    const [name, port] = fromHost(environ.HTTP_HOST, environ["tsgi.url_scheme"]);
    environ.SERVER_NAME = name;
    environ.SERVER_PORT = port;
  }
  // REMOTE_PORT is added last rather than deleted when a proxy names the client: a `delete`
  // turns the environ into a slow dictionary-mode object for everything that reads it later.
  const forwarded = info.trusted && context.trustedProxies.apply(environ);
  if (!forwarded) environ.REMOTE_PORT = info.remotePort;
  return environ;
}
