/**
 * Raw `node:http` serving the body and upload routes of `bodies.ts` — what foobar's
 * `bodies-app.ts` is measured against. Node's own idioms: `res.end(buffer)`, `pipe()` of a
 * stream, `createReadStream().pipe()` of a file, `data` events for an upload.
 *
 *   BENCH_BODY_DIR=DIR [KEEP_ALIVE_S=N] node dist/bench/servers/bodies-node.js PORT [WORKERS]
 */
import { createReadStream } from "node:fs";
import { createServer } from "node:http";
import { Readable } from "node:stream";
import { serveFromArgs } from "./args.js";
import {
  BODY_SIZES,
  bodiesInMemory,
  bodyDirFromEnv,
  bodyFile,
  chunksOf,
  parseBodyPath,
} from "./bodies.js";

const HELLO = Buffer.from("Hello, World!");
const OCTETS = "application/octet-stream";

await serveFromArgs(process.argv.slice(2), (port) => {
  const dir = bodyDirFromEnv();
  const bodies = bodiesInMemory();
  const server = createServer((request, response) => {
    if (request.method === "POST" && request.url === "/upload") {
      let received = 0;
      request.on("data", (chunk: Buffer) => (received += chunk.length));
      request.on("end", () => {
        response.writeHead(200, { "Content-Type": "text/plain" });
        response.end(String(received));
      });
      return;
    }
    const route = parseBodyPath(request.url ?? "");
    if (route === undefined) {
      response.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      response.end(HELLO);
      return;
    }
    const body = bodies.get(route.size)!;
    if (route.kind === "array") {
      response.writeHead(200, { "Content-Type": OCTETS });
      response.end(body);
    } else if (route.kind === "iter") {
      response.writeHead(200, { "Content-Type": OCTETS });
      Readable.from(chunksOf(body)).pipe(response);
    } else {
      response.writeHead(200, {
        "Content-Type": OCTETS,
        "Content-Length": String(BODY_SIZES[route.size]),
      });
      createReadStream(bodyFile(dir, route.size)).pipe(response);
    }
  });
  const keepAlive = Number(process.env.KEEP_ALIVE_S ?? 0);
  if (keepAlive > 0) server.keepAliveTimeout = keepAlive * 1000;
  server.listen(port, "127.0.0.1");
});
