/**
 * The bench's Hono and Express hello apps — the same 13-byte `Hello, World!` as every other
 * contestant — served two ways: by their own Node server (`hono.ts`, `express.ts`), and by
 * foobar through their adapters, from this module's `honoViaFetch` and `expressViaAdapter`
 * exports (`gateway … dist/bench/servers/hello-frameworks.js:honoViaFetch`).
 */
import express, { type Express } from "express";
import { Hono } from "hono";
import { fromExpress } from "@foobar/app/express-adapter";
import { fromFetch } from "@foobar/app/fetch-adapter";

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

export const honoViaFetch = fromFetch(helloHono().fetch);
export const expressViaAdapter = fromExpress(helloExpress());
