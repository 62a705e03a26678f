/**
 * Screening of hostile requests: what Node's parser (llhttp, strict) does not already refuse,
 * and a proper answer for what it does refuse.
 *
 * llhttp rejects malformed framing on its own — bad request lines, header names and values,
 * CL+TE, duplicate Content-Length, bad chunk sizes, obs-fold, bare CR and LF — and reports it as
 * a `clientError`. What it lets through, and we refuse here, is legal *syntax* with dangerous or
 * unsupported *meaning*: a missing or duplicate Host, HTTP/0.9 and HTTP/2.0 request lines, transfer codings
 * we cannot decode, `*` and absolute-form targets that are not what they claim, bodies over
 * `limit_request_body`. Every refusal is logged as `Invalid request from ip=…: reason`; the
 * client gets a short plain-text answer with `Connection: close` and no internal detail.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { STATUS_CODES } from "node:http";
import { isHeaderNamed } from "../tsgi/headers.js";
import type { Logger } from "./log.js";
import type { Settings } from "./settings.js";
import { sendPlainResponse } from "./plain-response.js";
import { SOFTWARE } from "./version.js";

/** The limits the guard enforces, named and documented as in settings.ts. */
export type GuardSettings = Pick<
  Settings,
  "limit_request_line" | "limit_request_fields" | "limit_request_field_size" | "limit_request_body"
>;

export interface RequestRefusal {
  status: number;
  /** Safe to show the client and to log. */
  reason: string;
}

const ABSOLUTE_FORM = /^https?:\/\/[^/?#]+/i;

/**
 * Why `request` must be refused, or null when it may go to the application. One pass over
 * `rawHeaders` (which keeps every repetition) collects what the checks need, so Node never has
 * to build `request.headers` for a request that passes.
 */
export function requestRefusal(
  request: IncomingMessage,
  settings: GuardSettings,
): RequestRefusal | null {
  const target = request.url ?? "";
  const line = settings.limit_request_line;
  // The request line is "METHOD SP target SP HTTP/x.y": its length without CRLF.
  if (line > 0 && (request.method?.length ?? 0) + target.length + 10 > line)
    return { status: 414, reason: `Request line is too large (limit ${line} bytes)` };
  const raw = request.rawHeaders;
  if (raw.length / 2 > settings.limit_request_fields)
    return {
      status: 431,
      reason: `Too many header fields (limit ${settings.limit_request_fields})`,
    };

  const fieldLimit = settings.limit_request_field_size;
  let hosts = 0;
  let contentTypes = 0;
  let transferEncoding: string | undefined;
  let contentLength: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    // name ": " value CRLF
    if (name.length + value.length + 4 > fieldLimit)
      return {
        status: 431,
        reason: `Header field ${name} is too large (limit ${fieldLimit} bytes)`,
      };
    // isHeaderNamed compares lengths first: most names are told apart without lower-casing.
    if (isHeaderNamed(name, "host")) hosts++;
    else if (isHeaderNamed(name, "content-type")) contentTypes++;
    else if (isHeaderNamed(name, "content-length")) contentLength ??= value;
    else if (isHeaderNamed(name, "transfer-encoding"))
      // Repeated fields join as one list, as Node's `headers` would show them.
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
  }

  if (request.httpVersionMajor !== 1) {
    // llhttp reads `GET /` (no version) as HTTP/0.9 and accepts `HTTP/2.0`; both would get an
    // HTTP/1.1 answer they cannot read. Gunicorn refuses them as an invalid version: so do we.
    return { status: 400, reason: `Invalid HTTP version ${request.httpVersion}` };
  }
  if (target === "*" && request.method !== "OPTIONS")
    return { status: 400, reason: `Request target * is only valid for OPTIONS` };
  if (target.charCodeAt(0) !== 0x2f /* / */ && target !== "*") {
    if (!ABSOLUTE_FORM.test(target) || !URL.canParse(target))
      return { status: 400, reason: `Invalid request target` };
  }
  if (hosts > 1) return { status: 400, reason: "Duplicate Host header" };
  if (hosts === 0 && request.httpVersionMinor >= 1)
    return { status: 400, reason: "Missing Host header (required by HTTP/1.1)" };
  if (contentTypes > 1) return { status: 400, reason: "Duplicate Content-Type header" };

  if (transferEncoding !== undefined) {
    if (request.httpVersionMinor === 0)
      return { status: 400, reason: "Transfer-Encoding is not allowed in HTTP/1.0" };
    // Node decodes `chunked` only; any other coding would reach the app still encoded.
    if (transferEncoding.trim().toLowerCase() !== "chunked")
      return { status: 501, reason: "Unsupported transfer coding" };
  }
  const limit = settings.limit_request_body;
  if (limit > 0 && contentLength !== undefined && Number(contentLength) > limit)
    return { status: 413, reason: `Request body is too large (limit ${limit} bytes)` };
  return null;
}

