/**
 * One request, start to finish, in a worker: build the environ, run the app through the
 * response engine (tsgi/response-engine.ts: the server side of the contract), and report the
 * exchange to the access log, metrics and `post_request`.
 *
 * The engine owns the protocol; `GatewayExchange` supplies what only a socket server has: a
 * Node ServerResponse to write to (with Server and Content-Length added to the app's headers),
 * a client that may disconnect or be slow to read, and the gateway's error log.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { Application, Environ, Status } from "@foobar/tsgi";
import { ContractViolation, ResponseEngine } from "@foobar/tsgi/response-engine";
import type { Settings } from "./settings.js";
import { buildEnviron, type ServerContext } from "./environ.js";
import { BadRequest } from "./errors.js";
import { RequestInput } from "./input.js";
import { describeError, type Logger } from "./log.js";
import type { ExchangeRecord } from "./hooks.js";
import { SERVER_HEADER } from "./version.js";

export type { ExchangeRecord } from "./hooks.js";

export interface HandlerOptions extends Partial<Pick<Settings, "limit_request_body">> {
  context: ServerContext;
  log: Logger;
  /** Called before the app for each request (Gunicorn's `pre_request`). */
  beforeRequest?: (request: IncomingMessage, environ: Environ) => void;
  /** Called after each response, whatever happened (access log, metrics, `post_request`). */
  afterResponse?: (record: ExchangeRecord) => void;
  /**
   * Whether records carry `startedAt` (default true). Reading the clock costs ~70 ns per
   * request; a worker with no access log, metrics or `post_request` hook has no reader for it.
   */
  timesRequests?: boolean;
}

/** One request/response exchange on a Node HTTP connection. */
class GatewayExchange extends ResponseEngine {
  environ: Environ | undefined;
  input: RequestInput | undefined;
  readonly startedAt: bigint;

  constructor(
    readonly request: IncomingMessage,
    readonly response: ServerResponse,
    readonly options: HandlerOptions,
  ) {
    super();
    this.startedAt = options.timesRequests === false ? 0n : process.hrtime.bigint();
  }

  /** The whole exchange: environ, `pre_request`, then the app through the engine. */
  serve(app: Application, expectsContinue: boolean): void {
    const { request, response, options } = this;
    let environ: Environ;
    try {
      // Answer `Expect: 100-continue` only when the app starts reading the body.
      const input = new RequestInput(
        request,
        expectsContinue ? () => response.writeContinue() : undefined,
        options.limit_request_body,
      );
      this.input = input;
      environ = this.environ = buildEnviron(request, input, options.context);
      options.beforeRequest?.(request, environ);
    } catch (error) {
      this.fail(error); // e.g. a BadRequest: a forwarded header a trusted proxy got wrong
      return;
    }
    this.run(app, environ);
  }

  // ---- The output: a Node ServerResponse ----

  protected sendHead(contentLength: number): void {
    const { headers } = this;
    const flat: string[] = [];
    for (let i = 0; i < headers.length; i++) flat.push(headers[i]![0], headers[i]![1]);
    if (!this.hasServerHeader) flat.push("Server", SERVER_HEADER);
    if (contentLength >= 0) flat.push("Content-Length", String(contentLength));
    this.response.writeHead(this.code, this.status.slice(4), flat);
  }

  protected sendChunk(chunk: Uint8Array): Promise<void> | undefined {
    const { response } = this;
    if (response.write(chunk)) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        response.off("drain", done);
        response.off("close", done);
        resolve();
      };
      response.on("drain", done);
      response.on("close", done);
    });
  }

  protected endOutput(last?: Uint8Array): void {
    this.response.end(last);
  }

  /**
   * Ends the connection after what was already written, without a proper end of the body: the
   * client sees a truncated response. (A plain destroy() would also drop the bytes Node still
   * holds back in its corked first write — the client would see no response at all.) Node 20
   * holds them in the socket's buffer, which destroySoon() flushes; Node >= 22 holds them in the
   * response itself until the next tick, so the response is uncorked first.
   */
  protected cutOff(): void {
    const socket = this.response.socket;
    if (socket === null || socket.destroyed) {
      this.response.destroy();
      return;
    }
    while (this.response.writableCorked > 0) this.response.uncork();
    socket.destroySoon();
  }

  protected override get clientGone(): boolean {
    return this.response.destroyed;
  }

  protected override watchClient(listener: () => void): void {
    this.response.once("close", listener);
  }

  protected override unwatchClient(listener: () => void): void {
    this.response.off("close", listener);
  }

  protected override get isHead(): boolean {
    return this.request.method === "HEAD";
  }

  /** Logs the failure; a refused request's connection is closed once its 4xx is sent. */
  protected reportFailure(error: unknown, headersSent: boolean): void {
    const { log } = this.options;
    if (error instanceof BadRequest) {
      log.warning(
        "Invalid request from ip=%s: %s",
        this.request.socket.remoteAddress,
        error.message,
      );
      this.response.shouldKeepAlive = false;
      return;
    }
    if (error instanceof ContractViolation)
      log.error("%s: TSGI contract violation: %s", this.describe(), error.message);
    else log.error("Error handling request %s\n%s", this.describe(), describeError(error));
    if (headersSent) log.error("%s: headers already sent; connection aborted", this.describe());
  }

  /** A request the gateway refuses gets its 4xx and the reason; anything else the engine's 500. */
  protected override errorResponse(error: unknown): { status: Status; text: string } {
    if (error instanceof BadRequest)
      return {
        status: `${error.status} ${STATUS_CODES[error.status] ?? "Bad Request"}`,
        text: `${error.message}\n`,
      };
    return super.errorResponse(error);
  }

  protected override closeFailed(error: unknown): void {
    this.options.log.error("%s: body close() failed\n%s", this.describe(), describeError(error));
  }

  protected logError(message: string): void {
    this.options.log.error("%s", message);
  }

  protected override describe(): string {
    return `${this.request.method} ${this.request.url}`;
  }

  /** Reports the exchange; drains what the app left unread so the connection can be reused. */
  protected override onFinished(): void {
    const { input } = this;
    if (input?.partlyRead) input.discard().catch(() => this.request.destroy());
    this.options.afterResponse?.({
      environ: this.environ,
      request: this.request,
      status: this.code,
      bytes: this.bytes,
      headers: this.headers,
      startedAt: this.startedAt,
    });
  }
}

/** Serves each request with `app`: the listener for Node's `request` event. */
export function createRequestHandler(
  app: Application,
  options: HandlerOptions,
): (request: IncomingMessage, response: ServerResponse, expectsContinue?: boolean) => void {
  return function handleRequest(request, response, expectsContinue = false) {
    new GatewayExchange(request, response, options).serve(app, expectsContinue);
  };
}
