import { Readable } from "node:stream";
import Fastify from "fastify";
import { describe, expect, it, vi } from "vitest";
import { createApi } from "../../../app/api.js";
import { environOf, fromFastify } from "../../../app/fastify-adapter.js";
import { callApp, makeEnviron } from "../../../tsgi/testing.js";
import { validate } from "../../../tsgi/validate.js";
import type { HeaderList, ResponseBody } from "../../../tsgi/types.js";

// The adapter is an application: validated on its server side (Fastify is not TSGI inside).
const api = validate(fromFastify(createApi()));

describe("fromFastify", () => {
  it("answers a GET with Fastify's status, headers and JSON body", async () => {
    const response = await callApp(api, { path: "/hello?name=Ada" });
    expect(response.status).toBe("200 OK");
    expect(response.header("content-type")).toBe("application/json; charset=utf-8");
    expect(JSON.parse(response.text)).toEqual({ greeting: "Hello, Ada!" });
    expect(response.header("content-length")).toBe(String(response.body.length));
  });

  it("reads a POSTed JSON body from tsgi.input", async () => {
    const response = await callApp(api, {
      method: "POST",
      path: "/echo",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message: "hi", repeat: 3 }),
    });
    expect(response.status).toBe("201 Created");
    expect(JSON.parse(response.text)).toEqual({ echo: ["hi", "hi", "hi"] });
  });

  it("answers a schema violation with Fastify's 400", async () => {
    const response = await callApp(api, {
      method: "POST",
      path: "/echo",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ repeat: 2 }),
    });
    expect(response.status).toBe("400 Bad Request");
    expect(JSON.parse(response.text)).toMatchObject({
      statusCode: 400,
      code: "FST_ERR_VALIDATION",
    });
  });

  it("gives Fastify the path below the mount, and the mount through environOf()", async () => {
    const response = await callApp(api, {
      path: "/api/",
      environ: { SCRIPT_NAME: "/api", PATH_INFO: "/" },
    });
    expect(JSON.parse(response.text)).toEqual({
      routes: ["GET /api/hello?name=", "POST /api/echo", "GET /api/items/:id"],
    });
  });

  it("rebuilds the request Fastify sees from the environ", async () => {
    const instance = Fastify();
    instance.all("/*", async (request) => ({
      method: request.method,
      url: request.url,
      headers: request.headers,
      ip: request.ip,
      protocol: request.protocol,
      hasEnviron: environOf(request.raw) !== undefined,
    }));
    const response = await callApp(validate(fromFastify(instance)), {
      method: "PUT",
      path: "/caf%C3%A9/a%20b?x=%2F&y=1",
      headers: { "X-Thing": "1", Connection: "keep-alive, X-Thing", "Content-Type": "text/plain" },
      body: "hello",
      environ: { "tsgi.url_scheme": "https", REMOTE_ADDR: "192.0.2.7" },
    });
    expect(JSON.parse(response.text)).toEqual({
      method: "PUT",
      url: "/caf%C3%A9/a%20b?x=%2F&y=1",
      headers: { host: "localhost", "content-type": "text/plain", "content-length": "5" },
      ip: "192.0.2.7",
      protocol: "https",
      hasEnviron: true,
    });
  });

  it("strips the hop-by-hop headers a Fastify route sets", async () => {
    const instance = Fastify();
    instance.get("/", async (_request, reply) =>
      reply.header("Connection", "close").header("Keep-Alive", "timeout=5").send("ok"),
    );
    const response = await callApp(validate(fromFastify(instance)));
    expect(response.text).toBe("ok");
    expect(response.header("connection")).toBeUndefined();
    expect(response.header("keep-alive")).toBeUndefined();
  });

  it("streams a reply stream chunk by chunk", async () => {
    const instance = Fastify();
    instance.get("/", async (_request, reply) =>
      reply.type("text/plain").send(Readable.from(["one ", "two ", "three"])),
    );
    const response = await callApp(validate(fromFastify(instance)));
    expect(response.text).toBe("one two three");
    expect(response.header("transfer-encoding")).toBeUndefined();
  });

  it("aborts Fastify's side when the server closes the body early", async () => {
    const instance = Fastify();
    let destroyed = false;
    let aborted = false;
    instance.addHook("onRequestAbort", (_request, done) => {
      aborted = true;
      done();
    });
    instance.get("/", async (_request, reply) => {
      let n = 0;
      const endless = new Readable({
        read() {
          this.push(Buffer.from(`chunk ${n++}\n`));
        },
        destroy(error, callback) {
          destroyed = true;
          callback(error);
        },
      });
      return reply.type("text/plain").send(endless);
    });
    const app = validate(fromFastify(instance));
    let headers: HeaderList = [];
    const body = (await app(makeEnviron(), (_status, list) => {
      headers = list;
      return () => undefined;
    })) as ResponseBody & AsyncIterable<Uint8Array>;
    const iterator = body[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    expect(headers).toContainEqual(["content-type", "text/plain"]);
    await body.close?.();
    await vi.waitFor(() => {
      expect(destroyed).toBe(true);
      expect(aborted).toBe(true);
    });
  });

  it("turns a Fastify handler error into Fastify's own 500", async () => {
    const instance = Fastify();
    instance.get("/", async () => {
      throw new Error("boom");
    });
    const response = await callApp(validate(fromFastify(instance)));
    expect(response.code).toBe(500);
    expect(JSON.parse(response.text)).toMatchObject({ statusCode: 500, message: "boom" });
  });
});
