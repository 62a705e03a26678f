/**
 * `npm run bench:instructions` — CPU instructions per request through the gateway's request
 * handler (no sockets), counted by valgrind's callgrind. Unlike time, an instruction count does
 * not change when other processes load the machine, so two versions can be compared on a busy
 * one.
 *
 * Each case runs twice under callgrind, with 1,000 and 21,000 requests; the difference divided
 * by 20,000 is the cost of one request without Node's start-up and the JIT's warm-up.
 * `--serve CASE N` is the inner mode: serve N requests and exit.
 */
import { spawnSync } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { hello } from "../app/hello.js";
import { createDemo } from "../app/index.js";
import type { ServerContext } from "../gateway/environ.js";
import { fileWrapper } from "../gateway/file-wrapper.js";
import { createRequestHandler } from "../gateway/handler.js";
import { Logger } from "../gateway/log.js";
import { TrustedProxies } from "../gateway/trusted-proxies.js";
import { SOFTWARE } from "../gateway/version.js";

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

function serve(name: string, count: number): void {
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
  const width = Math.max(...Object.keys(CASES).map((name) => name.length));
  for (const name of Object.keys(CASES)) {
    const perRequest = (instructions(name, 21_000) - instructions(name, 1_000)) / 20_000;
    process.stdout.write(`  ${name.padEnd(width)}  ${perRequest.toFixed(0).padStart(6)}\n`);
  }
}
