/**
 * No framework banner reaches a client: every part of the demo (Fastify, Hono, Express, the
 * proxy, the router's 404, a framework's own error page) and the gateway's own answers (a
 * refused request, a parse error) carry no `X-Powered-By`, and a `Server` header that names the
 * gateway without its version. The proxy's upstream announces itself; its banners stop there too.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDemo } from "../../../app/index.js";
import { SERVER_HEADER, VERSION } from "../../../gateway/version.js";
import {
  listen,
  rawRequest,
  parseResponse,
  startGateway,
  type Listening,
} from "../../helpers/gateway.js";

let upstream: Listening;
let demo: Listening;

beforeAll(async () => {
  upstream = await listen((_request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(200, { "X-Powered-By": "PHP/5.4", Server: "Apache/2.2.3" });
    response.end("upstream\n");
  });
  demo = await startGateway(createDemo({ PROXY_UPSTREAMS: upstream.url }));
});
afterAll(async () => {
  await demo.close();
  await upstream.close();
});

/** The headers that name the software that answered. */
function banners(header: (name: string) => string | null | undefined) {
  return { server: header("server") ?? null, poweredBy: header("x-powered-by") ?? null };
}

describe("no framework banner reaches the client", () => {
  it.each([
    ["GET", "/", undefined],
    ["GET", "/api/", undefined],
    ["GET", "/hono/", undefined],
    ["GET", "/express/", undefined],
    ["GET", "/express/hello?name=x", undefined],
    ["POST", "/express/echo", "{not json"], // Express's own 400 page
    ["GET", "/express/no-such-route", undefined], // Express's own 404 page
    ["GET", "/no-such-page", undefined],
  ])("%s %s", async (method, path, body) => {
    const response = await fetch(demo.url + path, {
      method,
      body,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
    });
    await response.arrayBuffer();
    expect(banners((name) => response.headers.get(name))).toEqual({
      server: SERVER_HEADER,
      poweredBy: null,
    });
  });

  it("the proxy drops its upstream's banners (the gateway names itself instead)", async () => {
    const response = await fetch(demo.url + "/proxy/");
    await response.arrayBuffer();
    expect(response.status).toBe(200);
    expect(banners((name) => response.headers.get(name))).toEqual({
      server: SERVER_HEADER,
      poweredBy: null,
    });
  });

  it.each([
    ["a refused request (guard)", "GET / HTTP/1.1\r\n\r\n"], // no Host
    ["a parse error (llhttp)", "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"],
  ])("the gateway's own answer to %s", async (_what, bytes) => {
    const response = parseResponse(await rawRequest(demo.port, bytes));
    expect(response.code).toBe(400);
    expect(banners(response.header)).toEqual({ server: SERVER_HEADER, poweredBy: null });
  });

  it("the Server header has no version in it", () => {
    expect(SERVER_HEADER).not.toContain(VERSION);
  });
});
