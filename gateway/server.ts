/**
 * The HTTP server one worker runs: Node's `http.Server`, with our limits, handing each request
 * to the TSGI handler. Node parses HTTP/1.1 (llhttp, strict by default) and owns keep-alive and
 * chunked framing; everything above the framing is ours.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Server as NetServer } from "node:net";
import type { Application, Environ } from "@foobar/tsgi";
import type { ServerContext } from "./environ.js";
import { fileWrapper } from "./file-wrapper.js";
import { createRequestHandler, type ExchangeRecord } from "./handler.js";
import { Logger } from "./log.js";
import { TrustedProxies } from "./trusted-proxies.js";
import { createRequestGuard } from "./request-guard.js";
import { defaultSettings, type Settings } from "./settings.js";
import { SOFTWARE } from "./version.js";

/** The settings one server needs, named as in settings.ts (where each is documented). */
export type ServerSettings = Pick<
  Settings,
  | "root_path"
  | "forwarded_allow_ips"
  | "keepalive"
  | "limit_request_line"
  | "limit_request_fields"
  | "limit_request_field_size"
  | "limit_request_body"
  | "header_timeout"
  | "request_timeout"
> & {
  /** True when several worker processes serve the same app (`tsgi.multiprocess`). */
  multiprocess: boolean;
};

/** The table's defaults (ignoring the environment), in one process. */
export const DEFAULT_SERVER_SETTINGS: ServerSettings = {
  ...defaultSettings(),
  multiprocess: false,
};

/** Node's timeout options for our settings (it checks timeouts on a timer, not per byte). */
function timeoutOptions(settings: ServerSettings) {
  const request = settings.request_timeout * 1000;
  // Node insists headers time out no later than the whole request.
  const headers =
    request > 0
      ? Math.min(settings.header_timeout * 1000, request)
      : settings.header_timeout * 1000;
  const shortest = Math.min(...[headers, request].filter((ms) => ms > 0));
  return {
    headersTimeout: headers,
    requestTimeout: request,
    connectionsCheckingInterval: Number.isFinite(shortest)
      ? Math.min(Math.max(shortest / 4, 100), 5000)
      : 30_000,
  };
}

export interface GatewayServerOptions {
  log?: Logger;
  beforeRequest?: (request: IncomingMessage, environ: Environ) => void;
  afterResponse?: (record: ExchangeRecord) => void;
  /** See HandlerOptions.timesRequests. */
  timesRequests?: boolean;
}

export function createGatewayServer(
  app: Application,
  settings: ServerSettings = DEFAULT_SERVER_SETTINGS,
  options: GatewayServerOptions = {},
): Server {
  const log = options.log ?? new Logger();
  const context: ServerContext = {
    root_path: settings.root_path,
    software: SOFTWARE,
    multiprocess: settings.multiprocess,
    errors: log.errorStream(),
    fileWrapper,
    trustedProxies: new TrustedProxies(settings.forwarded_allow_ips),
  };
  const guard = createRequestGuard(settings, log);
  const { afterResponse } = options;
  const handle = createRequestHandler(app, {
    context,
    log,
    beforeRequest: options.beforeRequest,
    afterResponse: (record) => {
      guard.settled(record.request);
      afterResponse?.(record);
    },
    timesRequests: options.timesRequests,
    limit_request_body: settings.limit_request_body,
  });

  function onRequest(request: IncomingMessage, response: ServerResponse, expects = false): void {
    // A stopping worker still answers what arrives on open connections, then closes them.
    if (closingConnections.has(server)) response.shouldKeepAlive = false;
    if (guard.refuse(request, response)) return;
    handle(request, response, expects);
  }

  const server = createServer(
    {
      keepAliveTimeout: settings.keepalive * 1000,
      ...timeoutOptions(settings),
      // The request guard checks Host itself, so the refusal is logged and explained.
      requireHostHeader: false,
      // Room for Gunicorn's limits: the request line plus every allowed header field.
      maxHeaderSize: Math.min(
        settings.limit_request_line +
          settings.limit_request_fields * (settings.limit_request_field_size + 2) +
          4,
        1024 * 1024,
      ),
    },
    onRequest,
  );
  // Answer `Expect: 100-continue` only when the app reads the body (PEP 3333's way), not at once.
  server.on("checkContinue", (request: IncomingMessage, response: ServerResponse) =>
    onRequest(request, response, true),
  );
  server.on("checkExpectation", guard.onUnmetExpectation);
  server.on("clientError", guard.onClientError);
  server.on("connect", guard.onConnect);
  return server;
}

/** Servers whose connections end after their next response (`closeConnectionsAfterResponse`). */
const closingConnections = new WeakSet<Server>();

/**
 * The first half of a worker's graceful stop: stop accepting new connections, but leave open
 * ones alone — they are still kept alive, until `closeConnectionsAfterResponse`. Requests in
 * flight finish. `onClosed` runs when the last connection is gone.
 *
 * Why not end keep-alive at once: the listening socket is shared with the sibling workers and
 * the master, and the kernel keeps completing handshakes on it until its last copy closes. A
 * client told `Connection: close` opens a new connection; if that one lands on the socket after
 * the last worker stopped accepting and before the socket is closed, it is reset when the socket
 * closes, after the client (nginx) has sent its request: a POST that nginx cannot replay is lost.
 * Kept-alive connections need no new ones, so nothing arrives in that gap.
 */
export function stopAccepting(server: Server, onClosed: () => void): void {
  if (!server.listening) {
    onClosed();
    return;
  }
  // net.Server's close, not http.Server's: the latter also drops idle keep-alive connections.
  NetServer.prototype.close.call(server, () => onClosed());
}

/**
 * The second half: each connection ends after its next response (`Connection: close`). Idle
 * ones end at their keep-alive timeout, which clients know from the `Keep-Alive: timeout=N`
 * header — closing them at once (what `server.close()` does since Node 19) races with a client
 * that is just reusing one, and that client would see a reset.
 */
export function closeConnectionsAfterResponse(server: Server): void {
  closingConnections.add(server);
}
