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
import { isHeaderNamed } from "@foobar/tsgi/headers";
import type { Logger } from "./log.js";
import type { Settings } from "./settings.js";
import { sendPlainResponse } from "./plain-response.js";
import { SERVER_HEADER } from "./version.js";

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
 * Trailer fields a chunked request is refused for (400). RFC 9110 §6.5.1 lists the fields that
 * may not be trailers and asks a recipient to ignore or drop them, not to refuse the request:
 * TSGI has no trailers (nor has PEP 3333), so every trailer field is dropped anyway. These are
 * the ones a request smuggler or a confused deputy needs — a hop that merges trailers into the
 * header section would act on them as if they came first: framing (llhttp itself refuses
 * Content-Length and Transfer-Encoding there), connection control, routing, credentials and
 * preconditions. Gunicorn refuses Host, Content-Length, Transfer-Encoding, Trailer,
 * Authorization and TE; this list adds their kin. The rest of §6.5.1's list (Content-Type,
 * Content-Encoding, Content-Range, Cache-Control, Pragma, Range, Expect, Max-Forwards, …)
 * describes the content or caching, or was already acted on with the head: dropped, like any
 * trailer (Gunicorn's valid case 012 sends Content-Type as a trailer, and is served).
 */
const REFUSED_TRAILERS = new Set([
  "authorization",
  "connection",
  "content-length",
  "cookie",
  "host",
  "keep-alive",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** The first trailer field in `rawTrailers` (name, value, …) that the request is refused for, or null. */
export function forbiddenTrailer(rawTrailers: readonly string[]): string | null {
  for (let i = 0; i < rawTrailers.length; i += 2) {
    const name = rawTrailers[i]!;
    const lower = name.toLowerCase();
    if (REFUSED_TRAILERS.has(lower) || lower.startsWith("if-")) return name;
  }
  return null;
}

/** What the screening learned about a request that passed it (filled in when given). */
export interface Screening {
  /** The body is chunked (the only transfer coding that passes). */
  chunked: boolean;
  /** The request announces a body: chunked, or a Content-Length other than 0. */
  body: boolean;
}

/**
 * Why `request` must be refused, or null when it may go to the application. One pass over
 * `rawHeaders` (which keeps every repetition) collects what the checks need, so Node never has
 * to build `request.headers` for a request that passes.
 */
export function requestRefusal(
  request: IncomingMessage,
  settings: GuardSettings,
  screening?: Screening,
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
    // One jump on the name's length, then at most one lower-cased comparison: this runs for
    // every header of every request (four isHeaderNamed calls in a row cost ~7 ns a header).
    switch (name.length) {
      case "host".length:
        if (isHeaderNamed(name, "host")) hosts++;
        break;
      case "content-type".length:
        if (isHeaderNamed(name, "content-type")) contentTypes++;
        break;
      case "content-length".length:
        if (isHeaderNamed(name, "content-length")) contentLength ??= value;
        break;
      case "transfer-encoding".length:
        // Repeated fields join as one list, as Node's `headers` would show them.
        if (isHeaderNamed(name, "transfer-encoding"))
          transferEncoding =
            transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        break;
    }
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
  if (screening !== undefined) {
    screening.chunked = transferEncoding !== undefined;
    screening.body = screening.chunked || (contentLength !== undefined && contentLength !== "0");
  }
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
    `Content-Length: ${Buffer.byteLength(body)}\r\nServer: ${SERVER_HEADER}\r\n\r\n${body}`
  );
}

export interface RequestGuard {
  /** Refuses `request` with the right status when it must not reach the app; true if refused. */
  refuse(request: IncomingMessage, response: ServerResponse): boolean;
  /** The app's answer to `request` is complete: its response need not be remembered any more. */
  settled(request: IncomingMessage): void;
  /** The server's `clientError` listener: answers llhttp's refusals properly. */
  onClientError(error: NodeJS.ErrnoException, socket: Duplex): void;
  /** The server's `checkExpectation` listener: an `Expect` other than 100-continue → 417. */
  onUnmetExpectation(request: IncomingMessage, response: ServerResponse): void;
  /** The server's `connect` listener: a gateway is not a forward proxy. */
  onConnect(request: IncomingMessage, socket: Duplex): void;
}

/** The last response on a connection (and through `.req` its request). */
const lastResponse = Symbol("gateway.lastResponse");
type TrackedSocket = Duplex & { [lastResponse]?: ServerResponse };

export function createRequestGuard(settings: GuardSettings, log: Logger): RequestGuard {
  // The last response on each connection (and through `.req` its request). A parse error in a
  // pipelined request must wait for it while it is being written, or the error would be read
  // as the answer to the earlier request; while its request is incomplete, a parse error is in
  // that request's body; after a closing response, nothing more is answered.
  // Kept on the socket itself (a property store per request; a WeakMap's insert costs more),
  // and only as long as it matters (`settled`): a response kept until the connection's next
  // request survives V8's young-generation collections, which then grow the young generation
  // ~2.5× and cost a worker 2–5 % of its throughput (docs/performance.md).
  const lastResponseOf = (socket: Duplex) => (socket as TrackedSocket)[lastResponse];
  // Connections the guard decided to close after their current response.
  const closing = new WeakSet<Duplex>();
  const screening: Screening = { chunked: false, body: false };
  // Requests that announced a body (few: GETs do not), for `settled`.
  const withBody = new WeakSet<IncomingMessage>();
  // Each chunked request's response, for the trailer check at the end of its body.
  const responseOf = new WeakMap<IncomingMessage, ServerResponse>();

  /** Node hands these listeners a plain Duplex; on a TCP or Unix server it is a net.Socket. */
  const addressOf = (socket: Duplex) =>
    (socket as Duplex & { remoteAddress?: string }).remoteAddress;

  function warn(address: string | undefined, reason: string): void {
    log.warning("Invalid request from ip=%s: %s", address ?? "unknown", reason);
  }

  function track(request: IncomingMessage, response: ServerResponse): void {
    (request.socket as TrackedSocket)[lastResponse] = response;
  }

  /** Ends the connection once `response` is completely sent: nothing more is read or answered. */
  function closeAfter(response: ServerResponse, socket: Duplex): void {
    if (closing.has(socket)) return;
    closing.add(socket);
    response.shouldKeepAlive = false; // says `Connection: close` if its head is not out yet
    const close = () => (socket as Duplex & { destroySoon?: () => void }).destroySoon?.();
    if (response.writableFinished || response.destroyed) close();
    else response.once("close", close);
  }

  /** Does the app read this request's body (so a broken body must fail its read at once)? */
  function appReads(request: IncomingMessage): boolean {
    return request.listenerCount("readable") > 0 || request.listenerCount("data") > 0;
  }

  /**
   * The end of a chunked body: its trailers are known now. An app that reads the body has its
   * read fail with a 400 (tsgi.input checks them too); for one that answered without reading,
   * that answer stands, and the connection ends after it.
   */
  function checkTrailers(this: IncomingMessage): void {
    const name = forbiddenTrailer(this.rawTrailers);
    const response = responseOf.get(this);
    if (name === null || response === undefined) return;
    if (!response.headersSent) {
      response.shouldKeepAlive = false;
      return;
    }
    warn(
      this.socket.remoteAddress,
      `Trailer field ${name} is not allowed; the response was already sent: connection closed after it`,
    );
    closeAfter(response, this.socket);
  }

  /**
   * llhttp found the framing of `request`'s body broken. Nothing sent yet: 400, and close. The
   * app answered without reading the body: its answer stands and the connection ends after it
   * (an extra 400 would be read as the answer to the client's next request). The app is reading
   * the body: drop the connection, which fails its read (its response cannot be completed).
   */
  function bodyFramingBroken(
    response: ServerResponse,
    socket: Duplex,
    refusal: RequestRefusal | null,
  ): void {
    if (!response.headersSent && refusal !== null && socket.writable) {
      socket.end(rawErrorResponse(refusal), () => socket.destroy());
      return;
    }
    if (response.headersSent && (response.writableFinished || !appReads(response.req))) {
      log.debug("The request body's framing broke after the response: connection closed after it");
      closeAfter(response, socket);
      return;
    }
    socket.destroy();
  }

  return {
    refuse(request, response) {
      track(request, response);
      const refusal = requestRefusal(request, settings, screening);
      if (refusal === null) {
        if (screening.body) withBody.add(request);
        if (screening.chunked) {
          responseOf.set(request, response);
          request.once("end", checkTrailers);
        }
        return false;
      }
      warn(request.socket.remoteAddress, refusal.reason);
      sendPlainResponse(response, refusal.status, refusal.reason);
      return true;
    },

    settled(request) {
      const socket = request.socket as TrackedSocket;
      const response = socket[lastResponse];
      if (response === undefined || response.req !== request) return;
      // Still needed: a response waiting behind a pipelined one (not on the socket yet), one
      // that closes the connection, and one whose request may still be sending its body.
      if (response.socket === null || !response.shouldKeepAlive) return;
      if (!request.complete && withBody.has(request)) return;
      // Its bytes are in the socket's queue: an error answered now goes out after them.
      socket[lastResponse] = undefined;
    },

    onClientError(error, socket) {
      const address = addressOf(socket);
      const last = lastResponseOf(socket);
      // The last response says `Connection: close` (sent or still being sent): Node ends the
      // connection after it, and nothing read after it is answered.
      if (closing.has(socket) || (last !== undefined && !last.shouldKeepAlive)) {
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
      if (last !== undefined && !last.req.complete) {
        bodyFramingBroken(last, socket, refusal);
        return;
      }
      // The last response is still being written: the error answers what follows it, after it.
      if (last !== undefined && !last.writableFinished && !last.destroyed) {
        last.once("finish", answer);
        last.once("close", answer);
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
