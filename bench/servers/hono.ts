/**
 * Contestant: the bench's Hono hello app on its own Node server, `@hono/node-server`.
 *
 *   node dist/bench/servers/hono.js PORT [WORKERS]
 */
import { serve } from "@hono/node-server";
import { serveFromArgs } from "./args.js";
import { helloHono } from "./hello-frameworks.js";

await serveFromArgs(process.argv.slice(2), (port) => {
  serve({ fetch: helloHono().fetch, port, hostname: "127.0.0.1" });
});
