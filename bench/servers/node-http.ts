/**
 * Contestant: raw `node:http` — the floor every Node server builds on. With a worker count it
 * runs the same handler under Node's `cluster` (the primary accepts, workers serve).
 *
 *   [KEEP_ALIVE_S=N] node dist/bench/servers/node-http.js PORT [WORKERS]
 *
 * KEEP_ALIVE_S lengthens the keep-alive timeout (Node's default is 5 s), for the bench's
 * section that holds thousands of idle connections.
 */
import { createServer } from "node:http";
import { serveFromArgs } from "./args.js";

const body = Buffer.from("Hello, World!");

await serveFromArgs(process.argv.slice(2), (port) => {
  const server = createServer((_request, response) => {
    response.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    response.end(body);
  });
  const keepAlive = Number(process.env.KEEP_ALIVE_S ?? 0);
  if (keepAlive > 0) server.keepAliveTimeout = keepAlive * 1000;
  server.listen(port, "127.0.0.1");
});
