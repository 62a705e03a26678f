/**
 * `npm run bench:instructions` — CPU instructions per request through the gateway's request
 * handler (no sockets), counted by valgrind's callgrind. Unlike time, an instruction count does
 * not change when other processes load the machine, so two versions can be compared on a busy
 * one.
 *
 * Each case runs twice under callgrind, with 1,000 and 21,000 requests; the difference divided
 * by 20,000 is the cost of one request without Node's start-up and the JIT's warm-up.
 * `--serve CASE N` is the inner mode: serve N requests and exit.
 *
 * The "over a socket" cases count everything one keep-alive request costs in user space — the
 * client that sends it (the same in both), Node's HTTP parser and response writer, and the
 * server's own code: raw node:http against the gateway's server (request guard + handler), so
 * what foobar adds to a request is their difference, measured the same way on a busy machine.
 * (System calls are the kernel's time and not counted; both make the same ones.)
 */
import { spawnSync } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { getRequestListener } from "@hono/node-server";
import { createDemo } from "@foobar/app";
import { fromFetch, toFetch } from "@foobar/app/fetch-adapter";
import { hello } from "@foobar/app/hello";
import { createGatewayServer, DEFAULT_SERVER_SETTINGS } from "@foobar/gateway";
import {
  createRequestHandler,
  fileWrapper,
  Logger,
  SOFTWARE,
  TrustedProxies,
  type ServerContext,
} from "@foobar/gateway/internal";
import { helloHono } from "./servers/hello-frameworks.js";

const WRK_HEADERS = ["Host", "127.0.0.1:8000"];
const BROWSER_HEADERS = [
  ...WRK_HEADERS,
  "User-Agent",
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
  "Accept",
  "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
  "Accept-Language",
  "en-GB,en;q=0.9",
  "Accept-Encoding",
  "gzip, deflate, br",
  "Connection",
  "keep-alive",
  "Cookie",
  "session=abc123; theme=dark",
  "Cache-Control",
  "max-age=0",
];

/** Records nothing and never signals back-pressure: only the handler's own work is counted. */
class NullResponse {
  headersSent = false;
  destroyed = false;
  writeHead(): this {
    this.headersSent = true;
    return this;
  }
  write(): boolean {
    return true;
  }
  end(): this {
    return this;
  }
  on(): this {
    return this;
  }
  once(): this {
    return this;
  }
  off(): this {
    return this;
  }
  destroy(): void {}
  writeContinue(): void {}
}

const CASES: Record<string, { headers: string[]; demo: boolean }> = {
  "hello, wrk's 1 header": { headers: WRK_HEADERS, demo: false },
  "hello, a browser's 9 headers": { headers: BROWSER_HEADERS, demo: false },
  "demo router + trail → hello, wrk's 1 header": { headers: WRK_HEADERS, demo: true },
};

const SOCKET_CASES: Record<string, () => Server> = {
  "over a socket: raw node:http, hello": () => {
    const body = Buffer.from("Hello, World!");
    return createServer((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      response.end(body);
    });
  },
  "over a socket: foobar's server (guard + handler), hello": () =>
    createGatewayServer(hello, { ...DEFAULT_SERVER_SETTINGS, multiprocess: true }),
  // The fetch bridge (issue #27), each direction against the server it is compared with.
  "over a socket: @hono/node-server, hello via toFetch": () =>
    createServer(getRequestListener(toFetch(hello))),
  "over a socket: @hono/node-server, Hono hello": () =>
    createServer(getRequestListener(helloHono().fetch)),
  "over a socket: foobar's server, Hono hello via fromFetch": () =>
    createGatewayServer(fromFetch(helloHono().fetch), {
      ...DEFAULT_SERVER_SETTINGS,
      multiprocess: true,
    }),
};

/** Sends `count` keep-alive GETs one after another over one connection, as wrk does. */
async function serveOverSocket(name: string, count: number): Promise<void> {
  const server = SOCKET_CASES[name]!();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const socket = connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  const request = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n";
  await new Promise<void>((resolve, reject) => {
    let answered = 0;
    let pending = "";
    socket.setEncoding("latin1");
    socket.on("error", reject);
    socket.on("data", (text: string) => {
      pending += text;
      // Each answer ends with the hello body; no other part of it contains that text.
      let at: number;
      while ((at = pending.indexOf("Hello, World!")) !== -1) {
        pending = pending.slice(at + 13);
        if (++answered === count) return resolve();
        socket.write(request);
      }
    });
    socket.write(request);
  });
  socket.destroy();
  server.close();
  server.closeAllConnections();
}

function serve(name: string, count: number): void {
  if (name in SOCKET_CASES) {
    void serveOverSocket(name, count);
    return;
  }
  const { headers, demo } = CASES[name]!;
  const log = new Logger();
  const context: ServerContext = {
    root_path: "",
    software: SOFTWARE,
    multiprocess: true,
    errors: log.errorStream(),
    fileWrapper,
    trustedProxies: new TrustedProxies("127.0.0.1,::1"),
  };
  const handle = createRequestHandler(demo ? createDemo({}) : hello, { context, log });
  const socket = {
    remoteAddress: "127.0.0.1",
    remotePort: 50312,
    localAddress: "127.0.0.1",
    localPort: 8000,
  };
  const request = {
    method: "GET",
    url: "/",
    httpVersion: "1.1",
    rawHeaders: headers,
    socket,
  } as unknown as IncomingMessage;
  for (let i = 0; i < count; i++) handle(request, new NullResponse() as unknown as ServerResponse);
}

/** Instructions callgrind counted for serving `count` requests of case `name`. */
function instructions(name: string, count: number): number {
  const run = spawnSync(
    "valgrind",
    [
      "--tool=callgrind",
      "--callgrind-out-file=/dev/null",
      process.execPath,
      fileURLToPath(import.meta.url),
      "--serve",
      name,
      String(count),
    ],
    { encoding: "utf8" },
  );
  if (run.error !== undefined)
    throw new Error(`cannot run valgrind (apt-get install valgrind): ${run.error.message}`);
  // callgrind reports on stderr: "==PID== Collected : 2001862660".
  const match = /Collected : (\d+)/.exec(run.stderr);
  if (match === null) throw new Error(`no instruction count in callgrind's output:\n${run.stderr}`);
  return Number(match[1]);
}

const serveArg = process.argv.indexOf("--serve");
if (serveArg !== -1) {
  serve(process.argv[serveArg + 1]!, Number(process.argv[serveArg + 2]));
} else {
  process.stdout.write(`Instructions per request (callgrind; Node ${process.version})\n`);
  // `--only TEXT`: just the cases whose name contains TEXT (e.g. `--only socket`).
  const only = process.argv.indexOf("--only");
  const names = [...Object.keys(CASES), ...Object.keys(SOCKET_CASES)].filter(
    (name) => only === -1 || name.includes(process.argv[only + 1] ?? ""),
  );
  const width = Math.max(...names.map((name) => name.length));
  for (const name of names) {
    const perRequest = (instructions(name, 21_000) - instructions(name, 1_000)) / 20_000;
    process.stdout.write(`  ${name.padEnd(width)}  ${perRequest.toFixed(0).padStart(6)}\n`);
  }
}
