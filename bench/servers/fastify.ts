/**
 * Contestant: Fastify, the fast Node framework — one process, or N workers under `cluster`.
 *
 *   node dist/bench/servers/fastify.js PORT [WORKERS]
 */
import cluster from "node:cluster";
import Fastify from "fastify";
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
  const app = Fastify({ logger: false });
  app.get("/", (_request, reply) => {
    void reply.type("text/plain; charset=utf-8").send(body);
  });
  await app.listen({ port, host: "127.0.0.1" });
}
