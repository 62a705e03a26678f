/**
 * The demo app (app/index.ts) under the real gateway, validated on both sides of its outer
 * layer: every path it serves, and what a broken stylesheet or body does to a live server.
 */
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDemo } from "../../../app/index.js";
import { urlMap } from "../../../app/routing.js";
import { xslt } from "../../../app/xslt.js";
import { validate } from "../../../tsgi/validate.js";
import type { Application } from "../../../tsgi/types.js";
import {
  listen,
  startGateway,
  type Listening,
  type RunningGateway,
} from "../../helpers/gateway.js";

let upstream: Listening;
let demo: RunningGateway;
let demoWithoutProxy: RunningGateway;

beforeAll(async () => {
  upstream = await listen((request, response) => {
    response.writeHead(200, { "Content-Type": "text/plain" });
    response.end(`upstream saw ${request.url}`);
  });
  demo = await startGateway(validate(createDemo({ PROXY_UPSTREAMS: upstream.url })));
  demoWithoutProxy = await startGateway(validate(createDemo({})));
});

afterAll(async () => {
  await Promise.all([upstream, demo, demoWithoutProxy].map((server) => server?.close()));
});

describe("the demo app", () => {
  it("serves hello at /", async () => {
    const response = await fetch(demo.url + "/");
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("Hello");
  });

  it("says Vary: Accept on both answers at / (HTML for browsers, text for the rest)", async () => {
    for (const accept of ["text/html,application/xhtml+xml", "*/*", undefined]) {
      const response = await fetch(demo.url + "/", {
        headers: accept === undefined ? {} : { Accept: accept },
      });
      await response.arrayBuffer();
      expect(response.headers.get("content-type"), String(accept)).toMatch(
        accept?.startsWith("text/html") ? /^text\/html/ : /^text\/plain/,
      );
      expect(response.headers.get("vary"), String(accept)).toBe("Accept");
    }
  });

  it("answers 404 for a path nothing is mounted at", async () => {
    expect((await fetch(demo.url + "/no/such/page")).status).toBe(404);
  });

  it("serves the Fastify API at /api", async () => {
    const hello = await fetch(demo.url + "/api/hello?name=demo");
    expect(await hello.json()).toEqual({ greeting: "Hello, demo!" });
    const echo = await fetch(demo.url + "/api/echo", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message: "m" }),
    });
    expect([echo.status, await echo.json()]).toEqual([201, { echo: ["m"] }]);
    const invalid = await fetch(demo.url + "/api/items/zero");
    expect(invalid.status).toBe(400);
  });

  it("serves a Hono app at /hono and an Express app at /express, each seeing its mount", async () => {
    for (const [mount, adapter] of [
      ["/hono", "fetch-adapter"],
      ["/express", "express-adapter"],
    ]) {
      const index = (await (await fetch(`${demo.url}${mount}/`)).json()) as {
        routes: string[];
        trail: string[];
      };
      expect(index.routes[0]).toBe(`GET ${mount}/hello?name=`);
      expect(index.trail).toEqual(["router", adapter]);
      const hello = await fetch(`${demo.url}${mount}/hello?name=demo`);
      expect(await hello.text()).toBe("Hello, demo!");
    }
  });

  it("shows the adapters in the hello page's trail when it is reached through Hono", async () => {
    const response = await fetch(demo.url + "/hono/page", { headers: { Accept: "text/html" } });
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html).toMatch(
      /id="middleware-trail"><code>router<\/code> → <code>fetch-adapter<\/code> → <code>to-fetch<\/code> → app/,
    );
  });

  it("renders the environ through XSLT at /environ, with the middleware trail", async () => {
    const response = await fetch(demo.url + "/environ?x=1");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await response.text();
    expect(html).toContain("<h1>The environ of this request</h1>");
    expect(html).toContain('<a href="/environ.xml">');
    expect(html).toContain("<li>router</li><li>xslt</li>");
    expect(html).toMatch(/<td class="name">QUERY_STRING<\/td><td class="value">x=1<\/td>/);
  });

  it("serves the raw XML at /environ.xml", async () => {
    const response = await fetch(demo.url + "/environ.xml");
    expect(response.headers.get("content-type")).toBe("application/xml; charset=utf-8");
    const xml = await response.text();
    expect(xml).toContain('<environ script-name="/environ.xml" path-info=""');
    // Who answered: the host (the container, in Docker) and the worker process.
    expect(xml).toMatch(new RegExp(` hostname="${hostname()}" worker-pid="\\d+">`));
  });

  it("forwards /proxy to PROXY_UPSTREAMS and reports their health", async () => {
    const response = await fetch(demo.url + "/proxy/some/where?q=1");
    expect(await response.text()).toBe("upstream saw /some/where?q=1");
    const health = await fetch(demo.url + "/proxy-health");
    expect(await health.json()).toEqual([
      { url: upstream.url, healthy: true, failures: 0, served: 1, lastError: null },
    ]);
  });

  it("explains how to configure the proxy when PROXY_UPSTREAMS is unset", async () => {
    const response = await fetch(demoWithoutProxy.url + "/proxy/x");
    expect(response.status).toBe(503);
    expect(await response.text()).toContain("PROXY_UPSTREAMS=");
  });
});

describe("XSLT failures under the gateway", () => {
  let server: RunningGateway;
  const xmlApp =
    (body: string): Application =>
    (_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "application/xml"]]);
      return [new TextEncoder().encode(body)];
    };

  beforeAll(async () => {
    server = await startGateway(
      validate(
        urlMap({
          "/bad-stylesheet": xslt("<xsl:stylesheet")(xmlApp("<a/>")),
          "/bad-body": xslt(
            '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"/>',
          )(xmlApp("this is not XML")),
          "/": xmlApp("<fine/>"),
        }),
      ),
    );
  });
  afterAll(() => server.close());

  it.each([
    ["/bad-stylesheet", "stylesheet is not well-formed XML"],
    ["/bad-body", "response body is not well-formed XML"],
  ])("%s gives a 500, a clear log line, and the worker keeps serving", async (path, why) => {
    const response = await fetch(server.url + path);
    expect(response.status).toBe(500);
    expect(await response.text()).toBe("Internal Server Error\n");
    expect(server.log.text).toContain(`xslt: GET ${path}: the ${why}`);
    expect((await fetch(server.url + "/")).status).toBe(200);
  });
});
