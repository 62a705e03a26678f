/**
 * What a fetch handler may do with the lazy Request and the light Response `fromFetch` gives it
 * (app/lazy-fetch.ts) — everything it may do with undici's own. CI runs this file on Node 20
 * and on Node 24, whose undici recognises a Request by a private field.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromFetch, type FetchHandler } from "../../../app/fetch-adapter.js";
import {
  fetchGlobalsInstalled,
  knownBody,
  LazyRequest,
  LightResponse,
} from "../../../app/lazy-fetch.js";
import { callApp, makeEnviron, type TestRequest } from "../../../tsgi/testing.js";
import { validate } from "../../../tsgi/validate.js";

/** Runs `handler` on one request through fromFetch; returns what it returned as text. */
async function serve(handler: FetchHandler, request: TestRequest = {}): Promise<string> {
  const response = await callApp(validate(fromFetch(handler)), request);
  if (response.code !== 200) throw new Error(`status ${response.status}: ${response.text}`);
  return response.text;
}

const post = (body: string, contentType = "text/plain"): TestRequest => ({
  method: "POST",
  path: "/in?x=1",
  headers: { "Content-Type": contentType, "X-Thing": "thing" },
  body,
});

// A server the handlers forward to: answers with what it got.
let echo: Server;
let echoUrl: string;
beforeAll(async () => {
  echo = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      response.setHeader("Content-Type", "application/json");
      response.end(
        JSON.stringify({
          method: request.method,
          url: request.url,
          thing: request.headers["x-thing"],
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
  });
  echo.listen(0, "127.0.0.1");
  await once(echo, "listening");
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
});
afterAll(() => echo.close());

describe("the lazy Request", () => {
  it("is a Request to instanceof, and answers method, url and headers", async () => {
    const seen = await serve(
      (request) =>
        new Response(
          JSON.stringify([
            request instanceof Request,
            request instanceof LazyRequest,
            request.method,
            request.url,
            request.headers.get("x-thing"),
            request.bodyUsed,
          ]),
        ),
      post("hi"),
    );
    expect(JSON.parse(seen)).toEqual([
      true,
      true,
      "POST",
      "http://localhost/in?x=1",
      "thing",
      false,
    ]);
    expect(fetchGlobalsInstalled()).toBe(true);
  });

  it("reads the body as text", async () => {
    expect(await serve(async (request) => new Response(await request.text()), post("a body"))).toBe(
      "a body",
    );
  });

  it("reads the body as JSON", async () => {
    const body = await serve(
      async (request) => new Response(String(((await request.json()) as { n: number }).n + 1)),
      post('{"n": 41}', "application/json"),
    );
    expect(body).toBe("42");
  });

  it("reads the body as a form", async () => {
    const body = await serve(
      async (request) => new Response((await request.formData()).getAll("a").join("+")),
      post("a=1&b=2&a=3", "application/x-www-form-urlencoded"),
    );
    expect(body).toBe("1+3");
  });

  it("reads the body as a stream", async () => {
    const body = await serve(async (request) => {
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of request.body!) text += decoder.decode(chunk, { stream: true });
      return new Response(`${text} ${request.bodyUsed}`);
    }, post("streamed"));
    expect(body).toBe("streamed true");
  });

  it("has no body for a GET", async () => {
    expect(await serve((request) => new Response(String(request.body)))).toBe("null");
  });

  it("clones, and both copies read the body", async () => {
    const body = await serve(async (request) => {
      const copy = request.clone();
      return new Response(
        `${await copy.text()}|${await request.text()}|${copy instanceof Request}`,
      );
    }, post("twice"));
    expect(body).toBe("twice|twice|true");
  });

  it("goes into new Request(request, init), the init winning", async () => {
    const body = await serve(async (request) => {
      const changed = new Request(request, { method: "PUT", headers: { "X-Thing": "other" } });
      return new Response(
        `${changed.method} ${changed.url} ${changed.headers.get("x-thing")} ${await changed.text()}`,
      );
    }, post("kept"));
    expect(body).toBe("PUT http://localhost/in?x=1 other kept");
  });

  it("keeps header changes made before the real Request is built", async () => {
    const body = await serve(async (request) => {
      request.headers.set("x-added", "yes");
      const real = new Request(request); // takes the body over, as the standard says
      return new Response(
        `${real.headers.get("x-added")} ${await real.text()} ${request.bodyUsed}`,
      );
    }, post("body"));
    expect(body).toBe("yes body true");
  });

  it("forwards with fetch(request) to another server: method, headers and body", async () => {
    const body = await serve(
      (request) => fetch(new Request(echoUrl + new URL(request.url).pathname, request)),
      post("forwarded"),
    );
    expect(JSON.parse(body)).toEqual({
      method: "POST",
      url: "/in",
      thing: "thing",
      body: "forwarded",
    });
  });

  it("is taken by fetch() itself", async () => {
    // The request's own URL points at the echo server: the whole request is passed on.
    const port = new URL(echoUrl).port;
    const body = await serve((request) => fetch(request), {
      ...post("as is"),
      headers: { "Content-Type": "text/plain", "X-Thing": "thing", Host: `127.0.0.1:${port}` },
    });
    expect(JSON.parse(body)).toMatchObject({ method: "POST", url: "/in?x=1", body: "as is" });
  });

  it("aborts its signal when the server gives up on the response, asked for before or after", async () => {
    const signals: AbortSignal[] = [];
    const app = fromFetch((request) => {
      signals.push(request.signal);
      const endless = new ReadableStream<Uint8Array>({
        pull: (controller) => controller.enqueue(new Uint8Array([0x2e])),
      });
      return new Response(endless);
    });
    const late: LazyRequest[] = [];
    const lateApp = fromFetch((request) => {
      late.push(request as unknown as LazyRequest);
      return new Response(new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array([1])) }));
    });
    for (const each of [app, lateApp]) {
      const body = (await each(
        makeEnviron(),
        () => () => undefined,
      )) as AsyncIterable<Uint8Array> & { close(): Promise<void> };
      await body[Symbol.asyncIterator]().next();
      await body.close();
    }
    expect(signals[0]!.aborted).toBe(true);
    expect((late[0] as unknown as Request).signal.aborted).toBe(true);
  });

  it("shows the real Request to util.inspect", async () => {
    const { inspect } = await import("node:util");
    const body = await serve((request) => new Response(inspect(request)), post("x"));
    expect(body).toContain("http://localhost/in?x=1");
  });
});

