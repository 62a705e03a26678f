/**
 * Contestant: the contract's floor — hello served through TSGI with nothing of the gateway
 * around it. Each request gets the environ the gateway would build (tsgi/environ.ts), a
 * `startResponse` closure that only records (not the engine's: its checks are what the floor
 * leaves out), the app's call, and the answer as Node's flat header array (with the `Server`
 * and `Content-Length` the gateway adds) and one `end()`.
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
import { hello } from "@foobar/app/hello";
import type { ErrorStream, HeaderList, InputStream, StartResponse } from "@foobar/tsgi";
import { addRequestHeaders, createEnviron, type EnvironServer } from "@foobar/tsgi/environ";
import { unquoteToNative } from "@foobar/tsgi/rules";
import { serveFromArgs } from "./args.js";

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
const server: EnvironServer = { software: "tsgi-floor", errors, multiprocess: false };
const ignoreWrite = () => undefined;

await serveFromArgs(process.argv.slice(2), (port) => {
  const listener = createServer((request, response) => {
    const target = request.url ?? "/";
    const query = target.indexOf("?");
    const socket = request.socket;
    // The environ as the gateway builds it (tsgi/environ.ts), from what this server knows.
    const environ = createEnviron(
      {
        method: request.method ?? "GET",
        scriptName: "",
        pathInfo: unquoteToNative(query === -1 ? target : target.slice(0, query)),
        query: query === -1 ? "" : target.slice(query + 1),
        serverName: socket.localAddress ?? "",
        serverPort: String(socket.localPort ?? ""),
        protocol: "HTTP/1.1",
        scheme: "http",
        remoteAddr: socket.remoteAddress ?? "",
        input,
      },
      server,
    );
    addRequestHeaders(environ, request.rawHeaders);

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
  listener.listen(port, "127.0.0.1");
});
