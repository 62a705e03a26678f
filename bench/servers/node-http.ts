/**
 * Contestant: raw `node:http` — the floor every Node server builds on. With a worker count it
 * runs the same handler under Node's `cluster` (the primary accepts, workers serve).
 *
 *   node dist/bench/servers/node-http.js PORT [WORKERS]
 */
import { createServer } from "node:http";
import { serveFromArgs } from "./args.js";

const body = Buffer.from("Hello, World!");

await serveFromArgs(process.argv.slice(2), (port) => {
  createServer((_request, response) => {
    response.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    response.end(body);
  }).listen(port, "127.0.0.1");
});
