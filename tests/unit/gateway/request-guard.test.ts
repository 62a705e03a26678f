/**
 * gateway/request-guard.ts's screening on its own: the limits at their exact boundaries, what
 * each refusal says, and what the screening learns about a request that passes. (The hostile
 * corpus sends the same kinds of requests over a socket, one case each, mostly well past a
 * limit.)
 */
import { EventEmitter } from "node:events";
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { Logger } from "../../../gateway/log.js";
import {
  createRequestGuard,
  forbiddenTrailer,
  requestRefusal,
  type GuardSettings,
  type Screening,
} from "../../../gateway/request-guard.js";
import { MemoryLogFile, parseResponse, rawRequest, startGateway } from "../../helpers/gateway.js";

const SETTINGS: GuardSettings = {
  limit_request_line: 4094,
  limit_request_fields: 100,
  limit_request_field_size: 8190,
  limit_request_body: 0,
};

/** What requestRefusal reads of a request, as Node's parser fills it in. */
function request({
  method = "GET",
  url = "/",
  headers = ["Host", "example.test"],
  version = "1.1",
}: {
  method?: string;
  url?: string;
  headers?: readonly string[];
  version?: string;
} = {}): IncomingMessage {
  const [major, minor] = version.split(".").map(Number);
  return {
    method,
    url,
    rawHeaders: [...headers],
    httpVersion: version,
    httpVersionMajor: major,
    httpVersionMinor: minor,
  } as IncomingMessage;
}

const refusal = (message: IncomingMessage, settings: Partial<GuardSettings> = {}) =>
  requestRefusal(message, { ...SETTINGS, ...settings });

describe("the limits, at their boundaries", () => {
  it("limit_request_line counts METHOD SP target SP HTTP/x.y, without CRLF", () => {
    const line = "GET /abc HTTP/1.1".length;
    expect(refusal(request({ url: "/abc" }), { limit_request_line: line })).toBeNull();
    expect(refusal(request({ url: "/abcd" }), { limit_request_line: line })).toEqual({
      status: 414,
      reason: `Request line is too large (limit ${line} bytes)`,
    });
    // 0: no limit.
    expect(refusal(request({ url: "/" + "a".repeat(10_000) }), { limit_request_line: 0 })).toBe(
      null,
    );
  });

  it("limit_request_fields: that many fields pass, one more is 431", () => {
    const headers = ["Host", "h", "A", "1", "B", "2"];
    expect(refusal(request({ headers }), { limit_request_fields: 3 })).toBeNull();
    expect(refusal(request({ headers }), { limit_request_fields: 2 })).toEqual({
      status: 431,
      reason: "Too many header fields (limit 2)",
    });
  });

  it("limit_request_field_size counts name, colon, space, value and CRLF", () => {
    const size = "X-Long: 12345\r\n".length;
    const headers = (value: string) => ["Host", "h", "X-Long", value];
    expect(
      refusal(request({ headers: headers("12345") }), { limit_request_field_size: size }),
    ).toBeNull();
    expect(
      refusal(request({ headers: headers("123456") }), { limit_request_field_size: size }),
    ).toEqual({ status: 431, reason: `Header field X-Long is too large (limit ${size} bytes)` });
  });

  it("limit_request_body: a Content-Length of exactly the limit passes; 0 is no limit", () => {
    const withLength = (length: string) =>
      request({ method: "POST", headers: ["Host", "h", "Content-Length", length] });
    expect(refusal(withLength("100"), { limit_request_body: 100 })).toBeNull();
    expect(refusal(withLength("101"), { limit_request_body: 100 })).toEqual({
      status: 413,
      reason: "Request body is too large (limit 100 bytes)",
    });
    expect(refusal(withLength("999999999"), { limit_request_body: 0 })).toBeNull();
    // Another field of Content-Length's length is not taken for it.
    const after = request({
      headers: ["Host", "h", "Accept-Charset", "utf-8", "Content-Length", "101"],
    });
    expect(refusal(after, { limit_request_body: 100 })?.status).toBe(413);
  });
});