describe("the light Response", () => {
  it("is a Response to instanceof, with status, headers and ok from its arguments", () => {
    const response = new Response("hello", { status: 201, headers: { "X-A": "1" } });
    expect(LightResponse.isLight(response)).toBe(true);
    expect(response instanceof Response).toBe(true);
    expect([response.status, response.ok, response.headers.get("x-a")]).toEqual([201, true, "1"]);
    expect(response.headers.get("content-type")).toBe("text/plain;charset=UTF-8");
    expect(new TextDecoder().decode(knownBody(response)!)).toBe("hello");
  });

  it("keeps a copy of a byte body, as the fetch standard does", async () => {
    const bytes = new TextEncoder().encode("abc");
    const response = new Response(bytes);
    bytes[0] = 0x7a;
    expect(await response.text()).toBe("abc");
  });

  it("reads its body as the native one does, after which its bytes are no longer 'known'", async () => {
    const response = new Response("read me", { headers: { "Content-Type": "text/x-thing" } });
    expect(await response.clone().text()).toBe("read me");
    expect(await response.text()).toBe("read me");
    expect(response.bodyUsed).toBe(true);
    expect(knownBody(response)).toBeUndefined();
    expect(response.headers.get("content-type")).toBe("text/x-thing");
  });

  it("leaves a stream body, statusText and bad statuses to the native Response", () => {
    expect(knownBody(new Response(new ReadableStream()))).toBeUndefined();
    expect(new Response("x", { statusText: "Fine" }).statusText).toBe("Fine");
    expect(() => new Response("x", { status: 99 })).toThrow(RangeError);
    expect(() => new Response("x", { status: 204 })).toThrow(TypeError);
    expect(Response.json({ a: 1 }).headers.get("content-type")).toBe("application/json");
  });

  it("is written without a stream: fromFetch returns its bytes as an array", async () => {
    const body = await fromFetch(() => new Response("at once"))(
      makeEnviron(),
      () => () => undefined,
    );
    expect(Array.isArray(body)).toBe(true);
  });
});

describe("fromFetch(handler, { lazy: false })", () => {
  it("gives the handler a native Request", async () => {
    const response = await callApp(
      validate(
        fromFetch((request) => new Response(String(request instanceof LazyRequest)), {
          lazy: false,
        }),
      ),
    );
    expect(response.text).toBe("false");
  });
});
