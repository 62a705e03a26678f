/**
 * `toFetch`: a TSGI application served by a fetch-based server (`@hono/node-server`) answers
 * as it does on the gateway — the demo app itself (whose Hono and Express mounts then cross two
 * adapters), a POSTed body read from `tsgi.input`, a streamed body with write() and a generator,
 * repeated Set-Cookie, and an app that fails. The app runs under validate() on both servers, so
 * toFetch is checked as a TSGI server just as the gateway is.
 */
import { once } from "node:events";
import type { Server } from "node:http";
import { connect } from "node:net";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toFetch } from "../../../app/fetch-adapter.js";
import { createDemo } from "../../../app/index.js";
import { urlMap } from "../../../app/routing.js";
import type { Application } from "../../../tsgi/types.js";
import { validate } from "../../../tsgi/validate.js";
import { startGateway, type RunningGateway } from "../../helpers/gateway.js";
import { ask, baseUrl, closeServer } from "../../helpers/side-by-side.js";

const encode = (text: string) => new TextEncoder().encode(text);

/** Reads the whole body, answers with its size and its lines reversed. */
const reverseLines: Application = async (environ, startResponse) => {
  const lines = await environ["tsgi.input"].readlines();
  const text = lines
    .map((line) => Buffer.from(line).toString().trimEnd())
    .reverse()
    .join("\n");
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [encode(`${environ.CONTENT_LENGTH} bytes\n${text}\n`)];
};

/** A body in pieces: one through write(), the rest from an async generator. */
const streamed: Application = (_environ, startResponse) => {
  const write = startResponse("200 OK", [
    ["Content-Type", "text/plain"],
    ["Set-Cookie", "a=1; Path=/"],
    ["Set-Cookie", "b=2, with a comma; Path=/"],
  ]);
  void write(encode("written\n"));
  return (async function* () {
    for (const word of ["one\n", "two\n", "three\n"]) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      yield encode(word);
    }
  })();
};

/** The request headers as the app has them (HTTP_*, CONTENT_*), as JSON. */
const headerKeys: Application = (environ, startResponse) => {
  const keys = Object.entries(environ).filter(([key]) => /^(HTTP|CONTENT)_/.test(key));
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  return [encode(JSON.stringify(Object.fromEntries(keys.sort())))];
};

/** Sends `head` (a request without its blank line) as it is; the answer's body. */
async function rawBody(base: string, head: string): Promise<string> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  socket.end(`${head}\r\nConnection: close\r\n\r\n`);
  let text = "";
  for await (const chunk of socket) text += String(chunk);
  return text.slice(text.indexOf("\r\n\r\n") + 4);
}

const broken: Application = () => {
  throw new Error("this app always fails");
};

let fetchServer: Server;
let gateway: RunningGateway;
let fetchBase: string;

beforeAll(async () => {
  const app = () =>
    validate(
      urlMap({
        "/": createDemo({}),
        "/reverse": reverseLines,
        "/streamed": streamed,
        "/broken": broken,
        "/headers": headerKeys,
      }),
    );
  fetchServer = serve({ fetch: toFetch(app()), port: 0, hostname: "127.0.0.1" }) as Server;
  await once(fetchServer, "listening");
  fetchBase = baseUrl(fetchServer);
  gateway = await startGateway(app());
});

afterAll(async () => {
  await Promise.all([closeServer(fetchServer), gateway.close()]);
});

describe.each([
  ["the hello app", "/", {}],
  ["the Fastify API", "/api/hello?name=Ada", {}],
  ["Hono's streamed body, through fromFetch and back", "/hono/stream", {}],
  ["Express's two cookies", "/express/cookies", {}],
  ["Express's 404", "/express/nowhere", {}],
  ["the router's 404", "/no/such/thing", {}],
  ["a POSTed body", "/reverse", { method: "POST", body: "first\nsecond\nthird\n" }],
  ["write() and a generator, with two Set-Cookie", "/streamed", {}],
  ["an app that throws", "/broken", {}],
  ["HEAD", "/", { method: "HEAD" }],
] as [string, string, RequestInit][])("%s", (_name, path, init) => {
  it("answers on @hono/node-server as on the gateway", async () => {
    const [expected, actual] = await Promise.all([
      ask(gateway.url, path, init),
      ask(fetchBase, path, init),
    ]);
    for (const answer of [expected, actual])
      for (const header of answer.headers) header[1] = header[1].replace(/; Expires=[^;]*/, "");
    expect(actual).toEqual(expected);
  });
});

it("gives the app a complete environ for the fetch request", async () => {
  const response = await fetch(`${fetchBase}/environ.xml?q=caf%C3%A9`);
  const xml = await response.text();
  expect(response.status).toBe(200);
  expect(xml).toContain("foobar-toFetch");
  expect(xml).toMatch(/QUERY_STRING[\s\S]*q=caf%C3%A9/);
});

describe("request headers on @hono/node-server", () => {
  // Repeated, mixed-case and underscored names, a cookie: what the app sees of them on
  // @hono/node-server (whose untouched requests' headers toFetch reads off the Node request)
  // must be what it sees on the gateway — on the first request and on the ones after.
  const head = [
    "GET /headers HTTP/1.1",
    "Host: example.test",
    "X-Multi: a",
    "x-multi: b",
    "X-Under_score: dropped",
    "Cookie: a=1; b=2",
    "ACCEPT: */*",
  ].join("\r\n");

  it("are those the gateway gives", async () => {
    const expected = await rawBody(gateway.url, head);
    expect(JSON.parse(expected)).toMatchObject({ HTTP_X_MULTI: "a, b", HTTP_ACCEPT: "*/*" });
    for (let i = 0; i < 3; i++) expect(await rawBody(fetchBase, head)).toBe(expected);
  });

  it("include what a handler in front of toFetch changed in them", async () => {
    const handler = toFetch(headerKeys);
    const server = serve({
      fetch: (request, env) => {
        request.headers.set("x-added", "yes");
        request.headers.delete("x-multi");
        return handler(request, env);
      },
      port: 0,
      hostname: "127.0.0.1",
    }) as Server;
    await once(server, "listening");
    try {
      for (let i = 0; i < 3; i++) {
        const keys = JSON.parse(await rawBody(baseUrl(server), head)) as Record<string, string>;
        expect(keys).toMatchObject({ HTTP_X_ADDED: "yes", HTTP_HOST: "example.test" });
        expect(keys).not.toHaveProperty("HTTP_X_MULTI");
      }
    } finally {
      await closeServer(server);
    }
  });
});