describe("what each refusal says", () => {
  it.each([
    ["HTTP/0.9", { version: "0.9" }, 400, "Invalid HTTP version 0.9"],
    ["HTTP/2.0", { version: "2.0" }, 400, "Invalid HTTP version 2.0"],
    ["* for GET", { url: "*" }, 400, "Request target * is only valid for OPTIONS"],
    ["a relative target", { url: "index.html" }, 400, "Invalid request target"],
    ["an absolute target of another scheme", { url: "ftp://h/x" }, 400, "Invalid request target"],
    ["an absolute target URL cannot parse", { url: "http://[::1/" }, 400, "Invalid request target"],
    ["two Host fields", { headers: ["Host", "a", "host", "b"] }, 400, "Duplicate Host header"],
    [
      "no Host on HTTP/1.1",
      { headers: ["Accept", "*/*"] },
      400,
      "Missing Host header (required by HTTP/1.1)",
    ],
    [
      "two Content-Type fields",
      { headers: ["Host", "h", "Content-Type", "a/b", "content-type", "c/d"] },
      400,
      "Duplicate Content-Type header",
    ],
    [
      "Transfer-Encoding on HTTP/1.0",
      { version: "1.0", headers: ["Transfer-Encoding", "chunked"] },
      400,
      "Transfer-Encoding is not allowed in HTTP/1.0",
    ],
    [
      "a coding other than chunked",
      { headers: ["Host", "h", "Transfer-Encoding", "gzip, chunked"] },
      501,
      "Unsupported transfer coding",
    ],
    [
      "chunked twice, in two fields (joined as one list)",
      { headers: ["Host", "h", "Transfer-Encoding", "chunked", "transfer-encoding", "chunked"] },
      501,
      "Unsupported transfer coding",
    ],
  ] as const)("%s", (_name, fields, status, reason) => {
    expect(refusal(request(fields))).toEqual({ status, reason });
  });

  it.each([
    ["OPTIONS *", { method: "OPTIONS", url: "*" }],
    ["an absolute http target", { url: "http://example.test/x?y" }],
    ["an absolute HTTPS target, any case", { url: "HTTPS://example.test" }],
    ["no Host on HTTP/1.0", { version: "1.0", headers: [] }],
    [
      "Transfer-Encoding: chunked, any case and space",
      { headers: ["Host", "h", "Transfer-Encoding", " Chunked "] },
    ],
    [
      "names of other lengths that only look alike",
      { headers: ["Host", "h", "Hosts", "x", "Content-Types", "y"] },
    ],
    [
      "another field of Content-Type's length",
      { headers: ["Host", "h", "Content-Type", "a/b", "X-Request-Id", "1"] },
    ],
  ] as const)("passes %s", (_name, fields) => {
    expect(refusal(request(fields))).toBeNull();
  });
});

describe("what the screening learns about a request that passes", () => {
  const screen = (headers: string[]): Screening => {
    const screening: Screening = { chunked: true, body: true };
    expect(
      requestRefusal(
        request({ method: "POST", headers: ["Host", "h", ...headers] }),
        SETTINGS,
        screening,
      ),
    ).toBeNull();
    return screening;
  };

  it("no body: neither Content-Length nor Transfer-Encoding, or a Content-Length of 0", () => {
    expect(screen([])).toEqual({ chunked: false, body: false });
    expect(screen(["Content-Length", "0"])).toEqual({ chunked: false, body: false });
  });

  it("a body: a Content-Length other than 0 (the first of several), or chunked", () => {
    expect(screen(["Content-Length", "5"])).toEqual({ chunked: false, body: true });
    expect(screen(["Content-Length", "5", "Content-Length", "0"])).toEqual({
      chunked: false,
      body: true,
    });
    expect(screen(["Transfer-Encoding", "chunked"])).toEqual({ chunked: true, body: true });
  });
});

describe("forbiddenTrailer", () => {
  it("names the first refused field as the client spelt it, in any case", () => {
    expect(forbiddenTrailer(["X-Checksum", "1", "HOST", "a", "Cookie", "b"])).toBe("HOST");
    expect(forbiddenTrailer(["If-Match", '"x"'])).toBe("If-Match");
    expect(forbiddenTrailer(["if-none-match", "*"])).toBe("if-none-match");
  });

  it("lets fields about the content through, and reads only names (not values)", () => {
    expect(forbiddenTrailer([])).toBeNull();
    expect(forbiddenTrailer(["Content-Type", "host", "X-Checksum", "authorization"])).toBeNull();
    expect(forbiddenTrailer(["Xif-Match", "1"])).toBeNull();
  });
});

