/**
 * `npm run bench:micro` — the per-request contract path in isolation, no sockets: how many
 * nanoseconds the gateway adds on top of what raw node:http does for the same response.
 *
 * A request object carries what Node's parser would give us (method, url, rawHeaders, socket
 * addresses); a response object records writeHead/write/end without touching a socket. Each case
 * runs in its own process, in timed batches after a warm-up; the median is reported.
 */
import { execFileSync } from "node:child_process";
import { IncomingMessage, type ServerResponse } from "node:http";
import { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { createDemo } from "@foobar/app";
import { hello } from "@foobar/app/hello";
import {
  buildEnviron,
  createRequestHandler,
  fileWrapper,
  Logger,
  RequestInput,
  requestRefusal,
  SOFTWARE,
  TrustedProxies,
  type ServerContext,
} from "@foobar/gateway/internal";
import { median } from "./report.js";

/** What wrk sends, and what a browser sends (more headers to map into HTTP_* keys). */
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

/** What nginx's proxy_set_header lines (nginx/foobar.conf) send the gateway. */
const NGINX_HEADERS = [
  ...WRK_HEADERS,
  "X-Forwarded-For",
  "127.0.0.1",
  "X-Forwarded-Proto",
  "http",
  "X-Forwarded-Host",
  "127.0.0.1:8000",
];

/**
 * `headers` as llhttp hands them over: new strings for every request, so nothing about them
 * (their hash, above all) is known yet. The constant lists above are the same strings each time.
 */
function asParsed(headers: string[]): () => string[] {
  const bytes = Buffer.from(headers.join("\n"), "latin1");
  return () => bytes.toString("latin1").split("\n");
}
const parsedNginxHeaders = asParsed(NGINX_HEADERS);

const socket = {
  remoteAddress: "127.0.0.1",
  remotePort: 50312,
  localAddress: "127.0.0.1",
  localPort: 8000,
};

function request(rawHeaders: string[], url = "/"): IncomingMessage {
  return {
    method: "GET",
    url,
    httpVersion: "1.1",
    rawHeaders,
    socket,
  } as unknown as IncomingMessage;
}

/** Counts what would go on the wire; never signals back-pressure. */
class RecordingResponse {
  headersSent = false;
  destroyed = false;
  bytes = 0;
  writeHead(_code: number, _reason?: unknown, _headers?: unknown): this {
    this.headersSent = true;
    return this;
  }
  setHeader(): this {
    return this;
  }
  write(chunk: Uint8Array): boolean {
    this.bytes += chunk.length;
    return true;
  }
  end(chunk?: Uint8Array): this {
    if (chunk !== undefined) this.bytes += chunk.length;
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
const response = () => new RecordingResponse() as unknown as ServerResponse;

const log = new Logger();
const context: ServerContext = {
  root_path: "",
  software: SOFTWARE,
  multiprocess: true,
  errors: log.errorStream(),
  fileWrapper,
  trustedProxies: new TrustedProxies("127.0.0.1,::1"),
};
const handle = createRequestHandler(hello, { context, log });
// The demo app (router, trail middleware) serves the same hello at "/".
const handleDemo = createRequestHandler(createDemo({}), { context, log });
const body = Buffer.from("Hello, World!");

/**
 * Nanoseconds of CPU per call of `fn`, median of `batches` timed batches of `size` calls. CPU
 * time (process.cpuUsage), not wall time: on a shared machine the time other processes take
 * from us does not count.
 */
function measure(fn: () => void, size = 50_000, batches = 15): number {
  for (let i = 0; i < size * 2; i++) fn(); // warm-up: let the JIT optimise
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = process.cpuUsage();
    for (let i = 0; i < size; i++) fn();
    const used = process.cpuUsage(start);
    times.push(((used.user + used.system) * 1000) / size);
  }
  return median(times);
}

/** Keeps results alive so the JIT cannot drop the work that made them. */
export let sink: unknown;

const wrk = request(WRK_HEADERS);
const browser = request(BROWSER_HEADERS);
/** A real IncomingMessage, as Node makes one per request (its `headers` are built lazily). */
const idleSocket = new Socket();
function nodeRequest(rawHeaders: string[]): IncomingMessage {
  const message = new IncomingMessage(idleSocket);
  message.method = "GET";
  message.url = "/";
  message.httpVersionMajor = 1;
  message.httpVersionMinor = 1;
  message.rawHeaders = rawHeaders;
  return message;
}
const guardSettings = {
  limit_request_line: 4094,
  limit_request_fields: 100,
  limit_request_field_size: 8190,
  limit_request_body: 0,
};

const cases: [string, () => void][] = [
  [
    "raw node:http handler (writeHead + end)",
    () => {
      const r = response();
      r.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      r.end(body);
    },
  ],
  ["tsgi.input (RequestInput)", () => void (sink = new RequestInput(wrk))],
  [
    "buildEnviron, wrk's 1 header",
    () => void (sink = buildEnviron(wrk, new RequestInput(wrk), context)),
  ],
  [
    "buildEnviron, a browser's 9 headers",
    () => void (sink = buildEnviron(browser, new RequestInput(browser), context)),
  ],
  [
    "nginx's 4 headers as parsed (new strings each request)",
    () => void (sink = parsedNginxHeaders()),
  ],
  [
    "  + buildEnviron, nginx's 4 headers (X-Forwarded-* applied)",
    () => {
      const behindNginx = request(parsedNginxHeaders());
      sink = buildEnviron(behindNginx, new RequestInput(behindNginx), context);
    },
  ],
  ["whole exchange, hello app, wrk's 1 header", () => handle(wrk, response())],
  ["whole exchange, hello app, a browser's 9 headers", () => handle(browser, response())],
  [
    "Node's IncomingMessage (made per request anyway)",
    () => void (sink = nodeRequest(WRK_HEADERS)),
  ],
  [
    "  + request guard (requestRefusal), wrk's 1 header",
    () => void (sink = requestRefusal(nodeRequest(WRK_HEADERS), guardSettings)),
  ],
  [
    "  + request guard (requestRefusal), a browser's 9 headers",
    () => void (sink = requestRefusal(nodeRequest(BROWSER_HEADERS), guardSettings)),
  ],
  [
    "whole exchange, demo router + trail → hello, wrk's 1 header",
    () => handleDemo(wrk, response()),
  ],
];

/** Each case runs in a fresh process, so one case's JIT feedback cannot slow another down. */
function runCase(index: number): number {
  const output = execFileSync(
    process.execPath,
    [fileURLToPath(import.meta.url), "--case", String(index)],
    {
      encoding: "utf8",
    },
  );
  return Number(output);
}

const caseArg = process.argv.indexOf("--case");
if (caseArg !== -1) {
  const [, fn] = cases[Number(process.argv[caseArg + 1])]!;
  process.stdout.write(String(measure(fn)));
} else {
  const processes = 3;
  const width = Math.max(...cases.map(([name]) => name.length));
  process.stdout.write(
    `Per-request CPU cost in ns (median of ${processes} processes × 15 batches; Node ${process.version})\n`,
  );
  for (const [index, [name]] of cases.entries()) {
    const ns = median(Array.from({ length: processes }, () => runCase(index)));
    process.stdout.write(`  ${name.padEnd(width)}  ${ns.toFixed(0).padStart(6)}\n`);
  }
}
