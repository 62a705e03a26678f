/**
 * The demo's Hono app: an ordinary fetch-handler app (`app.fetch(request, env)`) that can run on
 * its own Node server (`@hono/node-server`) or anywhere fetch is spoken; the demo mounts it at
 * `/hono` through `fromFetch`.
 *
 * A fetch handler gets the whole URL the client used (`/hono/hello`): the fetch world has no
 * SCRIPT_NAME/PATH_INFO split. To run unchanged under any mount, this app routes on the path
 * below its mount — `PATH_INFO`, from the environ `fromFetch` passes as Hono's `env` — and on
 * the URL's path when it serves itself. It reads its mount from `c.env.SCRIPT_NAME`.
 */
import { Hono } from "hono";
import { setCookie } from "hono/cookie";
import { stream } from "hono/streaming";
import { quotePath } from "./environ-http.js";
import { isEnviron, toFetch } from "./fetch-adapter.js";
import { helloPage } from "./hello-page.js";
import { trail, trailOf } from "./middleware-trail.js";

/** The path Hono routes on: below the mount under TSGI, the URL's own path otherwise. */
function pathBelowMount(request: Request, options?: { env?: unknown }): string {
  const env = options?.env;
  if (isEnviron(env)) return quotePath(env.PATH_INFO) || "/";
  return new URL(request.url).pathname;
}

/** The TSGI hello page, reached through Hono and back (`toFetch`): its trail shows the way. */
const helloPageViaFetch = toFetch(trail("to-fetch")(helloPage));

export function createHonoApp(): Hono {
  const app = new Hono({ getPath: pathBelowMount });

  app.get("/", (c) => {
    const environ = isEnviron(c.env) ? c.env : undefined;
    const base = environ?.SCRIPT_NAME ?? "";
    return c.json({
      routes: [`GET ${base}/hello?name=`, `POST ${base}/echo`, `GET ${base}/page`],
      trail: environ === undefined ? [] : trailOf(environ),
    });
  });

  app.get("/hello", (c) => c.text(`Hello, ${c.req.query("name") ?? "World"}!`));

  app.post("/echo", async (c) => {
    const body = await c.req.json<{ message?: unknown }>(); // malformed JSON: Hono's own 500
    if (typeof body.message !== "string") return c.json({ error: "message must be a string" }, 400);
    return c.json({ echo: body.message, bytes: Buffer.byteLength(body.message) }, 201);
  });

  app.get("/stream", (c) => {
    c.header("Content-Type", "text/plain; charset=utf-8");
    return stream(c, async (out) => {
      for (const word of ["one\n", "two\n", "three\n"]) {
        await out.write(word);
        await out.sleep(5);
      }
    });
  });

  app.get("/cookies", (c) => {
    setCookie(c, "flavour", "oatmeal", { path: "/", httpOnly: true });
    setCookie(c, "size", "large", { path: "/", maxAge: 60 });
    c.header("Cache-Control", "no-store");
    return c.text("two cookies\n");
  });

  app.get("/boom", () => {
    throw new Error("the Hono route failed"); // Hono's own error handler answers 500
  });

  // The TSGI hello page, through Hono: the trail shows router → fetch-adapter → to-fetch.
  app.get("/page", (c) => helloPageViaFetch(c.req.raw, c.env));

  return app;
}
