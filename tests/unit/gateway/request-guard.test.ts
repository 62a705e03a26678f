/**
 * gateway/request-guard.ts's screening on its own: the limits at their exact boundaries, what
 * each refusal says, and what the screening learns about a request that passes. (The hostile
 * corpus sends the same kinds of requests over a socket, one case each, mostly well past a
 * limit.)
 */
import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import {
  forbiddenTrailer,
  requestRefusal,
  type GuardSettings,
  type Screening,
} from "../../../gateway/request-guard.js";

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