/** The Duplex Node hands the guard's listeners, as far as the guard uses it. */
class FakeSocket extends EventEmitter {
  writable = true;
  sent: string | undefined;
  ended = false;
  destroyed = false;
  destroyedSoon = false;
  remoteAddress: string | undefined = "192.0.2.7";
  end(data?: string, callback?: () => void): void {
    this.sent = data;
    this.ended = true;
    callback?.();
  }
  destroy(): void {
    this.destroyed = true;
  }
  destroySoon(): void {
    this.destroyedSoon = true;
  }
}

/** A ServerResponse as the guard reads it: its state, and the events it waits for. */
class FakeResponse extends EventEmitter {
  shouldKeepAlive = true;
  headersSent = false;
  writableFinished = false;
  destroyed = false;
  socket: FakeSocket | null;
  constructor(
    readonly req: IncomingMessage & { complete: boolean },
    socket: FakeSocket,
  ) {
    super();
    this.socket = socket;
  }
}

/** A guard, its log, and a request it let through on `socket` (so it is the socket's last). */
function guarded(headers: string[] = ["Host", "h"], socket = new FakeSocket()) {
  const file = new MemoryLogFile();
  const guard = createRequestGuard(SETTINGS, new Logger(file, "debug"));
  const incoming = Object.assign(new EventEmitter(), request({ method: "POST", headers }), {
    socket,
    complete: false,
    rawTrailers: [] as string[],
  }) as unknown as IncomingMessage & { complete: boolean };
  const response = new FakeResponse(incoming, socket);
  expect(guard.refuse(incoming, response as unknown as ServerResponse)).toBe(false);
  return { guard, socket, incoming, response, log: () => file.text };
}

const parseError = (code: string, message = `Parse Error: ${code}`) =>
  Object.assign(new Error(message), { code });

