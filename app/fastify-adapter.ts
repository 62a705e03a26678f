/**
 * Any Fastify instance as a TSGI application: the framework on one side of the contract, any
 * TSGI server on the other — PEP 3333's promise, with Fastify as the framework.
 *
 * Fastify's own request path is `fastify.routing(req, res)`, the Node request listener it would
 * give `http.createServer`; `fromRequestListener` (app/node-adapter.ts, shared with Express)
 * calls it with stand-ins for Node's request and response. The only Fastify-specific step is
 * waiting for `ready()`, which finalises routes and hooks before `routing` may run.
 *
 * Fastify sees the path below the mount; handlers that need the mount (to build links) read it
 * with `environOf(request.raw)?.SCRIPT_NAME`.
 */
import type { FastifyInstance } from "fastify";
import type { Application } from "@foobar/tsgi";
import { fromRequestListener } from "./node-adapter.js";

export { environOf } from "./node-adapter.js";

/** Wraps a Fastify instance (routes registered, not listening) as a TSGI application. */
export function fromFastify(instance: FastifyInstance): Application {
  const serve = fromRequestListener(instance.routing);
  let ready: Promise<void> | undefined;
  let isReady = false;
  return function fastifyApplication(environ, startResponse) {
    if (isReady) return serve(environ, startResponse);
    // Route contexts and hooks are finalised by ready(); routing() must not run before it.
    ready ??= new Promise<void>((resolve, reject) =>
      instance.ready((error) => (error ? reject(error) : resolve())),
    ).then(() => {
      isReady = true;
    });
    return ready.then(() => serve(environ, startResponse));
  };
}
