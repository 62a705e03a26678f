/**
 * Contestant: the contract's floor — hello served through TSGI with nothing of the gateway
 * around it. Each request gets an environ with the keys PEP 3333 requires, a `startResponse`
 * closure, the app's call, and the answer as Node's flat header array (with the `Server` and
 * `Content-Length` the gateway adds) and one `end()`.
 *
 * Left out on purpose, to price them: the request guard's screening, `tsgi.input` (a stub here),
 * the response engine's checks and back-pressure, error answers, hooks and the worker's
 * bookkeeping. "foobar 1w / this" is what the gateway's machinery costs; "this / node:http" is
 * what the contract itself costs. Not a server to use: a malformed request or a failing app is
 * not handled.
 *
 *   node dist/bench/servers/tsgi-floor.js PORT
 */
import { createServer } from "node:http";
import { hello } from "../../app/hello.js";
import { environKeyOf } from "../../tsgi/rules.js";
import type {
  Environ,
  ErrorStream,
  HeaderList,
  InputStream,
  StartResponse,
} from "../../tsgi/types.js";
import { serveFromArgs } from "./args.js";

const VERSION = Object.freeze([1, 0] as const);
const noBody = new Uint8Array(0);
const input: InputStream = {
  read: async () => noBody,
  readline: async () => noBody,
  readlines: async () => [],
  async *[Symbol.asyncIterator]() {},
};
const errors: ErrorStream = {
  write: (text) => void process.stderr.write(text),
  writelines: (lines) => void process.stderr.write([...lines].join("")),
  flush: () => {},
};
const ignoreWrite = () => undefined;

// Header name → environ key by the contract's rule (tsgi/rules.ts), computed once per name.
const keys = new Map<string, string | null>();
function keyOf(name: string): string | null {
  let key = keys.get(name);
  if (key === undefined) keys.set(name, (key = environKeyOf(name)));
  return key;
}

await serveFromArgs(process.argv.slice(2), (port) => {
  const server = createServer((request, response) => {
    const target = request.url ?? "/";
    const query = target.indexOf("?");
    const socket = request.socket;
    const environ = {
      REQUEST_METHOD: request.method ?? "GET",
      SCRIPT_NAME: "",
      PATH_INFO: query === -1 ? target : target.slice(0, query),
      QUERY_STRING: query === -1 ? "" : target.slice(query + 1),
      SERVER_NAME: socket.localAddress ?? "",
      SERVER_PORT: String(socket.localPort ?? ""),
      SERVER_PROTOCOL: "HTTP/1.1",
      REMOTE_ADDR: socket.remoteAddress ?? "",
      "tsgi.version": VERSION,
      "tsgi.url_scheme": "http",
      "tsgi.input": input,
      "tsgi.errors": errors,
      "tsgi.multithread": false,
      "tsgi.multiprocess": false,
      "tsgi.run_once": false,
    } as Environ;
    const raw = request.rawHeaders;
    const fields = environ as unknown as Record<string, string>;
    for (let i = 0; i < raw.length; i += 2) {
      const key = keyOf(raw[i]!);
      if (key !== null) fields[key] = raw[i + 1]!;
    }

    let status = "";
    let headers: HeaderList = [];
    const startResponse: StartResponse = (givenStatus, givenHeaders) => {
      status = givenStatus;
      headers = givenHeaders;
      return ignoreWrite;
    };
    const body = hello(environ, startResponse) as Uint8Array[];
    const flat: string[] = [];
    for (const [name, value] of headers) flat.push(name, value);
    let length = 0;
    for (const chunk of body) length += chunk.length;
    flat.push("Server", "tsgi-floor", "Content-Length", String(length));
    response.writeHead(Number(status.slice(0, 3)), status.slice(4), flat);
    response.end(body.length === 1 ? body[0] : Buffer.concat(body));
  });
  server.listen(port, "127.0.0.1");
});
