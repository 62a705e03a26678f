/**
 * Contestant: Fastify, the fast Node framework — one process, or N workers under `cluster`.
 *
 *   node dist/bench/servers/fastify.js PORT [WORKERS]
 */
import Fastify from "fastify";
import { serveFromArgs } from "./args.js";

const body = Buffer.from("Hello, World!");

await serveFromArgs(process.argv.slice(2), async (port) => {
  const app = Fastify({ logger: false });
  app.get("/", (_request, reply) => {
    void reply.type("text/plain; charset=utf-8").send(body);
  });
  await app.listen({ port, host: "127.0.0.1" });
});
