/**
 * Any Express app as a TSGI application, through Express's real request handling: the app is a
 * Node request listener (`app(req, res)` runs `app.handle`), so `fromRequestListener`
 * (app/node-adapter.ts, shared with Fastify) serves it with stand-ins for Node's objects.
 *
 * One Express habit needs care: `app.handle` re-parents every request and response onto
 * `app.request`/`app.response`, prototypes whose chains end in Node's IncomingMessage and
 * ServerResponse. Re-parented like that, a stand-in would lose its own methods (the ones that
 * read `tsgi.input` and turn `end()` into a body), so this adapter first rebases this app's two
 * prototypes onto the stand-ins (`rebaseOntoStandIns`). Express's helpers (`req.get`,
 * `res.send`, `res.json`, `res.cookie`, …) and its final handler (404, 500) run unchanged.
 *
 * The app then belongs to the adapter: do not also `listen()` with the same app object.
 * Express sees the path below the mount; a handler reads the mount with
 * `environOf(req)?.SCRIPT_NAME` (`req.baseUrl` stays Express's own, mounts within Express).
 */
import type { Express } from "express";
import type { Application } from "@foobar/tsgi";
import {
  fromRequestListener,
  rebaseOntoStandIns,
  type NodeRequestListener,
} from "./node-adapter.js";

export { environOf } from "./node-adapter.js";

/** Wraps an Express app (routes registered, not listening) as a TSGI application. */
export function fromExpress(app: Express): Application {
  rebaseOntoStandIns({ request: app.request, response: app.response });
  return fromRequestListener(app as unknown as NodeRequestListener);
}
