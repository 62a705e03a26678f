/**
 * The demo's Express app: ordinary Express 5 (it can `listen()` by itself); the demo mounts it
 * at `/express` through `fromExpress`. Routes are registered from `/`: like the Fastify app, it
 * sees the path below its mount, and reads the mount with `environOf(req)?.SCRIPT_NAME`.
 *
 * `env` is `production`, so Express's own error pages never show a stack trace to the client.
 */
import express, { type Express } from "express";
import { environOf } from "./express-adapter.js";
import { trailOf } from "./middleware-trail.js";

export function createExpressApp(): Express {
  const app = express();
  app.set("env", "production");
  // Express announces itself (`X-Powered-By: Express`) unless told not to: that tells a client
  // only which framework's known bugs to try (the gateway's own Server header has no version).
  app.disable("x-powered-by");

  app.get("/", (req, res) => {
    const environ = environOf(req);
    const base = environ?.SCRIPT_NAME ?? "";
    res.json({
      routes: [`GET ${base}/hello?name=`, `POST ${base}/echo`, `GET ${base}/stream`],
      trail: environ === undefined ? [] : trailOf(environ),
    });
  });

  app.get("/hello", (req, res) => {
    const name = typeof req.query["name"] === "string" ? req.query["name"] : "World";
    res.type("text/plain").send(`Hello, ${name}!`);
  });

  // express.json(): a malformed body is Express's own 400 page.
  app.post("/echo", express.json(), (req, res) => {
    const message: unknown = (req.body as { message?: unknown } | undefined)?.message;
    if (typeof message !== "string") {
      res.status(400).json({ error: "message must be a string" });
      return;
    }
    res.status(201).json({ echo: message, bytes: Buffer.byteLength(message) });
  });

  app.get("/stream", (_req, res) => {
    res.type("text/plain");
    const words = ["one\n", "two\n", "three\n"];
    const next = () => {
      const word = words.shift();
      if (word === undefined) res.end();
      else {
        res.write(word);
        setTimeout(next, 5);
      }
    };
    next();
  });

  app.get("/cookies", (_req, res) => {
    res.cookie("flavour", "oatmeal", { path: "/", httpOnly: true });
    res.cookie("size", "large", { path: "/", maxAge: 60_000 });
    res.set("Cache-Control", "no-store").send("two cookies\n");
  });

  app.get("/boom", () => {
    throw new Error("the Express route failed"); // Express's own 500 page
  });

  return app;
}
