/**
 * The Fastify app answers the same under the gateway (mounted at /api through the adapter) as
 * when Fastify serves it itself: status, headers (minus the per-connection ones each server
 * adds) and body.
 */
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { createApi } from "../../../app/api.js";
import { fromFastify } from "../../../app/fastify-adapter.js";
import { urlMap } from "../../../app/routing.js";
import { hello } from "../../../app/hello.js";
import { validate } from "../../../tsgi/validate.js";
import { serveApp, type Running } from "./servers.js";

/** Headers that describe the connection or the server, not the resource. */
const PER_SERVER = new Set(["date", "connection", "keep-alive", "server", "transfer-encoding"]);

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function ask(base: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(base + path, init);
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!PER_SERVER.has(name)) headers[name] = value;
  });
  return { status: response.status, headers, body: await response.text() };
}

let native: FastifyInstance;
let gateway: Running;
let nativeBase: string;
let gatewayBase: string;

beforeAll(async () => {
  native = createApi();
  await native.listen({ port: 0, host: "127.0.0.1" });
  nativeBase = `http://127.0.0.1:${(native.server.address() as AddressInfo).port}`;
  const demo = validate(urlMap({ "/": hello, "/api": validate(fromFastify(createApi())) }));
  gateway = await serveApp(demo);
  gatewayBase = `${gateway.url}/api`;
});

afterAll(async () => {
  await native.close();
  await gateway.close();
});

const json = { "content-type": "application/json" };

describe.each([
  ["GET /hello", "/hello", {}],
  ["GET /hello?name=Ada", "/hello?name=Ada", {}],
  ["GET /hello?name=Zo%C3%AB (UTF-8 in the query)", "/hello?name=Zo%C3%AB", {}],
  ["GET /hello with an unknown parameter", "/hello?nom=x", {}],
  ["GET /items/2", "/items/2", {}],
  ["GET /items/9 (app's 404)", "/items/9", {}],
  ["GET /items/abc (params schema 400)", "/items/abc", {}],
  ["GET /nowhere (Fastify's 404)", "/nowhere", {}],
  [
    "POST /echo",
    "/echo",
    { method: "POST", headers: json, body: JSON.stringify({ message: "hi", repeat: 2 }) },
  ],
  [
    "POST /echo missing message (body schema 400)",
    "/echo",
    { method: "POST", headers: json, body: JSON.stringify({ repeat: 2 }) },
  ],
  ["POST /echo malformed JSON", "/echo", { method: "POST", headers: json, body: "{nope" }],
  ["HEAD /hello", "/hello", { method: "HEAD" }],
] as [string, string, RequestInit][])("%s", (_name, path, init) => {
  it("answers as Fastify serving itself", async () => {
    const [expected, actual] = await Promise.all([
      ask(nativeBase, path, init),
      ask(gatewayBase, path, init),
    ]);
    expect(actual).toEqual(expected);
  });
});

describe("under the gateway", () => {
  it("sees its own mount in SCRIPT_NAME", async () => {
    const answer = await ask(gatewayBase, "/");
    expect(JSON.parse(answer.body)).toEqual({
      routes: ["GET /api/hello?name=", "POST /api/echo", "GET /api/items/:id"],
    });
  });

  it("streams a large POST body through tsgi.input", async () => {
    const message = "x".repeat(900);
    const answer = await ask(gatewayBase, "/echo", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ message, repeat: 10 }),
    });
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body)).toEqual({ echo: Array<string>(10).fill(message) });
  });

  it("sends no hop-by-hop headers from Fastify", async () => {
    const response = await fetch(gatewayBase + "/hello");
    expect(response.headers.get("transfer-encoding")).toBeNull();
    expect(response.headers.get("content-length")).toBe(
      String(Buffer.byteLength(await response.text())),
    );
  });
});
