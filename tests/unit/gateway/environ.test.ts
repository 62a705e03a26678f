/**
 * From raw request bytes to the environ: each row sends one request over a real socket and
 * compares the environ the app received.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Application, Environ } from "../../../tsgi/types.js";
import { validate } from "../../../tsgi/validate.js";
import type { ServerSettings } from "../../../gateway/server.js";
import {
  parseResponse,
  rawRequest,
  startGateway,
  type RunningGateway,
} from "../../helpers/gateway.js";

/** An app that remembers the environ of the last request (a copy: the app may be validated). */
function recorder() {
  const seen: Environ[] = [];
  const app: Application = (environ, start) => {
    seen.push({ ...environ });
    start("200 OK", [["Content-Type", "text/plain"]]);
    return [];
  };
  return { app: validate(app), seen };
}

async function environFor(
  gateway: RunningGateway,
  seen: Environ[],
  request: string,
): Promise<Environ> {
  const before = seen.length;
  const raw = await rawRequest(gateway.port, request);
  expect(parseResponse(raw).code, raw.toString("latin1")).toBe(200);
  expect(seen.length).toBe(before + 1);
  return seen[before]!;
}

const GET = (target: string, headers = "", version = "1.1") =>
  `GET ${target} HTTP/${version}\r\nHost: example.com\r\n${headers}Connection: close\r\n\r\n`;

describe("environ from a request (no root path, loopback trusted)", () => {
  const { app, seen } = recorder();
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway(app);
  });
  afterAll(() => gateway.close());

  const table: [string, string, Record<string, unknown>][] = [
    [
      "plain path and query",
      GET("/hello?name=x"),
      {
        REQUEST_METHOD: "GET",
        PATH_INFO: "/hello",
        QUERY_STRING: "name=x",
        SCRIPT_NAME: "",
        SERVER_PROTOCOL: "HTTP/1.1",
      },
    ],
    [
      "percent-decoding gives Latin-1 bytes; %2F becomes /; the query stays raw",
      GET("/caf%C3%A9/%FF/a%2Fb?q=caf%C3%A9+%2F"),
      {
        PATH_INFO: "/caf\u00c3\u00a9/\u00ff/a/b",
        QUERY_STRING: "q=caf%C3%A9+%2F",
        "gateway.raw_uri": "/caf%C3%A9/%FF/a%2Fb?q=caf%C3%A9+%2F",
      },
    ],
    ["no query", GET("/x"), { PATH_INFO: "/x", QUERY_STRING: "" }],
    ["an empty query after ?", GET("/x?"), { PATH_INFO: "/x", QUERY_STRING: "" }],
    [
      "absolute-form target (what a proxy sends)",
      GET("http://example.com/a%20b?x=1"),
      { PATH_INFO: "/a b", QUERY_STRING: "x=1" },
    ],
    ["absolute-form without a path", GET("http://example.com"), { PATH_INFO: "/" }],
    // A fragment is never sent by a browser, but a hand-written client may: it is not the path's
    // or the query's (RFC 3986 §3.5).
    ["a fragment after the query", GET("/p?q=1#frag"), { PATH_INFO: "/p", QUERY_STRING: "q=1" }],
    ["a ? inside the fragment", GET("/p#frag?x=1"), { PATH_INFO: "/p", QUERY_STRING: "" }],
    [
      "absolute-form with a query and no path",
      GET("http://example.com?x=1"),
      { PATH_INFO: "/", QUERY_STRING: "x=1" },
    ],
    [
      "OPTIONS *",
      "OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
      { REQUEST_METHOD: "OPTIONS", PATH_INFO: "" },
    ],
    [
      "Content-Type and Content-Length lose the HTTP_ prefix",
      "POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
      {
        REQUEST_METHOD: "POST",
        CONTENT_TYPE: "text/plain",
        CONTENT_LENGTH: "3",
        HTTP_CONTENT_TYPE: undefined,
        HTTP_CONTENT_LENGTH: undefined,
      },
    ],
    [
      "repeated headers are joined with ', '",
      GET("/", "Accept: text/html\r\nX-Multi: a\r\nAccept: */*\r\nX-Multi: b\r\n"),
      { HTTP_ACCEPT: "text/html, */*", HTTP_X_MULTI: "a, b" },
    ],
    [
      "header names with _ are dropped (they would collide with the - form)",
      GET("/", "X_Forwarded_For: 6.6.6.6\r\nX-Real: 1\r\n"),
      { HTTP_X_FORWARDED_FOR: undefined, HTTP_X_REAL: "1" },
    ],
    [
      "server and client addresses; HTTP/1.0 request",
      GET("/", "", "1.0"),
      {
        SERVER_NAME: "127.0.0.1",
        SERVER_PROTOCOL: "HTTP/1.0",
        REMOTE_ADDR: "127.0.0.1",
        HTTP_HOST: "example.com",
        "tsgi.url_scheme": "http",
        "tsgi.version": [1, 0],
        "tsgi.multithread": false,
        "tsgi.multiprocess": false,
        "tsgi.run_once": false,
        "tsgi.input_terminated": true,
      },
    ],
  ];
  for (const [name, request, expected] of table)
    it(name, async () => {
      const environ = await environFor(gateway, seen, request);
      for (const [key, value] of Object.entries(expected))
        expect(environ[key as "PATH_INFO"], key).toEqual(value);
    });

  it("maps every header name right past the key cache's bounds: many names of one length, long names", async () => {
    // Twelve names of 8 characters (a length bucket holds 8), one of 80 (longer than any cached),
    // and X_Abc_de, which has no key, after X-Abc-de, whose key it would collide with. Twice:
    // the second request reads what the first one cached.
    const sameLength = Array.from({ length: 12 }, (_, i) => `X-Len-${String(i).padStart(2, "0")}`);
    const long = `X-${"L".repeat(78)}`;
    const headers = [
      ...sameLength.map((name, i) => `${name}: ${i}\r\n`),
      `${long}: long\r\n`,
      "X-Abc-de: kept\r\nX_Abc_de: dropped\r\n",
    ].join("");
    for (let round = 0; round < 2; round++) {
      const environ: Record<string, unknown> = {
        ...(await environFor(gateway, seen, GET("/", headers))),
      };
      sameLength.forEach((name, i) =>
        expect(environ[`HTTP_${name.toUpperCase().replaceAll("-", "_")}`], name).toBe(String(i)),
      );
      expect(environ[`HTTP_X_${"L".repeat(78)}`]).toBe("long");
      expect(environ.HTTP_X_ABC_DE).toBe("kept");
    }
  });

  it("SERVER_PORT and REMOTE_PORT are the real ports", async () => {
    const environ = await environFor(gateway, seen, GET("/"));
    expect(environ.SERVER_PORT).toBe(String(gateway.port));
    expect(environ.REMOTE_PORT).toMatch(/^[0-9]+$/);
    expect(environ.SERVER_SOFTWARE).toMatch(/^foobar/);
  });
});