describe("a parse error llhttp reports (clientError)", () => {
  it.each([
    ["HPE_HEADER_OVERFLOW", "x", 431, "Request header fields too large"],
    ["ERR_HTTP_REQUEST_TIMEOUT", "x", 408, "Request timeout"],
    [
      "HPE_INVALID_TRANSFER_ENCODING",
      "Request has invalid `Transfer-Encoding`",
      501,
      "Unsupported transfer coding",
    ],
    [
      "HPE_INVALID_TRANSFER_ENCODING",
      "Transfer-Encoding can't be present with Content-Length",
      400,
      "Invalid Transfer-Encoding",
    ],
    ["HPE_INVALID_METHOD", "Invalid method encountered", 400, "Bad Request"],
  ])("%s (%s): %i, explained, and the connection closed", (code, message, status, reason) => {
    const file = new MemoryLogFile();
    const guard = createRequestGuard(SETTINGS, new Logger(file, "debug"));
    const socket = new FakeSocket();
    guard.onClientError(parseError(code, message), socket as unknown as Duplex);
    const response = parseResponse(Buffer.from(socket.sent ?? "", "latin1"));
    expect(response.statusLine).toBe(`HTTP/1.1 ${status} ${STATUS_CODES[status]}`);
    expect([response.header("connection"), response.header("content-type")]).toEqual([
      "close",
      "text/plain; charset=utf-8",
    ]);
    expect(response.body.toString()).toBe(`${reason}\n`);
    expect(response.header("content-length")).toBe(String(reason.length + 1));
    expect(file.text).toContain(
      `[WARNING] Invalid request from ip=192.0.2.7: ${reason} (${code}: ${message})\n`,
    );
  });

  it.each(["HPE_CLOSED_CONNECTION", "ECONNRESET", "EPIPE"])(
    "%s: the client is gone; the connection ends without a word",
    (code) => {
      const file = new MemoryLogFile();
      const guard = createRequestGuard(SETTINGS, new Logger(file, "debug"));
      const socket = new FakeSocket();
      guard.onClientError(parseError(code, "read failed"), socket as unknown as Duplex);
      expect([socket.ended, socket.sent]).toEqual([true, undefined]);
      expect(file.text).toContain(`[DEBUG] Client connection ended: ${code}\n`);
      expect(file.text).not.toContain("WARNING");
    },
  );

  it("a socket that cannot be written any more is destroyed; an unknown address is said so", () => {
    const file = new MemoryLogFile();
    const guard = createRequestGuard(SETTINGS, new Logger(file, "debug"));
    const socket = new FakeSocket();
    socket.writable = false;
    socket.remoteAddress = undefined;
    guard.onClientError(parseError("HPE_INVALID_METHOD"), socket as unknown as Duplex);
    expect([socket.destroyed, socket.ended]).toEqual([true, false]);
    expect(file.text).toContain("Invalid request from ip=unknown: Bad Request");
  });

  it("after a pipelined response still being written: answered once it is out, once", () => {
    const { guard, socket, incoming, response } = guarded();
    incoming.complete = true;
    guard.onClientError(parseError("HPE_INVALID_METHOD"), socket as unknown as Duplex);
    expect(socket.ended).toBe(false);
    response.emit("finish");
    expect(socket.sent).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    socket.sent = undefined;
    response.emit("close");
    expect(socket.sent).toBeUndefined();
  });

  it("after a pipelined response that was dropped instead of finished: answered all the same", () => {
    const { guard, socket, incoming, response } = guarded();
    incoming.complete = true;
    guard.onClientError(parseError("HPE_INVALID_METHOD"), socket as unknown as Duplex);
    response.emit("close");
    expect(socket.sent).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  it("after a response that ends the connection: ignored", () => {
    const { guard, socket, incoming, response, log } = guarded();
    incoming.complete = true;
    response.shouldKeepAlive = false;
    guard.onClientError(parseError("HPE_INVALID_METHOD"), socket as unknown as Duplex);
    expect([socket.ended, socket.destroyed]).toEqual([false, false]);
    expect(log()).toContain("[DEBUG] Ignored HPE_INVALID_METHOD after a closing response\n");
  });

  it("after a response that is settled (all sent, request complete): answered at once", () => {
    const { guard, socket, incoming, response } = guarded(["Host", "h", "Content-Length", "5"]);
    incoming.complete = true;
    guard.settled(incoming);
    guard.onClientError(parseError("HPE_INVALID_METHOD"), socket as unknown as Duplex);
    expect(socket.sent).toMatch(/^HTTP\/1\.1 400 /);
    expect(response.listenerCount("finish")).toBe(0);
  });

  it("after a response to a request without a body, settled before its end was read: answered at once", () => {
    const { guard, socket, incoming } = guarded();
    guard.settled(incoming);
    guard.onClientError(parseError("HPE_INVALID_METHOD"), socket as unknown as Duplex);
    expect(socket.sent).toMatch(/^HTTP\/1\.1 400 /);
  });

  it.each([
    ["its request is still sending its body", { complete: false }, {}],
    ["it waits behind a pipelined one", { complete: true }, { socket: null }],
    ["it closes the connection", { complete: true }, { shouldKeepAlive: false }],
  ])("a response is still remembered when settled while %s", (_what, request, response) => {
    const tracked = guarded(["Host", "h", "Content-Length", "5"]);
    Object.assign(tracked.incoming, request);
    Object.assign(tracked.response, response);
    tracked.guard.settled(tracked.incoming);
    tracked.incoming.complete = true;
    tracked.response.socket = tracked.socket;
    tracked.guard.onClientError(
      parseError("HPE_INVALID_METHOD"),
      tracked.socket as unknown as Duplex,
    );
    // Not answered at once: deferred behind the response, or ignored after a closing one.
    expect(tracked.socket.sent).toBeUndefined();
  });

  it("settling another request of the connection forgets nothing", () => {
    const { guard, socket, incoming } = guarded();
    incoming.complete = true;
    guard.settled({ socket } as unknown as IncomingMessage);
    guard.onClientError(parseError("HPE_INVALID_METHOD"), socket as unknown as Duplex);
    expect(socket.sent).toBeUndefined(); // still waits for the response being written
  });
});

describe("a request body whose framing breaks (clientError while the request is incomplete)", () => {
  it("before the answer: 400, and the connection is destroyed once it is sent", () => {
    const { guard, socket, log } = guarded(["Host", "h", "Transfer-Encoding", "chunked"]);
    guard.onClientError(parseError("HPE_INVALID_CHUNK_SIZE"), socket as unknown as Duplex);
    expect(socket.sent).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(socket.destroyed).toBe(true);
    expect(log()).toContain("Invalid request from ip=192.0.2.7: Bad Request");
  });

  it("after the whole answer: the connection ends after it, nothing more is said", () => {
    const { guard, socket, response, log } = guarded(["Host", "h", "Transfer-Encoding", "chunked"]);
    Object.assign(response, { headersSent: true, writableFinished: true });
    guard.onClientError(parseError("HPE_INVALID_CHUNK_SIZE"), socket as unknown as Duplex);
    expect([socket.sent, socket.destroyed, socket.destroyedSoon]).toEqual([undefined, false, true]);
    expect(response.shouldKeepAlive).toBe(false);
    expect(log()).toContain(
      "[DEBUG] The request body's framing broke after the response: connection closed after it\n",
    );
  });

  it("during an answer to an app that did not read the body: the answer is finished first", () => {
    const { guard, socket, response } = guarded(["Host", "h", "Transfer-Encoding", "chunked"]);
    response.headersSent = true;
    guard.onClientError(parseError("HPE_INVALID_CHUNK_SIZE"), socket as unknown as Duplex);
    expect([socket.destroyed, socket.destroyedSoon]).toEqual([false, false]);
    response.emit("close");
    expect([socket.destroyed, socket.destroyedSoon]).toEqual([false, true]);
    // A second broken read on the same connection changes nothing.
    guard.onClientError(parseError("HPE_INVALID_CHUNK_SIZE"), socket as unknown as Duplex);
    expect(socket.destroyed).toBe(false);
  });

  it.each(["data", "readable"])(
    "during an answer to an app that reads the body (a %s listener): the connection is dropped, failing the read",
    (event) => {
      const { guard, socket, incoming, response } = guarded([
        "Host",
        "h",
        "Transfer-Encoding",
        "chunked",
      ]);
      response.headersSent = true;
      incoming.on(event, () => {});
      guard.onClientError(parseError("HPE_INVALID_CHUNK_SIZE"), socket as unknown as Duplex);
      expect([socket.destroyed, socket.destroyedSoon]).toEqual([true, false]);
    },
  );
});

describe("trailers refused at the end of a chunked body", () => {
  const withTrailer = () => {
    const tracked = guarded(["Host", "h", "Transfer-Encoding", "chunked"]);
    (tracked.incoming as unknown as { rawTrailers: string[] }).rawTrailers = ["Cookie", "a=b"];
    return tracked;
  };

  it("before the answer: the answer closes the connection (the app's read fails on its own)", () => {
    const { incoming, response, socket, log } = withTrailer();
    incoming.emit("end");
    expect(response.shouldKeepAlive).toBe(false);
    expect(socket.destroyedSoon).toBe(false);
    expect(log()).not.toContain("Trailer field");
  });

  it("after the answer was sent: logged, and the connection ends after it", () => {
    const { incoming, response, socket, log } = withTrailer();
    Object.assign(response, { headersSent: true, writableFinished: true });
    incoming.emit("end");
    expect(socket.destroyedSoon).toBe(true);
    expect(log()).toContain(
      "Invalid request from ip=192.0.2.7: Trailer field Cookie is not allowed; the response was already sent: connection closed after it\n",
    );
  });

  it("after the head, while the answer is still being written: the connection ends after it", () => {
    const { incoming, response, socket } = withTrailer();
    response.headersSent = true;
    incoming.emit("end");
    expect(socket.destroyedSoon).toBe(false);
    response.emit("close");
    expect(socket.destroyedSoon).toBe(true);
  });
});

describe("what Node's own listeners refuse", () => {
  it("an Expect other than 100-continue: 417, and the log says which", async () => {
    const gateway = await startGateway(() => [], {});
    try {
      const raw = await rawRequest(
        gateway.port,
        "GET / HTTP/1.1\r\nHost: h\r\nExpect: teapot\r\nConnection: close\r\n\r\n",
      );
      const response = parseResponse(raw);
      expect(response.statusLine).toBe("HTTP/1.1 417 Expectation Failed");
      expect(response.body.toString()).toBe("Expectation Failed\n");
      expect(gateway.log.text).toContain(
        "Invalid request from ip=127.0.0.1: Unsupported expectation 'teapot'\n",
      );
    } finally {
      await gateway.close();
    }
  });

  it("CONNECT: 400, this is not a forward proxy", async () => {
    const gateway = await startGateway(() => [], {});
    try {
      const raw = await rawRequest(
        gateway.port,
        "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n",
      );
      const response = parseResponse(raw);
      expect(response.statusLine).toBe("HTTP/1.1 400 Bad Request");
      expect(response.body.toString()).toBe("CONNECT is not supported\n");
      expect(gateway.log.text).toContain(
        "Invalid request from ip=127.0.0.1: CONNECT is not supported: this is not a forward proxy\n",
      );
    } finally {
      await gateway.close();
    }
  });
});
