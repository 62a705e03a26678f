/**
 * The demo's Fastify app: a few JSON routes, validated by Fastify's own JSON schemas. It is an
 * ordinary Fastify app — it can `listen()` by itself — and the demo mounts it at `/api` through
 * the adapter. Routes are registered from `/`: the adapter gives Fastify the path below the mount.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { environOf } from "./fastify-adapter.js";

export function createApi(): FastifyInstance {
  const api = Fastify({ logger: false });

  api.get("/", async (request) => {
    // Under the gateway, SCRIPT_NAME says where we are mounted; serving itself, we are at the root.
    const base = environOf(request.raw)?.SCRIPT_NAME ?? "";
    return {
      routes: [`GET ${base}/hello?name=`, `POST ${base}/echo`, `GET ${base}/items/:id`],
    };
  });

  api.get(
    "/hello",
    {
      schema: {
        querystring: {
          type: "object",
          properties: { name: { type: "string", minLength: 1, maxLength: 100 } },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const { name = "World" } = request.query as { name?: string };
      return { greeting: `Hello, ${name}!` };
    },
  );

  api.post(
    "/echo",
    {
      schema: {
        body: {
          type: "object",
          required: ["message"],
          properties: {
            message: { type: "string", maxLength: 1000 },
            repeat: { type: "integer", minimum: 1, maximum: 10, default: 1 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const { message, repeat } = request.body as { message: string; repeat: number };
      return reply.code(201).send({ echo: Array<string>(repeat).fill(message) });
    },
  );

  api.get(
    "/items/:id",
    {
      schema: {
        params: {
          type: "object",
          properties: { id: { type: "integer", minimum: 1 } },
          required: ["id"],
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: number };
      if (id > 3) return reply.code(404).send({ error: "Not Found", message: `no item ${id}` });
      return { id, name: ["apple", "pear", "plum"][id - 1] };
    },
  );

  return api;
}
