import { describe, expect, it } from "vitest";
import {
  checkHeader,
  checkStatus,
  environKeyOf,
  forbidsBody,
  headersProblem,
  statusProblem,
  unquoteToNative,
} from "../../../tsgi/rules.js";

describe("checkStatus", () => {
  const table: [unknown, string | null][] = [
    ["200 OK", null],
    ["404 Not Found", null],
    ["599 ", null],
    ["200 Caf\u00e9", null],
    [200, "status-not-string"],
    ["200", "status-format"],
    ["200OK", "status-format"],
    ["099 Low", "status-format"],
    ["2000 OK", "status-format"],
    [" 200 OK", "status-format"],
    ["200 OK\r\n", "status-format"],
    ["200 \u20ac", "status-not-latin1"],
  ];
  for (const [status, rule] of table)
    it(`${JSON.stringify(status)} → ${rule ?? "valid"}`, () => {
      expect(checkStatus(status)?.rule ?? null).toBe(rule);
      expect(statusProblem(status) === null).toBe(rule === null);
    });
});

describe("checkHeader", () => {
  const table: [unknown, string | null][] = [
    [["Content-Type", "text/plain"], null],
    [["X-Empty", ""], null],
    [["X-Tab", "a\tb"], null],
    [["X-Latin1", "caf\u00e9"], null],
    [["Set-Cookie", "a=1; Path=/"], null],
    [["Content-Type"], "header-not-pair"],
    ["Content-Type: text/plain", "header-not-pair"],
    [["Content-Length", 5], "header-not-string"],
    [["Content Type", "x"], "header-name"],
    [["Content-Type:", "x"], "header-name"],
    [["", "x"], "header-name"],
    [["X-Euro", "\u20ac"], "header-not-latin1"],
    [["X-Split", "a\r\nb"], "header-control-character"],
    [["X-Nul", "\u0000"], "header-control-character"],
    [["X-Del", "\u007f"], "header-control-character"],
    [["connection", "close"], "hop-by-hop-header"],
    [["Keep-Alive", "timeout=5"], "hop-by-hop-header"],
    [["Upgrade", "websocket"], "hop-by-hop-header"],
  ];
  for (const [header, rule] of table)
    it(`${JSON.stringify(header)} → ${rule ?? "valid"}`, () =>
      expect(checkHeader(header)?.rule ?? null).toBe(rule));

  it("each problem's message names the value that broke the rule", () => {
    expect(checkStatus(200)?.message).toBe('status must be a string like "200 OK", got number');
    expect(checkStatus("200 \u20ac")?.message).toBe(
      'status "200 \u20ac" is not Latin-1 (a native string)',
    );
    expect(checkHeader(["Content-Type"])?.message).toBe(
      'each header must be a [name, value] pair, got ["Content-Type"]',
    );
    expect(checkHeader(["Content-Length", 5])?.message).toBe(
      'header name and value must be strings: ["Content-Length",5]',
    );
    expect(checkHeader(["Content-Length", "5x"])?.message).toBe(
      'Content-Length "5x" is not a number (a decimal count of bytes)',
    );
  });

  it("headersProblem wants an array and checks every header", () => {
    expect(headersProblem({})).toMatch(/array/);
    expect(
      headersProblem([
        ["A", "1"],
        ["B", "\n"],
      ]),
    ).toMatch(/control/);
    expect(headersProblem([["A", "1"]])).toBeNull();
  });
});

describe("forbidsBody", () => {
  it("1xx, 204 and 304 have no body; others do", () => {
    expect([100, 101, 204, 304].map(forbidsBody)).toEqual([true, true, true, true]);
    expect([200, 201, 205, 301, 404, 500].map(forbidsBody)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe("environKeyOf", () => {
  const table: [string, string | null][] = [
    ["User-Agent", "HTTP_USER_AGENT"],
    ["host", "HTTP_HOST"],
    ["X-Forwarded-For", "HTTP_X_FORWARDED_FOR"],
    ["Content-Type", "CONTENT_TYPE"],
    ["content-length", "CONTENT_LENGTH"],
    ["X_Forwarded_For", null],
    ["Content_Type", null],
  ];
  for (const [name, key] of table)
    it(`${name} → ${key}`, () => expect(environKeyOf(name)).toBe(key));
});

describe("unquoteToNative", () => {
  const table: [string, string][] = [
    ["/plain", "/plain"],
    ["/a%20b", "/a b"],
    ["/caf%C3%A9", "/caf\u00c3\u00a9"],
    ["/%ff%FF", "/\u00ff\u00ff"],
    ["/a%2Fb", "/a/b"],
    ["/100%", "/100%"],
    ["/%zz", "/%zz"],
    ["/%4", "/%4"],
  ];
  for (const [raw, native] of table)
    it(`${raw} → ${JSON.stringify(native)}`, () => expect(unquoteToNative(raw)).toBe(native));
});