describe("environ under a root path", () => {
  const { app, seen } = recorder();
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway(app, { root_path: "/app" });
  });
  afterAll(() => gateway.close());

  const table: [string, string, string][] = [
    ["/app/x/y", "/app", "/x/y"],
    ["/app", "/app", ""],
    ["/app/", "/app", "/"],
    // A proxy that strips the prefix: the app still runs under it.
    ["/x", "/app", "/x"],
    // Not under /app even though it starts with the same letters.
    ["/application", "/app", "/application"],
  ];
  for (const [target, scriptName, pathInfo] of table)
    it(`${target} → SCRIPT_NAME ${scriptName}, PATH_INFO ${JSON.stringify(pathInfo)}`, async () => {
      const environ = await environFor(gateway, seen, GET(target));
      expect([environ.SCRIPT_NAME, environ.PATH_INFO]).toEqual([scriptName, pathInfo]);
    });
});

describe("X-Forwarded-For / X-Forwarded-Proto", () => {
  const forwarded = GET(
    "/",
    "X-Forwarded-For: 203.0.113.7, 127.0.0.1\r\nX-Forwarded-Proto: https\r\n",
  );

  async function withProxies(allow: string) {
    const { app, seen } = recorder();
    const settings: Partial<ServerSettings> = { forwarded_allow_ips: allow };
    const gateway = await startGateway(app, settings);
    try {
      return await environFor(gateway, seen, forwarded);
    } finally {
      await gateway.close();
    }
  }

  it("from a trusted peer: the client's address and scheme replace the peer's", async () => {
    const environ = await withProxies("127.0.0.1");
    expect(environ.REMOTE_ADDR).toBe("203.0.113.7");
    expect(environ.REMOTE_PORT).toBeUndefined();
    expect(environ["gateway.peer_addr"]).toBe("127.0.0.1");
    expect(environ["tsgi.url_scheme"]).toBe("https");
  });

  it("from an untrusted peer: ignored (the headers stay plain HTTP_ keys)", async () => {
    const environ = await withProxies("10.0.0.1");
    expect(environ.REMOTE_ADDR).toBe("127.0.0.1");
    expect(environ["tsgi.url_scheme"]).toBe("http");
    expect(environ.HTTP_X_FORWARDED_FOR).toBe("203.0.113.7, 127.0.0.1");
    expect(environ["gateway.peer_addr"]).toBeUndefined();
  });

  it("a trusted peer with a bad X-Forwarded-Proto gets a 400, and the app is not called", async () => {
    const { app, seen } = recorder();
    const gateway = await startGateway(app);
    try {
      const raw = await rawRequest(gateway.port, GET("/", "X-Forwarded-Proto: gopher\r\n"));
      expect(parseResponse(raw).code).toBe(400);
      expect(seen).toHaveLength(0);
    } finally {
      await gateway.close();
    }
  });
});
