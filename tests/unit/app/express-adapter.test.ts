import express from "express";
import { describe, expect, it, vi } from "vitest";
import { environOf, fromExpress } from "../../../app/express-adapter.js";
import { fromRequestListener } from "../../../app/node-adapter.js";
import { callApp, makeEnviron } from "../../../tsgi/testing.js";
import type { ResponseBody } from "../../../tsgi/types.js";
import { validate } from "../../../tsgi/validate.js";

describe("fromExpress", () => {
  it("runs Express's own helpers on the request it rebuilds from the environ", async () => {
    const app = express();
    app.set("env", "production");
    app.all("/*splat", (req, res) => {
      res.json({
        method: req.method,
        url: req.url,
        path: req.path,
        query: req.query,
        ip: req.ip,
        protocol: req.protocol,
        host: req.get("host"),
        mount: environOf(req)?.SCRIPT_NAME,
      });
    });
    const response = await callApp(validate(fromExpress(app)), {
      method: "DELETE",
      path: "/shop/caf%C3%A9?tag=a&tag=b",
      headers: { "Content-Type": "application/json" },
      environ: {
        SCRIPT_NAME: "/shop",
        PATH_INFO: "/caf\xc3\xa9",
        REMOTE_ADDR: "192.0.2.7",
        "tsgi.url_scheme": "https",
      },
    });
    expect(JSON.parse(response.text)).toEqual({
      method: "DELETE",
      url: "/caf%C3%A9?tag=a&tag=b",
      path: "/caf%C3%A9",
      query: { tag: ["a", "b"] },
      ip: "192.0.2.7",
      protocol: "https",
      host: "localhost",
      mount: "/shop",
    });
  });

  it("parses a chunked request body (no Content-Length) with express.json()", async () => {
    const app = express();
    app.post("/", express.json(), (req, res) => void res.json(req.body));
    const response = await callApp(validate(fromExpress(app)), {
      method: "POST",
      headers: { "Content-Type": "application/json", "Transfer-Encoding": "chunked" },
      body: '{"chunked":true}',
      environ: { CONTENT_LENGTH: undefined },
    });
    expect(JSON.parse(response.text)).toEqual({ chunked: true });
  });

  it("runs Express sub-apps and routers mounted inside the app", async () => {
    const admin = express();
    admin.get("/users", (req, res) => void res.send(`users under ${req.baseUrl}`));
    const app = express();
    app.use("/admin", admin);
    const response = await callApp(validate(fromExpress(app)), { path: "/admin/users" });
    expect(response.text).toBe("users under /admin");
  });

  it("tells Express when the server gives up on a streaming response", async () => {
    const app = express();
    const closed = vi.fn();
    app.get("/", (req, res) => {
      res.type("text/plain");
      res.on("close", closed);
      const timer = setInterval(() => res.write("tick\n"), 2);
      req.on("close", () => clearInterval(timer));
    });
    const body = (await validate(fromExpress(app))(
      makeEnviron(),
      () => () => undefined,
    )) as ResponseBody & AsyncIterable<Uint8Array>;
    const iterator = body[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    await body.close?.();
    await vi.waitFor(() => expect(closed).toHaveBeenCalled());
  });

  it("can wrap the same app twice (the prototypes are rebased once)", async () => {
    const app = express();
    app.get("/", (_req, res) => void res.send("once"));
    fromExpress(app);
    const response = await callApp(validate(fromExpress(app)));
    expect(response.text).toBe("once");
  });
});

describe("fromRequestListener", () => {
  it("serves a plain node:http handler", async () => {
    const app = fromRequestListener((req, res) => {
      res.setHeader("Set-Cookie", ["a=1", "b=2"]);
      res.writeHead(202, { "Content-Type": "text/plain" });
      res.end(`${req.method} ${req.url}`);
    });
    const response = await callApp(validate(app), { method: "POST", path: "/x?y=1" });
    expect(response.status).toBe("202 Accepted");
    expect(response.headers).toEqual([
      ["Set-Cookie", "a=1"],
      ["Set-Cookie", "b=2"],
      ["Content-Type", "text/plain"],
    ]);
    expect(response.text).toBe("POST /x?y=1");
  });
});
