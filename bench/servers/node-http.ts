/**
 * Contestant: raw `node:http` — the floor every Node server builds on. With a worker count it
 * runs the same handler under Node's `cluster` (the primary accepts, workers serve).
 *
 *   node dist/bench/servers/node-http.js PORT [WORKERS]
 */
import cluster from "node:cluster";
import { createServer } from "node:http";
import { parseServerArgs } from "./args.js";

const { port, workers } = parseServerArgs(process.argv.slice(2));
const body = Buffer.from("Hello, World!");

if (workers > 0 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on("SIGTERM", () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else {
  createServer((_request, response) => {
    response.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    response.end(body);
  }).listen(port, "127.0.0.1");
}
