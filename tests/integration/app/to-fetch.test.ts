/**
 * `toFetch`: a TSGI application served by a fetch-based server (`@hono/node-server`) answers
 * as it does on the gateway — the demo app itself (whose Hono and Express mounts then cross two
 * adapters), a POSTed body read from `tsgi.input`, a streamed body with write() and a generator,
 * repeated Set-Cookie, and an app that fails. The app runs under validate() on both servers, so
 * toFetch is checked as a TSGI server just as the gateway is.
 */
import { once } from "node:events";
import type { Server } from "node:http";
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
