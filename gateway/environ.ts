/**
 * From the bytes on the wire to the environ: how an HTTP request becomes PEP 3333's dict.
 *
 * Node's parser (llhttp) has already split the request line and headers; every string it gives
 * us holds one byte per code unit (Latin-1), which is exactly what PEP 3333 calls a native
 * string. This module only moves those strings into CGI names.
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Environ, FileWrapper, InputStream } from "@foobar/tsgi";
import { BadRequest } from "./errors.js";
import type { TrustedProxies } from "./trusted-proxies.js";
import { unquoteToNative } from "@foobar/tsgi/rules";
import { addRequestHeaders, createEnviron, type EnvironServer } from "@foobar/tsgi/environ";

/** What the environ needs to know about the server, fixed for the life of a worker. */
export interface ServerContext extends EnvironServer {
  /** SCRIPT_NAME of the whole server: `""` or a path like `/app` (from `--root-path`). */
  root_path: string;
  fileWrapper: FileWrapper;
  trustedProxies: TrustedProxies;
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
  const environ = createEnviron(
    {
      method: request.method ?? "GET",
      scriptName,
      pathInfo,
      query,
      serverName: info.serverName,
      serverPort: info.serverPort,
      protocol: request.httpVersion === "1.0" ? "HTTP/1.0" : "HTTP/1.1",
      scheme: "http",
      remoteAddr: info.remoteAddr,
      input,
    },
    context,
  );
  environ["gateway.raw_uri"] = target;
  addRequestHeaders(environ, request.rawHeaders);

  const forwarded = info.trusted && context.trustedProxies.apply(environ);
  // After the proxy's headers: a Host without a port means the default port of the scheme the
  // client used, which X-Forwarded-Proto may just have said is https (443, as Gunicorn gives).
  if (info.serverName === "") {
    const [name, port] = fromHost(environ.HTTP_HOST, environ["tsgi.url_scheme"]);
    environ.SERVER_NAME = name;
    environ.SERVER_PORT = port;
  }
  // REMOTE_PORT is added last rather than deleted when a proxy names the client: a `delete`
  // turns the environ into a slow dictionary-mode object for everything that reads it later.
  if (!forwarded) environ.REMOTE_PORT = info.remotePort;
  return environ;
}