/** The answer to a parse error llhttp reported: status, or null for "close without a word". */
function parseErrorStatus(error: NodeJS.ErrnoException): RequestRefusal | null {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, reason: "Request header fields too large" };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, reason: "Request timeout" };
    case "HPE_INVALID_TRANSFER_ENCODING":
      // The same code covers CL+TE (400, smuggling) and a coding that does not end in chunked,
      // which is "not implemented" rather than malformed (Gunicorn and nginx: 501).
      return error.message.includes("Request has invalid")
        ? { status: 501, reason: "Unsupported transfer coding" }
        : { status: 400, reason: "Invalid Transfer-Encoding" };
    case "HPE_CLOSED_CONNECTION":
    case "ECONNRESET":
    case "EPIPE":
      return null;
    default:
      return { status: 400, reason: "Bad Request" };
  }
}

/** A complete error response for a socket that has no ServerResponse (the parser failed). */
function rawErrorResponse({ status, reason }: RequestRefusal): string {
  const body = `${reason}\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
    `Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nServer: ${SOFTWARE}\r\n\r\n${body}`
  );
}

export interface RequestGuard {
  /** Refuses `request` with the right status when it must not reach the app; true if refused. */
  refuse(request: IncomingMessage, response: ServerResponse): boolean;
  /** The server's `clientError` listener: answers llhttp's refusals properly. */
  onClientError(error: NodeJS.ErrnoException, socket: Duplex): void;
  /** The server's `checkExpectation` listener: an `Expect` other than 100-continue → 417. */
  onUnmetExpectation(request: IncomingMessage, response: ServerResponse): void;
  /** The server's `connect` listener: a gateway is not a forward proxy. */
  onConnect(request: IncomingMessage, socket: Duplex): void;
}

export function createRequestGuard(settings: GuardSettings, log: Logger): RequestGuard {
  // The response still being written on each connection: a parse error in a pipelined request
  // must wait for it, or the error would be read as the answer to the earlier request.
  const inFlight = new WeakMap<Duplex, ServerResponse>();
  // Connections whose last response said `Connection: close`: what follows on them is unread.
  const closing = new WeakSet<Duplex>();

  /** Node hands these listeners a plain Duplex; on a TCP or Unix server it is a net.Socket. */
  const addressOf = (socket: Duplex) =>
    (socket as Duplex & { remoteAddress?: string }).remoteAddress;

  function warn(address: string | undefined, reason: string): void {
    log.warning("Invalid request from ip=%s: %s", address ?? "unknown", reason);
  }

  // One shared listener (no closure per request): a response always emits 'close', after
  // 'finish' or when the connection dies first.
  function forget(this: ServerResponse): void {
    const socket = this.req.socket;
    if (!this.shouldKeepAlive) closing.add(socket);
    if (inFlight.get(socket) === this) inFlight.delete(socket);
  }

  function track(request: IncomingMessage, response: ServerResponse): void {
    inFlight.set(request.socket, response);
    response.on("close", forget);
  }

  return {
    refuse(request, response) {
      track(request, response);
      const refusal = requestRefusal(request, settings);
      if (refusal === null) return false;
      warn(request.socket.remoteAddress, refusal.reason);
      sendPlainResponse(response, refusal.status, refusal.reason);
      return true;
    },

    onClientError(error, socket) {
      const address = addressOf(socket);
      const pending = inFlight.get(socket);
      if (closing.has(socket) || (pending !== undefined && !pending.shouldKeepAlive)) {
        // Already answered with `Connection: close` (e.g. a refused request whose body llhttp
        // then failed to frame): Node closes the connection once that answer is out.
        log.debug("Ignored %s after a closing response", error.code ?? error.message);
        return;
      }
      const refusal = parseErrorStatus(error);
      if (refusal !== null) warn(address, `${refusal.reason} (${error.code}: ${error.message})`);
      else log.debug("Client connection ended: %s", error.code ?? error.message);
      let answered = false;
      const answer = () => {
        if (answered) return;
        answered = true;
        if (!socket.writable) socket.destroy();
        // end(), not destroy(): what is still buffered for the client goes out before the FIN.
        else if (refusal === null) socket.end();
        else socket.end(rawErrorResponse(refusal));
      };
      if (pending !== undefined && !pending.req.complete) {
        // The framing broke inside a body the app may be reading: it will never end. Answer
        // if nothing was sent yet, then drop the connection, which fails the app's read.
        if (refusal !== null && !pending.headersSent && socket.writable)
          socket.end(rawErrorResponse(refusal), () => socket.destroy());
        else socket.destroy();
        return;
      }
      if (pending !== undefined && !pending.writableFinished && !pending.destroyed) {
        pending.once("finish", answer);
        pending.once("close", answer);
      } else answer();
    },

    onUnmetExpectation(request, response) {
      const reason = `Unsupported expectation '${request.headers.expect ?? ""}'`;
      warn(request.socket.remoteAddress, reason);
      sendPlainResponse(response, 417, "Expectation Failed");
    },

    onConnect(_request, socket) {
      warn(addressOf(socket), "CONNECT is not supported: this is not a forward proxy");
      socket.end(rawErrorResponse({ status: 400, reason: "CONNECT is not supported" }));
    },
  };
}
