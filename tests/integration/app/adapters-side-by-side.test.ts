/**
 * Hono and Express, each serving itself and mounted under the gateway through its adapter
 * (`fromFetch`, `fromExpress`), answer the same requests identically: status, headers (repeated
 * Set-Cookie included; minus the per-connection ones each server adds) and body — a POSTed
 * body, a streamed response and the errors each framework produces itself included.
 * Each adapter runs under validate() on both sides: as the gateway's app, and around the router.
 */
import { once } from "node:events";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExpressApp } from "../../../app/express-app.js";
import { fromExpress } from "../../../app/express-adapter.js";
import { fromFetch } from "../../../app/fetch-adapter.js";
import { createHonoApp } from "../../../app/hono-app.js";
import { urlMap } from "../../../app/routing.js";
import { validate } from "../../../tsgi/validate.js";
import { startGateway, type RunningGateway } from "../../helpers/gateway.js";
import { ask, baseUrl, closeServer } from "../../helpers/side-by-side.js";

let honoServer: Server;
let expressServer: Server;
let gateway: RunningGateway;
const base = { hono: "", express: "", gateway: "" };

beforeAll(async () => {
  honoServer = serve({ fetch: createHonoApp().fetch, port: 0, hostname: "127.0.0.1" }) as Server;
  expressServer = createExpressApp().listen(0, "127.0.0.1");
  await Promise.all([once(honoServer, "listening"), once(expressServer, "listening")]);
  base.hono = baseUrl(honoServer);
  base.express = baseUrl(expressServer);
  const demo = validate(
    urlMap({
      "/hono": validate(fromFetch(createHonoApp().fetch)),
      "/express": validate(fromExpress(createExpressApp())),
    }),
  );
  gateway = await startGateway(demo);
  base.gateway = gateway.url;
});

afterAll(async () => {
  await Promise.all([closeServer(honoServer), closeServer(expressServer), gateway.close()]);
});

const json = { "content-type": "application/json" };
const requests: [string, string, RequestInit][] = [
  ["GET /hello", "/hello", {}],
  ["GET /hello?name=Zo%C3%AB (UTF-8 in the query)", "/hello?name=Zo%C3%AB", {}],
  ["POST /echo", "/echo", { method: "POST", headers: json, body: '{"message":"héllo"}' }],
  [
    "POST /echo, 200 kB",
    "/echo",
    { method: "POST", headers: json, body: JSON.stringify({ message: "x".repeat(200_000) }) },
  ],
  [
    "POST /echo without a message (the app's 400)",
    "/echo",
    { method: "POST", headers: json, body: "{}" },
  ],
  [
    "POST /echo malformed JSON (the framework's error)",
    "/echo",
    { method: "POST", headers: json, body: "{nope" },
  ],
  ["GET /stream (a streamed body)", "/stream", {}],
  ["GET /cookies (two Set-Cookie headers)", "/cookies", {}],
  ["GET /boom (the framework's 500)", "/boom", {}],
  ["GET /nowhere (the framework's 404)", "/nowhere", {}],
  ["HEAD /hello", "/hello", { method: "HEAD" }],
];

describe.each(["hono", "express"] as const)("%s", (framework) => {
  it.each(requests)("%s: answers as it does serving itself", async (_name, path, init) => {
    const [expected, actual] = await Promise.all([
      ask(base[framework], path, init),
      ask(`${base.gateway}/${framework}`, path, init),
    ]);
    if (framework === "express") {
      // Express's cookie helper writes an Expires date from the clock; a second may pass.
      for (const answer of [expected, actual])
        for (const header of answer.headers) header[1] = header[1].replace(/; Expires=[^;]*/, "");
    }
    if (framework === "hono") {
      // `c.text(s)` is `new Response(s)`, whose type comes from the global Response class: the
      // standard one (undici, as in Deno and Bun) and fromFetch's light one say
      // `text/plain;charset=UTF-8`; @hono/node-server's says `text/plain; charset=UTF-8`. Both
      // servers run in this process, and each replaces the globals, so either side may get
      // either class. The same type; not the adapter.
      for (const answer of [expected, actual])
        for (const header of answer.headers)
          if (header[1] === "text/plain;charset=UTF-8") header[1] = "text/plain; charset=UTF-8";
    }
    expect(actual).toEqual(expected);
  });

  it("sees its mount under the gateway, and serving itself, the root", async () => {
    const [native, mounted] = await Promise.all([
      ask(base[framework], "/"),
      ask(`${base.gateway}/${framework}`, "/"),
    ]);
    expect(JSON.parse(native.body).routes[0]).toBe("GET /hello?name=");
    expect(JSON.parse(mounted.body).routes[0]).toBe(`GET /${framework}/hello?name=`);
  });
});
