/**
 * The bench's Hono and Express hello apps — the same 13-byte `Hello, World!` as every other
 * contestant — served two ways: by their own Node server (`hono.ts`, `express.ts`), and by
 * foobar through their adapters, from this module's `honoViaFetch` and `expressViaAdapter`
 * exports (`gateway … dist/bench/servers/hello-frameworks.js:honoViaFetch`).
 *
 * Two more exports are the ways `fromFetch` was measured against (issue #27):
 * `honoViaFetchEager` (`{ lazy: false }`: a full undici Request per call, no globals replaced)
 * and `honoViaNodeListener` (@hono/node-server's own listener over the gateway's Node-style
 * stand-ins, app/node-adapter.ts). Each export is built on its first request, so a worker holds
 * only its own way's globals.
 */
import { getRequestListener } from "@hono/node-server";
import express, { type Express } from "express";
import { Hono } from "hono";
import { fromExpress } from "@foobar/app/express-adapter";
import { fromFetch } from "@foobar/app/fetch-adapter";
import { fromRequestListener } from "@foobar/app/node-adapter";
import type { Application } from "@foobar/tsgi";

export function helloHono(): Hono {
  const app = new Hono();
  app.get("/", (c) => c.text("Hello, World!"));
  return app;
}

export function helloExpress(): Express {
  const app = express();
  app.get("/", (_req, res) => void res.type("text/plain").send("Hello, World!"));
  return app;
}

/** An application made by `make` on its first request. */
function builtOnFirstUse(make: () => Application): Application {
  let app: Application | undefined;
  return (environ, startResponse) => (app ??= make())(environ, startResponse);
}

export const honoViaFetch = builtOnFirstUse(() => fromFetch(helloHono().fetch));
export const honoViaFetchEager = builtOnFirstUse(() =>
  fromFetch(helloHono().fetch, { lazy: false }),
);
export const honoViaNodeListener = builtOnFirstUse(() =>
  fromRequestListener(getRequestListener(helloHono().fetch)),
);
export const expressViaAdapter = builtOnFirstUse(() => fromExpress(helloExpress()));
